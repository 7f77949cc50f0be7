package strategy

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// entry is one thing a Runtime emitted.
type entry struct {
	kind, origin, text string
}

// recorder is an Output that keeps every entry and can signal when a given text shows up.
type recorder struct {
	mu      sync.Mutex
	entries []entry
	watch   string        // text to watch for
	seen    chan struct{} // closed when an entry containing watch arrives
}

func (r *recorder) Emit(kind, origin, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, entry{kind, origin, text})
	if r.seen != nil && r.watch != "" && strings.Contains(text, r.watch) {
		close(r.seen)
		r.seen = nil
	}
}

// take returns the entries so far and forgets them.
func (r *recorder) take() []entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.entries
	r.entries = nil
	return e
}

// ofKind returns the entries of one kind, and forgets all entries.
func (r *recorder) ofKind(kind string) []entry {
	var list []entry
	for _, e := range r.take() {
		if e.kind == kind {
			list = append(list, e)
		}
	}
	return list
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// testConfig returns a config for script, trading the given instruments on a
// synthetic feed, with no fees and no slippage.
func testConfig(t testing.TB, script string, instruments ...string) *Config {
	t.Helper()
	if len(instruments) == 0 {
		instruments = []string{"BTCUSDT"}
	}
	dir := t.TempDir()
	return &Config{
		Path:        filepath.Join(dir, "test.yml"),
		Name:        "test",
		Strategy:    writeFile(t, dir, "test.star", script),
		Parameters:  map[string]any{},
		Instruments: instruments,
		Feed: FeedConfig{
			Kind: FeedSynthetic, Timeframe: DefaultTimeframe, Seed: 1,
		},
		Account: AccountConfig{Capital: 10000},
		Kernel:  KernelConfig{History: 100, MaxSteps: 1_000_000},
	}
}

// csvConfig switches cfg to a csv feed holding rows.
func csvConfig(t *testing.T, cfg *Config, rows string) {
	t.Helper()
	cfg.Feed.Kind = FeedCSV
	cfg.Feed.Path = writeFile(t, filepath.Dir(cfg.Strategy), "bars.csv", rows)
}

func newRuntime(t *testing.T, cfg *Config) (*Runtime, *recorder) {
	t.Helper()
	rec := &recorder{}
	r, err := New(cfg, rec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r, rec
}

// exec runs code and fails the test on an error.
func exec(t *testing.T, r *Runtime, origin, code string) string {
	t.Helper()
	out, err := r.Exec(origin, code)
	if err != nil {
		t.Fatalf("Exec(%q): %v", code, err)
	}
	return out
}
