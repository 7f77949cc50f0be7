package main

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// historyCode fills the kernel's history: 1,000 stdout entries of about 80
// characters, one line each on a terminal of 80 columns or more.
const historyCode = `for i in range(1000):
    print("history line %d of the bench transcript: " % i + "abcdefgh" * 5)
`

// attachTimeout bounds the wait for one client to show a marker.
const attachTimeout = 20 * time.Second

// target is a daemon under load with a control connection that sends the input.
type target struct {
	opts    *options
	d       *daemon
	dl      *dialer
	control *ssh.Client
}

func (w *workspace) startTarget(opts *options) (*target, error) {
	home, err := w.newHome()
	if err != nil {
		return nil, err
	}
	d, err := w.start(home)
	if err != nil {
		return nil, err
	}
	t := &target{opts: opts, d: d}
	if t.dl, err = d.dialer(); err == nil {
		t.control, err = t.dl.dial(nil)
	}
	if err == nil {
		_, err = mustExec(t.control, historyCode)
	}
	if err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *target) close() {
	if t.control != nil {
		t.control.Close()
	}
	if err := t.d.stop(); err != nil {
		logf("%v", err)
	}
}

// execFigure times `exec bench 1+1`, each in a new session on the open control
// connection, against a session that runs a command which exits at once. The
// daemon has no command that does nothing: an empty command line gets "no
// command given" and exit status 2 without reaching any kernel, so it costs the
// same SSH work (channel open, exec request, identity lookup, session log line,
// command tree, exit status, close) and only that. A bare channel open, with no
// request at all, is measured too as the floor.
func (t *target) execFigure() ([]figure, error) {
	var execs, empties, opens samples
	for i := -t.opts.warmup; i < t.opts.execN; i++ {
		e, err := t.timeExec("exec "+kernelName+" 1+1", "2\n", 0)
		if err != nil {
			return nil, err
		}
		b, err := t.timeExec("", "", 2)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		sess, err := t.control.NewSession()
		if err != nil {
			return nil, fmt.Errorf("open session: %w", err)
		}
		o := time.Since(t0)
		sess.Close()
		if i >= 0 {
			execs, empties, opens = append(execs, e), append(empties, b), append(opens, o)
		}
	}

	fig := figure{
		name: "exec `1+1`, new session on an open connection", value: summarize(execs),
		baseName: "empty command (exit 2)", baseline: summarize(empties),
		target: "median ≤ 1 ms and ≤ 1.5× baseline",
	}
	fig.verdict = verdictOf(fig.value.median <= time.Millisecond &&
		ratio(fig.value.median, fig.baseline.median) <= 1.5)
	open := summarize(opens)
	fig.note = fmt.Sprintf("a bare channel open (no request) takes %s; the kernel's "+
		"share is the difference of the medians, %s", open,
		fmtDur(fig.value.median-fig.baseline.median))
	return []figure{fig}, nil
}

// timeExec runs command in a new session on the control connection and checks
// its output and exit status.
func (t *target) timeExec(command, want string, wantCode int) (time.Duration, error) {
	t0 := time.Now()
	out, errOut, code, err := runCmd(t.control, command)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if code != wantCode || (want != "" && out != want) {
		return 0, fmt.Errorf("%q: exit status %d, output %q %q; want %d, %q", command, code,
			out, errOut, wantCode, want)
	}
	return d, nil
}

// attachFigure times a new client from dial to the first frame that shows the
// newest entry, with 1,000 entries of history, against a bare SSH handshake plus
// session open on the same daemon. Before each attach the control connection
// prints a fresh marker, which becomes the newest entry.
func (t *target) attachFigure() ([]figure, error) {
	var attaches, bares, firsts samples
	missed := 0
	for i := -t.opts.warmup; i < t.opts.attachN; i++ {
		m := nextMarker()
		if _, err := mustExec(t.control, printMarker(m)); err != nil {
			return nil, err
		}
		r := &round{marker: []byte(m), t0: time.Now(), hits: make(chan hit, 1)}
		c, err := attachPTY(t.dl, i, t.opts.size, r, false)
		if err != nil {
			return nil, err
		}
		hits := r.wait(1, attachTimeout)
		c.close()
		if len(hits) == 0 {
			missed++
		} else if i >= 0 {
			attaches = append(attaches, hits[0].after)
			firsts = append(firsts, time.Unix(0, c.firstByte.Load()).Sub(r.t0))
		}

		b, err := t.bareSession()
		if err != nil {
			return nil, err
		}
		if i >= 0 {
			bares = append(bares, b)
		}
	}

	fig := figure{
		name:     "attach: dial → first frame showing the newest of 1,000 entries",
		value:    summarize(attaches),
		baseName: "SSH handshake + session open", baseline: summarize(bares),
		target: "median ≤ 2× baseline",
	}
	fig.verdict = verdictOf(missed == 0 &&
		ratio(fig.value.median, fig.baseline.median) <= 2)
	fig.note = fmt.Sprintf("the first terminal bytes arrive after %s", summarize(firsts))
	if missed > 0 {
		fig.note += fmt.Sprintf("; %d attaches never showed the newest entry within %s",
			missed, attachTimeout)
	}
	return []figure{fig}, nil
}

// bareSession times a TCP connect, SSH handshake and session open.
func (t *target) bareSession() (time.Duration, error) {
	t0 := time.Now()
	c, err := t.dl.dial(nil)
	if err != nil {
		return 0, err
	}
	sess, err := c.NewSession()
	d := time.Since(t0)
	if err != nil {
		c.Close()
		return 0, fmt.Errorf("open session: %w", err)
	}
	sess.Close()
	c.Close()
	return d, nil
}

// logf prints a progress line on stderr.
func logf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintf(stderr, "%s stratd-bench: %s\n", time.Now().Format("15:04:05.000"),
		strings.TrimSpace(msg))
}
