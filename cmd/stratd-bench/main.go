// Command stratd-bench measures a real stratd daemon from the outside and prints
// each figure (median, p99 and max) beside a baseline measured in the same run.
//
// It starts the stratd binary as a separate process (`stratd run --kernel-only`
// on 127.0.0.1:0 with a temporary --home), logs in with that home's client key,
// which the daemon authorizes as admin, and drives it with x/crypto/ssh clients:
//
//	exec     `exec bench 1+1` in a new session on an open connection, against a
//	         session whose empty command exits at once
//	attach   dial to the first frame showing the newest of 1,000 entries, against
//	         a bare SSH handshake plus session open
//	fanout   one print reaching every attached PTY client, at each -clients count,
//	         against one client; the print carries a marker each client's
//	         terminal stream is scanned for
//	memory   daemon RSS per idle attached UI session at the largest count
//	stall    fan-out while one more client has stopped reading, against the same
//	         with that client reading
//	start    spawn to connection file, against spawning `stratd --version`
//	replay   daemon start with a 100,000-entry journal, against an empty one
//
// The kernel it runs is quiet (no market bars during a run), so the only load is
// the tool's. Everything stays on loopback and in a temp folder that is removed
// at the end. Progress goes to stderr, the report (Markdown) to stdout: a table per
// run, and with -runs above 1 the medians of every run side by side. BENCHMARKS.md
// at the repository root holds the figures and what bounds them.
//
// Usage:
//
//	go build -o /tmp/stratd ./cmd/stratd
//	go run ./cmd/stratd-bench -stratd /tmp/stratd [-only exec,attach] [-runs 3]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

var stderr io.Writer = os.Stderr

// allFigures names the groups of figures in the order they run.
var allFigures = []string{"exec", "attach", "fanout", "memory", "stall", "start", "replay"}

// options sets what runs and how much.
type options struct {
	args          []string // the command line, for the report
	stratd        string
	only          []string
	runs          int
	warmup        int
	execN         int
	attachN       int
	fanoutRounds  int
	clients       []int
	stallBlocks   int
	startN        int
	replayN       int
	replayEntries int
	settle        time.Duration
	size          ptySize // of every attached client but the stalled one
}

func (o *options) wants(name string) bool { return slices.Contains(o.only, name) }

func main() {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "stratd-bench:", err)
		os.Exit(2)
	}
	if err := run(opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stratd-bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("stratd-bench", flag.ContinueOnError)
	o := &options{args: args}
	var only, clients, size string
	var quick bool
	fs.StringVar(&o.stratd, "stratd", "",
		"stratd binary to measure (default: go build ./cmd/stratd into a temp folder)")
	fs.StringVar(&only, "only", strings.Join(allFigures, ","),
		"figures to measure: "+strings.Join(allFigures, ","))
	fs.IntVar(&o.runs, "runs", 1,
		"times to take every figure, each on fresh daemons; a table per run, then one across")
	fs.IntVar(&o.warmup, "warmup", 5, "unrecorded iterations before each series")
	fs.IntVar(&o.execN, "exec-n", 300, "exec round trips (and as many baselines)")
	fs.IntVar(&o.attachN, "attach-n", 30, "attaches (and as many bare sessions)")
	fs.IntVar(&o.fanoutRounds, "rounds", 100,
		"fan-out rounds per client count (at least 100, or the nearest-rank p99 is the max)")
	fs.StringVar(&clients, "clients", "100,500", "fan-out client counts")
	fs.StringVar(&size, "size", "120x40", "terminal size of the attached clients, COLSxROWS")
	fs.IntVar(&o.stallBlocks, "stall-blocks", 2,
		"blocks of rounds with the extra client stalled (as many with it reading)")
	fs.IntVar(&o.startN, "start-n", 10, "daemon starts")
	fs.IntVar(&o.replayN, "replay-n", 5, "daemon starts with and without the journal")
	fs.IntVar(&o.replayEntries, "replay-entries", 100_000, "entries in the journal")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "wait before reading the daemon's RSS")
	fs.BoolVar(&quick, "quick", false, "tiny sizes: a smoke test of the tool, not a measurement")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if quick {
		o.warmup, o.execN, o.attachN, o.fanoutRounds = 1, 5, 2, 3
		o.stallBlocks, o.startN, o.replayN, o.replayEntries = 1, 2, 1, 2000
		o.settle = 100 * time.Millisecond
		clients = "3"
		_ = fs.Parse(args) // again: flags given explicitly win over -quick
	}
	for _, name := range strings.Split(only, ",") {
		if name = strings.TrimSpace(name); !slices.Contains(allFigures, name) {
			return nil, fmt.Errorf("-only: unknown figure %q; known: %s", name,
				strings.Join(allFigures, ","))
		}
		o.only = append(o.only, name)
	}
	for _, s := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-clients: %q is not a positive count", s)
		}
		o.clients = append(o.clients, n)
	}
	if _, err := fmt.Sscanf(size, "%dx%d", &o.size.cols, &o.size.rows); err != nil ||
		o.size.cols < 20 || o.size.rows < 5 {
		return nil, fmt.Errorf("-size: %q is not COLSxROWS of at least 20x5", size)
	}
	if o.runs < 1 {
		return nil, errors.New("-runs must be at least 1")
	}
	return o, nil
}

// run measures what opts asks for and writes the report to out.
func run(opts *options, out io.Writer) error {
	bin, cleanup, err := stratdBinary(opts.stratd)
	if err != nil {
		return err
	}
	defer cleanup()
	w, err := newWorkspace(bin)
	if err != nil {
		return err
	}
	defer w.remove()

	fmt.Fprintln(out, "## stratd-bench")
	fmt.Fprintln(out)
	fmt.Fprintln(out, machine(bin))
	fmt.Fprintf(out, "- command: stratd-bench %s\n", strings.Join(opts.args, " "))
	fmt.Fprintln(out)

	var runs [][]figure
	var failed error
	for r := range opts.runs {
		logf("run %d of %d", r+1, opts.runs)
		figs, err := measure(w, opts)
		failed = errors.Join(failed, err)
		runs = append(runs, figs)
		if opts.runs > 1 {
			fmt.Fprintf(out, "### run %d\n\n", r+1)
		}
		writeTable(out, figs)
		fmt.Fprintln(out)
	}
	if opts.runs > 1 {
		fmt.Fprintf(out, "### across the %d runs\n\n", opts.runs)
		writeAcross(out, runs)
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "- load average at the end: %s\n", loadAvg())
	return failed
}

// measure takes every figure asked for once, each daemon figure on a fresh daemon.
func measure(w *workspace, opts *options) ([]figure, error) {
	var figs []figure
	var failed []error
	// A group that fails is reported as such; the others still run.
	step := func(name string, f func() ([]figure, error)) error {
		logf("measuring %s", name)
		got, err := f()
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
			logf("%v", err)
			failed = append(failed, err)
			got = append(got, figure{name: name, valueTxt: "—", target: "—",
				verdict: "error", note: err.Error()})
		}
		figs = append(figs, got...)
		return nil
	}
	onTarget := func(f func(t *target) ([]figure, error)) func() ([]figure, error) {
		return func() ([]figure, error) {
			t, err := w.startTarget(opts)
			if err != nil {
				return nil, err
			}
			defer t.close()
			return f(t)
		}
	}

	if opts.wants("exec") {
		if err := step("exec", onTarget((*target).execFigure)); err != nil {
			return nil, err
		}
	}
	if opts.wants("attach") {
		if err := step("attach", onTarget((*target).attachFigure)); err != nil {
			return nil, err
		}
	}
	if opts.wants("fanout") || opts.wants("memory") || opts.wants("stall") {
		err := step("fan-out", onTarget(func(t *target) ([]figure, error) {
			return t.fanoutFigures(opts.wants("memory"), opts.wants("stall"))
		}))
		if err != nil {
			return nil, err
		}
	}
	if opts.wants("start") {
		if err := step("start", func() ([]figure, error) { return w.startFigures(opts) }); err != nil {
			return nil, err
		}
	}
	if opts.wants("replay") {
		if err := step("replay", func() ([]figure, error) { return w.replayFigure(opts) }); err != nil {
			return nil, err
		}
	}
	return figs, errors.Join(failed...)
}

// stratdBinary returns the binary to measure: the one given, or one built from
// the module in the working folder.
func stratdBinary(given string) (string, func(), error) {
	if given != "" {
		abs, err := filepath.Abs(given)
		if err != nil {
			return "", nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", nil, fmt.Errorf("-stratd: %w", err)
		}
		return abs, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "stratd-bench-bin-")
	if err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "stratd")
	logf("building %s", bin)
	build := exec.Command("go", "build", "-o", bin, "github.com/stratd/stratd/cmd/stratd")
	build.Stderr = stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("build stratd (or pass -stratd): %w", err)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}
