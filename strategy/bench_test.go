package strategy

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// benchBars is how many bars one run of the sma_cross benchmark replays.
const benchBars = 1_000_000

// benchConfig is examples/sma_cross.yml trading one instrument on a synthetic feed
// with interval 0, so one bar time is one bar.
func benchConfig(tb testing.TB) *Config {
	tb.Helper()
	cfg, err := LoadConfig("../examples/sma_cross.yml")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Instruments = []string{"BTCUSDT"}
	cfg.Feed.Interval = 0
	return cfg
}

// goSMACross is examples/sma_cross.star written in Go against the same runtime: the
// same feed, history, paper broker and entries, without the interpreter.
type goSMACross struct {
	r          *Runtime
	fast, slow int
	size       float64
}

func newGoSMACross(tb testing.TB, r *Runtime) *goSMACross {
	tb.Helper()
	p := r.cfg.Parameters
	fast, ok1 := p["fast"].(int64)
	slow, ok2 := p["slow"].(int64)
	size, ok3 := p["size"].(float64)
	if !ok1 || !ok2 || !ok3 {
		tb.Fatalf("sma_cross parameters %v", p)
	}
	return &goSMACross{r: r, fast: int(fast), slow: int(slow), size: size}
}

// step is Runtime.Step with the Go strategy in place of the Starlark hooks.
func (s *goSMACross) step() bool {
	bars, _, ok := s.r.advance()
	for _, b := range bars {
		s.onBar(b)
	}
	return ok
}

func (s *goSMACross) onBar(bar Bar) {
	closes := s.r.history[bar.Symbol].last(s.slow + 1).closes.xs
	if len(closes) <= s.slow {
		return
	}
	fast, slow := mean(closes, s.fast), mean(closes, s.slow)
	prev := closes[:len(closes)-1]
	wasAbove := mean(prev, s.fast) > mean(prev, s.slow)
	above := fast > slow
	if above != wasAbove {
		side := "below"
		if above {
			side = "above"
		}
		s.r.out.Emit(KindLog, OriginStrategy, strings.Join([]string{bar.Symbol,
			"fast SMA crossed", side, "slow at", starlark.Float(bar.Close).String()}, " "))
	}
	target := 0.0
	if above {
		target = s.size
	}
	if _, err := s.r.setTarget(OriginStrategy, bar.Symbol, target, 0); err != nil {
		panic(err)
	}
}

// mean is the mean of the last n of xs, summed in the order sma() sums them.
func mean(xs []float64, n int) float64 {
	sum := 0.0
	for _, x := range xs[len(xs)-n:] {
		sum += x
	}
	return sum / float64(n)
}

// BenchmarkSMACross replays benchBars bars through sma_cross and the paper broker,
// once through the Starlark hooks of examples/sma_cross.star and once through the
// same strategy written in Go. Run it on one core with
//
//	go test -run '^$' -bench SMACross -benchtime 1x -count 5 -cpu 1 ./strategy/
//
// and compare the bars/s of the two; bars/cpu-s is less moved by other work on the
// machine. TestGoAndStarlarkSMACrossAgree checks that both sides trade alike.
func BenchmarkSMACross(b *testing.B) {
	b.Run("starlark", func(b *testing.B) {
		benchReplay(b, func(r *Runtime) func() bool { return r.Step })
	})
	b.Run("go", func(b *testing.B) {
		benchReplay(b, func(r *Runtime) func() bool { return newGoSMACross(b, r).step })
	})
}

func benchReplay(b *testing.B, stepper func(*Runtime) func() bool) {
	cfg := benchConfig(b)
	var elapsed, cpu time.Duration
	fills := 0
	for b.Loop() {
		b.StopTimer()
		out := &countingOutput{}
		r, err := New(cfg, out)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Start(); err != nil {
			b.Fatal(err)
		}
		step := stepper(r)
		b.StartTimer()

		start, startCPU := time.Now(), cpuTime(b)
		for range benchBars {
			step()
		}
		elapsed += time.Since(start)
		cpu += cpuTime(b) - startCPU

		if out.errors > 0 {
			b.Fatalf("%d error entries, the first: %s", out.errors, out.firstError)
		}
		fills = out.fills
	}
	b.ReportMetric(float64(benchBars)*float64(b.N)/elapsed.Seconds(), "bars/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(benchBars)/float64(b.N), "ns/bar")
	b.ReportMetric(float64(fills), "fills")
	// Bars per second of CPU time: what bars/s would be with the core to itself, on a
	// machine that runs other work too. Run with -cpu 1 for one core.
	b.ReportMetric(float64(benchBars)*float64(b.N)/cpu.Seconds(), "bars/cpu-s")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingOutput counts entries instead of keeping them.
type countingOutput struct {
	fills, errors int
	firstError    string
}

func (c *countingOutput) Emit(kind, origin, text string) {
	switch kind {
	case KindFill:
		c.fills++
	case KindError:
		if c.errors == 0 {
			c.firstError = text
		}
		c.errors++
	}
}

// BenchmarkCSVLoad reads a csv feed of two files of 250,000 rows each, as csvgen
// writes them, and reports rows per second.
func BenchmarkCSVLoad(b *testing.B) {
	const rows = 250_000
	dir := b.TempDir()
	for _, sym := range []string{"BTC", "ETH"} {
		var sb strings.Builder
		sb.WriteString("time,open,high,low,close,volume\n")
		t := syntheticStart
		for i := range rows {
			p := 100 + float64(i%1000)/100
			fmt.Fprintf(&sb, "%s,%.2f,%.2f,%.2f,%.2f,%.3f\n", t.Format(time.RFC3339), p,
				p+1, p-1, p+0.5, 12.5)
			t = t.Add(time.Minute)
		}
		writeFile(b, dir, sym+".csv", sb.String())
	}
	b.ReportAllocs()
	for b.Loop() {
		f, err := loadCSVFeed(filepath.Join(dir, "{symbol}.csv"), []string{"BTC", "ETH"})
		if err != nil || f.length() != rows {
			b.Fatal(f, err)
		}
	}
	b.ReportMetric(2*rows*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestGoAndStarlarkSMACrossAgree checks that the two sides of BenchmarkSMACross do the
// same work: the same orders and fills, to the last digit, over 20,000 bars.
func TestGoAndStarlarkSMACrossAgree(t *testing.T) {
	cfg := benchConfig(t)
	star, starOut := newRuntime(t, cfg)
	goRT, goOut := newRuntime(t, cfg)
	strategy := newGoSMACross(t, goRT)
	if err := star.Start(); err != nil {
		t.Fatal(err)
	}
	for range 20_000 {
		star.Step()
		strategy.step()
	}
	trades := func(rec *recorder) []entry {
		var list []entry
		for _, e := range rec.take() {
			if e.kind == KindOrder || e.kind == KindFill || e.kind == KindError {
				list = append(list, e)
			}
		}
		return list
	}
	a, b := trades(starOut), trades(goOut)
	if len(a) < 100 || !reflect.DeepEqual(a, b) {
		t.Fatalf("starlark made %d order and fill entries, go %d", len(a), len(b))
	}
	if sa, sb := star.Snapshot(), goRT.Snapshot(); sa.Equity != sb.Equity || sa.Fees != sb.Fees {
		t.Errorf("equity %v vs %v, fees %v vs %v", sa.Equity, sb.Equity, sa.Fees, sb.Fees)
	}
}
