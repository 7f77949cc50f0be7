package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// journalEntry is one line of a kernel's journal (state/NAME/journal.jsonl), the
// JSON form of kernel.Entry.
type journalEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Origin string    `json:"origin"`
	Text   string    `json:"text"`
}

// journalMix is what a busy kernel's transcript looks like: inputs and their
// results, prints, strategy logs, orders and fills.
var journalMix = []journalEntry{
	{Kind: "input", Origin: "alice", Text: "ctx.get_position(\"BTCUSDT\")"},
	{Kind: "result", Origin: "alice", Text: "position(symbol=\"BTCUSDT\", quantity=0.5, " +
		"avg_price=64012.5, unrealized_pnl=12.25)"},
	{Kind: "log", Origin: "strategy", Text: "BTCUSDT fast SMA crossed above slow at 64102.7"},
	{Kind: "order", Origin: "strategy", Text: "#%d buy 0.5 BTCUSDT market"},
	{Kind: "fill", Origin: "strategy", Text: "#%d bought 0.5 BTCUSDT at 64108.1 fee 12.82"},
	{Kind: "stdout", Origin: "bob", Text: "equity 10234.18, pnl +234.18 over %d bars"},
}

// writeJournal writes a journal of n entries to path.
func writeJournal(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	start := time.Now().UTC().Add(-time.Duration(n) * time.Second)
	for i := range n {
		e := journalMix[i%len(journalMix)]
		e.Seq = uint64(i + 1)
		e.Time = start.Add(time.Duration(i) * time.Second)
		if e.Kind == "order" || e.Kind == "fill" || e.Kind == "stdout" {
			e.Text = fmt.Sprintf(e.Text, i)
		}
		if err := enc.Encode(e); err != nil {
			f.Close()
			return fmt.Errorf("write journal: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write journal: %w", err)
	}
	return f.Close()
}

// startFigures times daemon starts: spawning `stratd run --kernel-only` until it
// prints its connection file, against spawning `stratd --version` (the cost of
// starting the process at all); and, inside the daemon, from the kernel's start
// time to the connection file's modification time.
func (w *workspace) startFigures(opts *options) ([]figure, error) {
	home, err := w.newHome()
	if err != nil {
		return nil, err
	}
	// The first start creates the keys; later starts find them, as a restarted
	// daemon does.
	if err := w.startStop(home); err != nil {
		return nil, err
	}

	var spawns, inside, versions samples
	for range opts.startN {
		if err := os.RemoveAll(filepath.Join(home, "state")); err != nil {
			return nil, err
		}
		d, err := w.start(home)
		if err != nil {
			return nil, err
		}
		if !d.connSeen.IsZero() {
			inside = append(inside, d.connSeen.Sub(d.conn.Started))
		}
		spawns = append(spawns, d.spawnToConn)
		if err := d.stop(); err != nil {
			return nil, err
		}

		t0 := time.Now()
		if err := exec.Command(w.bin, "--version").Run(); err != nil {
			return nil, fmt.Errorf("stratd --version: %w", err)
		}
		versions = append(versions, time.Since(t0))
	}

	spawn := figure{
		name:  "daemon start: spawn → `Connection file:` printed",
		value: summarize(spawns), baseName: "spawn of `stratd --version`",
		baseline: summarize(versions), target: "≤ 100 ms",
	}
	spawn.verdict = verdictOf(spawn.value.p99 <= 100*time.Millisecond)
	spawn.note = "includes process start, key loading, SSH listen, config load and " +
		"strategy compile; the target is read as p99"
	kern := figure{
		name:   "kernel start → connection file written (inside the daemon)",
		value:  summarize(inside),
		target: "≤ 100 ms",
		note: "from the file's `started` time to the file showing up in the kernels " +
			"folder (polled every 200µs): strategy compile, on_start, the first " +
			"entries and the file write; the journal replay comes before `started`",
	}
	kern.verdict = verdictOf(kern.value.n > 0 && kern.value.p99 <= 100*time.Millisecond)
	return []figure{spawn, kern}, nil
}

func (w *workspace) startStop(home string) error {
	d, err := w.start(home)
	if err != nil {
		return err
	}
	return d.stop()
}

// replayFigure times daemon starts with a journal of opts.replayEntries entries
// against starts with none, alternating; the difference is the replay.
func (w *workspace) replayFigure(opts *options) ([]figure, error) {
	journal := filepath.Join(w.dir, "journal.jsonl")
	if err := writeJournal(journal, opts.replayEntries); err != nil {
		return nil, err
	}
	home, err := w.newHome()
	if err != nil {
		return nil, err
	}
	if err := w.startStop(home); err != nil {
		return nil, err
	}
	state := filepath.Join(home, "state", kernelName)
	// The kernel keeps every journal entry in memory, as one configured with
	// `kernel.history: 100000` does; with the default of 1,000 the journal never
	// grows past a few thousand entries.
	config, err := w.writeConfig(opts.replayEntries)
	if err != nil {
		return nil, err
	}

	var with, without samples
	for i := range opts.replayN {
		if err := resetState(state, journal); err != nil {
			return nil, err
		}
		d, err := w.startConfig(home, config)
		if err != nil {
			return nil, err
		}
		with = append(with, d.spawnToConn)
		if i == 0 {
			err = checkReplayed(d, uint64(opts.replayEntries))
		}
		if serr := d.stop(); err == nil {
			err = serr
		}
		if err != nil {
			return nil, err
		}

		if err := resetState(state, ""); err != nil {
			return nil, err
		}
		d, err = w.startConfig(home, config)
		if err != nil {
			return nil, err
		}
		without = append(without, d.spawnToConn)
		if err := d.stop(); err != nil {
			return nil, err
		}
	}

	fig := figure{
		name: fmt.Sprintf("journal: daemon start replaying %d entries (history %d)",
			opts.replayEntries, opts.replayEntries),
		value: summarize(with), baseName: "daemon start with an empty journal",
		baseline: summarize(without), target: "replay ≤ 200 ms",
	}
	replay := fig.value.median - fig.baseline.median
	fig.verdict = verdictOf(replay <= 200*time.Millisecond)
	fig.note = fmt.Sprintf("replay = difference of the medians = %s (judged against the "+
		"target); the journal is %s", fmtDur(replay), fileSize(journal))
	return []figure{fig}, nil
}

// resetState empties a kernel's state folder and, when journal is given, puts a
// copy of it there.
func resetState(state, journal string) error {
	if err := os.RemoveAll(state); err != nil {
		return err
	}
	if journal == "" {
		return nil
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return err
	}
	src, err := os.Open(journal)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(state, "journal.jsonl"),
		os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// checkReplayed asks the daemon for its newest entry and checks that its seq
// continues after the journal's last one.
func checkReplayed(d *daemon, last uint64) error {
	dl, err := d.dialer()
	if err != nil {
		return err
	}
	c, err := dl.dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	out, errOut, code, err := runCmd(c, "history "+kernelName+" -n 1 --json")
	if err != nil {
		return err
	}
	var e journalEntry
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil {
		return fmt.Errorf("history after replay: exit status %d, %q %q", code, out, errOut)
	}
	if e.Seq <= last {
		return fmt.Errorf("after replaying %d entries the newest is seq %d: the journal "+
			"was not replayed", last, e.Seq)
	}
	return nil
}

func fileSize(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "of unknown size"
	}
	return fmtBytes(st.Size())
}
