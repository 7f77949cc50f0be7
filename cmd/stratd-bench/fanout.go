package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// roundTimeout bounds the wait for one round's output on every client.
	roundTimeout = 10 * time.Second
	// syncTimeout bounds the wait for every client to catch up after attaching
	// or after a stall.
	syncTimeout = 120 * time.Second
	// dialConcurrency is how many clients attach at once.
	dialConcurrency = 8
	// maxFills bounds the output sent to fill a stalled client's pipe.
	maxFills = 100
)

// stallSize is the terminal the client that stalls switches to just before it
// stops reading: large, so that a few screens of output fill its SSH window
// (2 MiB) quickly. While it reads, its terminal is the size of the others', so it
// costs the daemon what any client costs.
var stallSize = ptySize{cols: 500, rows: 200}

// fanoutResult is what a series of rounds measured.
type fanoutResult struct {
	last   samples // per round: until the last client saw the output
	each   samples // per client and round
	missed int     // client sightings that never came within roundTimeout

	rounds    int           // rounds recorded
	daemonCPU time.Duration // CPU the daemon used during the recorded rounds
	benchCPU  time.Duration // CPU this tool used meanwhile (its SSH clients)
	bytes     int64         // terminal bytes all clients read meanwhile
}

// cpuText says how much CPU one round cost the daemon, and this tool.
func (a *fanoutResult) cpuText(clients int) string {
	if a.rounds == 0 {
		return ""
	}
	per := a.daemonCPU / time.Duration(a.rounds)
	n := max(1, clients)
	return fmt.Sprintf("daemon CPU per round %s (%s per client), this tool's %s, "+
		"%d terminal bytes per client per round", fmtDur(per), fmtDur(per/time.Duration(n)),
		fmtDur(a.benchCPU/time.Duration(a.rounds)), a.bytes/int64(a.rounds*n))
}

func (a *fanoutResult) add(b fanoutResult) {
	a.last = append(a.last, b.last...)
	a.each = append(a.each, b.each...)
	a.missed += b.missed
	a.rounds += b.rounds
	a.daemonCPU += b.daemonCPU
	a.benchCPU += b.benchCPU
	a.bytes += b.bytes
}

// fanoutFigures measures fan-out at one client (the baseline), the memory of
// idle attached sessions at the largest count, fan-out at each count, and the
// effect of one stalled client at the smallest count.
func (t *target) fanoutFigures(withMemory, withStall bool) ([]figure, error) {
	counts := slices.Clone(t.opts.clients)
	slices.Sort(counts)
	if len(counts) == 0 {
		return nil, nil
	}

	one, err := t.attachMany(1, 0)
	if err != nil {
		return nil, err
	}
	base, err := t.rounds(one)
	closeAll(one)
	if err != nil {
		return nil, err
	}

	var figs []figure
	top := counts[len(counts)-1]
	var rssNone int64
	if withMemory {
		if rssNone, err = t.settledRSS(); err != nil {
			return nil, err
		}
	}
	logf("attaching %d clients", top)
	clients, err := t.attachMany(top, 1)
	defer func() { closeAll(clients) }()
	if err != nil {
		return nil, err
	}
	if withMemory {
		cpu0, err := cpuTime(t.d.pid())
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		rssTop, err := t.settledRSS()
		if err != nil {
			return nil, err
		}
		cpu1, err := cpuTime(t.d.pid())
		if err != nil {
			return nil, err
		}
		fig := memoryFigure(top, t.opts.size, rssNone, rssTop)
		fig.note += fmt.Sprintf("; while idle the daemon used %.1f%% of a CPU",
			100*float64(cpu1-cpu0)/float64(time.Since(t0)))
		figs = append(figs, fig)
	}

	for i := len(counts) - 1; i >= 0; i-- {
		n := counts[i]
		closeAll(clients[n:])
		clients = clients[:n]
		if err := t.sync(clients); err != nil {
			return nil, err
		}
		logf("fan-out rounds on %d clients", n)
		res, err := t.rounds(clients)
		if err != nil {
			return nil, err
		}
		figs = append(figs, fanoutFigure(n, res, base))
	}

	if withStall {
		fig, err := t.stallFigure(clients)
		if err != nil {
			return nil, err
		}
		figs = append(figs, fig)
	}
	return figs, nil
}

func fanoutFigure(n int, res, base fanoutResult) figure {
	limit := 50 * time.Millisecond
	if n <= 100 {
		limit = 10 * time.Millisecond
	}
	fig := figure{
		name:     fmt.Sprintf("fan-out: one print reaching all %d PTY clients", n),
		value:    summarize(res.last),
		baseName: "one client", baseline: summarize(base.last),
		target: "p99 ≤ " + fmtDur(limit),
	}
	fig.verdict = verdictOf(res.missed == 0 && fig.value.p99 <= limit)
	fig.note = fmt.Sprintf("per client (%d sightings): %s; %s; one client: %s",
		len(res.each), summarize(res.each), res.cpuText(n), base.cpuText(1))
	if res.missed > 0 {
		fig.note += fmt.Sprintf("; %d sightings missing after %s", res.missed, roundTimeout)
	}
	return fig
}

// attachMany attaches n clients, a few at a time, and waits until every one shows
// the same fresh marker. ids start at first.
func (t *target) attachMany(n, first int) ([]*ptyClient, error) {
	clients := make([]*ptyClient, n)
	errs := make([]error, n)
	sem := make(chan struct{}, dialConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			clients[i], errs[i] = attachPTY(t.dl, first+i, t.opts.size, nil, false)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(slices.DeleteFunc(clients, func(c *ptyClient) bool { return c == nil }))
		return nil, fmt.Errorf("attach %d clients: %w", n, err)
	}
	if err := t.sync(clients); err != nil {
		closeAll(clients)
		return nil, err
	}
	return clients, nil
}

func closeAll(clients []*ptyClient) {
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(c.close)
	}
	wg.Wait()
}

// sync waits until the transcript is quiet, then prints a fresh marker and waits
// until every client has shown it. Clients that just came or went are attached or
// detached by the daemon a little later, each with an entry in the transcript; a
// marker printed before a burst of those could scroll off every screen between
// two frames, so sync tries again with a new marker if some client missed one.
func (t *target) sync(clients []*ptyClient) error {
	var err error
	for range 3 {
		if err = t.waitQuiet(); err != nil {
			return err
		}
		r := newRound(clients)
		if _, err := mustExec(t.control, printMarker(string(r.marker))); err != nil {
			return err
		}
		got := r.wait(len(clients), syncTimeout/3)
		if len(got) == len(clients) {
			return nil
		}
		err = fmt.Errorf("only %d of %d clients showed the output within %s",
			len(got), len(clients), syncTimeout/3)
		logf("sync: %v; trying again", err)
	}
	return err
}

// waitQuiet waits until the kernel's newest entry stays the same for a while.
func (t *target) waitQuiet() error {
	const quiet = 3 // polls 150ms apart that must see the same newest entry
	deadline := time.Now().Add(syncTimeout)
	var last uint64
	same := 0
	for same < quiet {
		if time.Now().After(deadline) {
			return fmt.Errorf("the transcript did not go quiet within %s", syncTimeout)
		}
		out, errOut, code, err := runCmd(t.control, "history "+kernelName+" -n 1 --json")
		if err != nil {
			return err
		}
		var e journalEntry
		if code != 0 || json.Unmarshal([]byte(out), &e) != nil {
			return fmt.Errorf("history: exit status %d, %q %q", code, out, errOut)
		}
		if e.Seq == last {
			same++
		} else {
			last, same = e.Seq, 0
		}
		time.Sleep(150 * time.Millisecond)
	}
	return nil
}

// rounds runs the configured number of rounds on clients after warm-up rounds:
// each prints a fresh marker through the control connection and times its
// arrival in every client's terminal stream, from just before the exec request.
func (t *target) rounds(clients []*ptyClient) (fanoutResult, error) {
	var res fanoutResult
	var cpu0, self0 time.Duration
	var bytes0 int64
	for i := -t.opts.warmup; i < t.opts.fanoutRounds; i++ {
		if i == 0 {
			var err error
			if cpu0, err = cpuTime(t.d.pid()); err != nil {
				return res, err
			}
			self0, bytes0 = selfCPU(), terminalBytes(clients)
		}
		r := newRound(clients)
		if _, err := mustExec(t.control, printMarker(string(r.marker))); err != nil {
			return res, err
		}
		hits := r.wait(len(clients), roundTimeout)
		if i >= 0 {
			for _, h := range hits {
				res.each = append(res.each, h.after)
			}
			if len(hits) == len(clients) {
				res.last = append(res.last, hits[len(hits)-1].after)
			}
			res.missed += len(clients) - len(hits)
		}
		// A pause with jitter, so rounds start at random points of the UIs'
		// frame clocks and the previous round's frames are out.
		time.Sleep(30*time.Millisecond + rand.N(20*time.Millisecond))
	}
	cpu1, err := cpuTime(t.d.pid())
	if err != nil {
		return res, err
	}
	res.rounds = t.opts.fanoutRounds
	res.daemonCPU, res.benchCPU = cpu1-cpu0, selfCPU()-self0
	res.bytes = terminalBytes(clients) - bytes0
	return res, nil
}

// terminalBytes is how much the clients have read so far.
func terminalBytes(clients []*ptyClient) int64 {
	var n int64
	for _, c := range clients {
		n += c.bytes.Load()
	}
	return n
}

// settledRSS waits for the daemon to settle and returns the median of a few
// RSS samples.
func (t *target) settledRSS() (int64, error) {
	time.Sleep(t.opts.settle)
	var vals []int64
	for range 5 {
		v, err := rss(t.d.pid())
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
		time.Sleep(200 * time.Millisecond)
	}
	slices.Sort(vals)
	return vals[len(vals)/2], nil
}

func memoryFigure(n int, size ptySize, none, loaded int64) figure {
	per := (loaded - none) / int64(n)
	fig := figure{
		name: fmt.Sprintf("memory per idle attached UI session (%dx%d), at %d",
			size.cols, size.rows, n),
		valueTxt: fmt.Sprintf("%s each (daemon RSS %s)", fmtBytes(per), fmtBytes(loaded)),
		baseName: "daemon with none", baseTxt: "RSS " + fmtBytes(none),
		target:  "≤ 512 KiB each",
		verdict: verdictOf(per <= 512<<10),
		note: "VmRSS of the daemon (median of 5 samples after settling) minus the same " +
			"before any client attached, divided by the sessions; includes each SSH " +
			"connection and garbage the Go GC has not yet returned",
	}
	return fig
}

// stallFigure compares fan-out to clients while one more client, with a large
// terminal, reads normally and while it has stopped reading with its SSH window
// and socket buffers full. The two conditions alternate in blocks of rounds so
// both see the same machine load.
func (t *target) stallFigure(clients []*ptyClient) (figure, error) {
	extra, err := attachPTY(t.dl, -1, t.opts.size, nil, true)
	if err != nil {
		return figure{}, err
	}
	defer func() { extra.gate.resume(); extra.close() }()
	if err := t.sync(append(slices.Clone(clients), extra)); err != nil {
		return figure{}, err
	}

	var free, stalled fanoutResult
	var stuck []string
	for b := range 2 * t.opts.stallBlocks {
		logf("stall block %d of %d", b+1, 2*t.opts.stallBlocks)
		if b%2 == 1 {
			if err := extra.resize(stallSize); err != nil {
				return figure{}, err
			}
			extra.gate.stall()
			q, err := t.fill(extra)
			if err != nil {
				return figure{}, err
			}
			stuck = append(stuck, q)
		} else if b > 0 {
			extra.gate.resume()
			if err := extra.resize(t.opts.size); err != nil {
				return figure{}, err
			}
			if err := t.sync([]*ptyClient{extra}); err != nil {
				return figure{}, fmt.Errorf("stalled client did not catch up: %w", err)
			}
		}
		if err := t.sync(clients); err != nil {
			return figure{}, err
		}
		res, err := t.rounds(clients)
		if err != nil {
			return figure{}, err
		}
		if b%2 == 1 {
			stalled.add(res)
		} else {
			free.add(res)
		}
	}

	n := len(clients)
	fig := figure{
		name:     fmt.Sprintf("fan-out to %d PTY clients with one more client stalled", n),
		value:    summarize(stalled.last),
		baseName: "the same, the extra client reading", baseline: summarize(free.last),
		target: "p99 within 1.2×",
	}
	p99Ratio := ratio(fig.value.p99, fig.baseline.p99)
	fig.verdict = verdictOf(stalled.missed == 0 && p99Ratio <= 1.2)
	fig.note = fmt.Sprintf("p99 ratio %.2f×; per client, stalled %s vs reading %s; "+
		"bytes stuck between daemon and stalled client at each stall: %s; stalled: %s; "+
		"reading: %s", p99Ratio, summarize(stalled.each), summarize(free.each),
		strings.Join(stuck, ", "), stalled.cpuText(n), free.cpuText(n))
	return fig, nil
}

// fillCode prints 200 lines of about 400 characters that differ from every
// earlier fill, so the stalled client's whole screen changes: some 80 KB a fill.
func fillCode(n int) string {
	return fmt.Sprintf(`for i in range(200):
    print("fill %d line %%d " %% i + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(i + %d) %% 26:] * 16)
`, n, n)
}

// fill sends output until the stalled client's pipe stops taking more: the bytes
// queued in its socket and the daemon's stay put and exceed 1 MiB. It returns the
// bytes queued.
func (t *target) fill(c *ptyClient) (string, error) {
	local, ok := c.gate.LocalAddr().(*net.TCPAddr)
	remote, ok2 := c.gate.RemoteAddr().(*net.TCPAddr)
	if !ok || !ok2 {
		return "", errors.New("stalled client is not on TCP")
	}
	var last int64 = -1
	same := 0
	for i := range maxFills {
		if _, err := mustExec(t.control, fillCode(i)); err != nil {
			return "", err
		}
		time.Sleep(40 * time.Millisecond)
		q, err := socketQueues(local.Port, remote.Port)
		if err != nil {
			return "", err
		}
		if q == last && q >= 1<<20 {
			if same++; same >= 3 {
				return fmtBytes(q), nil
			}
		} else {
			same = 0
		}
		last = q
	}
	return fmtBytes(last) + " (still growing)", nil
}

// socketQueues returns the bytes waiting in the client's receive queue plus those
// in the daemon's send queue for one loopback connection, from /proc/net/tcp.
func socketQueues(clientPort, serverPort int) (int64, error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0, err
	}
	var total int64
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.Contains(f[1], ":") {
			continue
		}
		lp, rp := hexPort(f[1]), hexPort(f[2])
		tx, rx, _ := strings.Cut(f[4], ":")
		switch {
		case lp == clientPort && rp == serverPort:
			total += hexInt(rx)
		case lp == serverPort && rp == clientPort:
			total += hexInt(tx)
		}
	}
	return total, nil
}

func hexPort(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	return int(hexInt(p))
}

func hexInt(s string) int64 {
	v, _ := strconv.ParseInt(s, 16, 64)
	return v
}
