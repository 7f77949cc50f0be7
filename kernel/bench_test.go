//go:build unix

package kernel

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/strategy"
)

// The benchmarks of this file are measurements for BENCHMARKS.md (the load tool,
// cmd/stratd-bench, measures the same things from outside the daemon):
//
//	go test ./kernel -run '^$' -bench 'Replay100k|Exec' -benchmem
//
// Besides the wall time they report cpu-ns/op, the CPU time the process used per
// operation (garbage collection included), which a busy shared machine disturbs
// far less than the wall time.

// cpuClock measures the CPU time this process uses over a benchmark loop.
type cpuClock struct{ start time.Duration }

func startCPUClock() cpuClock { return cpuClock{start: processCPU()} }

// report adds the CPU time per operation to b's results.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchJournalMix is what a busy transcript holds: inputs and results, prints,
// strategy logs, orders and fills.
var benchJournalMix = []Entry{
	{Kind: KindInput, Origin: "alice", Text: `ctx.get_position("BTCUSDT")`},
	{Kind: KindResult, Origin: "alice", Text: `position(symbol="BTCUSDT", quantity=0.5, ` +
		`avg_price=64012.5, unrealized_pnl=12.25)`},
	{Kind: KindLog, Origin: "strategy", Text: "BTCUSDT fast SMA crossed above slow at 64102.7"},
	{Kind: KindOrder, Origin: "strategy", Text: "#%d buy 0.5 BTCUSDT market"},
	{Kind: KindFill, Origin: "strategy", Text: "#%d bought 0.5 BTCUSDT at 64108.1 fee 12.82"},
	{Kind: KindStdout, Origin: "bob", Text: "equity 10234.18, pnl +234.18 over %d bars"},
}

// writeBenchJournal writes a journal of n entries to path.
func writeBenchJournal(b *testing.B, path string, n int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	start := time.Now().UTC().Add(-time.Duration(n) * time.Second)
	for i := range n {
		e := benchJournalMix[i%len(benchJournalMix)]
		e.Seq = uint64(i + 1)
		e.Time = start.Add(time.Duration(i) * time.Second)
		if e.Kind == KindOrder || e.Kind == KindFill || e.Kind == KindStdout {
			e.Text = fmt.Sprintf(e.Text, i)
		}
		if err := enc.Encode(e); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReplay100k opens a transcript whose journal holds 100,000 entries: the
// replay a kernel does at start, into a ring of the default 1,000 entries and into
// one that keeps them all (kernel.history: 100000).
func BenchmarkReplay100k(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	writeBenchJournal(b, filepath.Join(dir, journalName), n)
	for _, ring := range []int{1000, n} {
		b.Run(fmt.Sprintf("ring=%d", ring), func(b *testing.B) {
			b.ReportAllocs()
			clock := startCPUClock()
			for b.Loop() {
				t, err := openTranscript(dir, ring, nil)
				if err != nil {
					b.Fatal(err)
				}
				if last := t.last(); last != n {
					b.Fatalf("replayed up to seq %d, want %d", last, n)
				}
				t.close()
			}
			clock.report(b)
		})
	}
}

// BenchmarkExec runs `1+1` through Kernel.Exec: the kernel's share of an exec
// round trip, without SSH.
func BenchmarkExec(b *testing.B) {
	dir := b.TempDir()
	cfgPath := filepath.Join(dir, "bench.yml")
	cfg := "name: bench\nstrategy: bench.star\ninstruments: [BTCUSDT]\n" +
		"feed: {kind: synthetic, interval: 1h, seed: 1}\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.star"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	c, err := strategy.LoadConfig(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	k, err := New(c, Options{StateDir: filepath.Join(dir, "state")})
	if err != nil {
		b.Fatal(err)
	}
	defer k.Stop("benchmark")

	p := Person{Name: "bench", Role: keys.Operator}
	ctx := context.Background()
	b.ReportAllocs()
	clock := startCPUClock()
	for b.Loop() {
		r, err := k.Exec(ctx, p, "1+1")
		if err != nil || r.Failed || len(r.Entries) != 1 || r.Entries[0].Text != "2" {
			b.Fatalf("exec 1+1: %+v, %v", r, err)
		}
	}
	clock.report(b)
}
