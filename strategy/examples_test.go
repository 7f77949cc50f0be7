package strategy

import (
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runExample runs an example config for up to bars bar times, between on_start and
// on_stop, and returns its entries; an error entry fails the test.
func runExample(t *testing.T, name string, bars int) []entry {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join("..", "examples", name+".yml"))
	if err != nil {
		t.Fatal(err)
	}
	r, rec := newRuntime(t, cfg)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < bars && r.Step(); i++ {
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	entries := rec.take()
	for _, e := range entries {
		if e.kind == KindError {
			t.Errorf("%s: error entry: %s", name, e.text)
		}
	}
	checkEquity(t, r)
	return entries
}

func count(entries []entry, kind, text string) int {
	n := 0
	for _, e := range entries {
		if e.kind == kind && strings.Contains(e.text, text) {
			n++
		}
	}
	return n
}

func TestExampleRSILimits(t *testing.T) {
	entries := runExample(t, "rsi_limits", 3000)
	limits, cancels := count(entries, KindOrder, " limit ("), count(entries, KindOrder,
		"cancelled ")
	wins, losses := count(entries, KindLog, ": won, "), count(entries, KindLog, ": lost, ")
	if limits < 20 || cancels == 0 || wins == 0 || losses == 0 {
		t.Errorf("3000 bars: %d limit orders, %d cancelled, %d won, %d lost", limits,
			cancels, wins, losses)
	}
	scores := 0
	for _, e := range entries {
		if regexp.MustCompile(`^[A-Z]+: \d+ won, \d+ lost$`).MatchString(e.text) {
			scores++
		}
	}
	if scores != 3 {
		t.Errorf("on_stop scored %d instruments, want 3", scores)
	}
}

func TestExampleCSVBreakout(t *testing.T) {
	entries := runExample(t, "csv_breakout", 1<<30)
	trades := count(entries, KindFill, "filled ")
	closes := count(entries, KindLog, "- closing")
	if trades < 10 || closes < 5 || count(entries, KindLog, "breakout: ") != 2 {
		t.Errorf("replay of the csv example: %d fills, %d closing logs", trades, closes)
	}
}

// TestExampleDataIsWhatCSVGenWrites regenerates the example data in a temporary folder
// and compares it with the committed files, so that they never drift apart.
func TestExampleDataIsWhatCSVGenWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs examples/csvgen")
	}
	out := t.TempDir()
	runGo(t, "run", "../examples/csvgen", "-out", out)
	for _, name := range []string{"BTCUSDT_1h.csv", "ETHUSDT_1h.csv"} {
		want, err := os.ReadFile(filepath.Join("..", "examples", "data", name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("examples/data/%s differs from what csvgen writes; "+
				"run go run ./examples/csvgen", name)
		}
	}
}

// runGo runs the go command.
func runGo(t *testing.T, args ...string) {
	t.Helper()
	if out, err := osexec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
}
