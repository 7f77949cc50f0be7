package strategy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadYAML writes a config (and an empty strategy file s.star next to it) and loads it.
func loadYAML(t *testing.T, yml string) (*Config, string, error) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "s.star", "")
	path := writeFile(t, dir, "cfg.yml", yml)
	cfg, err := LoadConfig(path)
	return cfg, path, err
}

func TestLoadConfigDefaultsAndPaths(t *testing.T) {
	cfg, path, err := loadYAML(t, `name: demo
strategy: s.star
instruments: [BTCUSDT]
parameters: {fast: 10, ratio: 0.5, tag: x, on: true, levels: [1, 2.5], nested: {a: 1}}
`)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if cfg.Strategy != filepath.Join(dir, "s.star") || !filepath.IsAbs(cfg.Strategy) {
		t.Errorf("strategy = %q, want the absolute path next to the config", cfg.Strategy)
	}
	if cfg.Path != path {
		t.Errorf("path = %q, want %q", cfg.Path, path)
	}
	want := FeedConfig{Kind: FeedSynthetic, Timeframe: time.Minute, Interval: time.Second,
		Seed: 1}
	if cfg.Feed != want {
		t.Errorf("feed = %+v, want %+v", cfg.Feed, want)
	}
	if cfg.Account != (AccountConfig{Capital: 10000}) {
		t.Errorf("account = %+v", cfg.Account)
	}
	if cfg.Kernel != (KernelConfig{History: 1000, MaxSteps: 100_000_000}) {
		t.Errorf("kernel = %+v", cfg.Kernel)
	}
	p := cfg.Parameters
	if p["fast"] != int64(10) || p["ratio"] != 0.5 || p["tag"] != "x" || p["on"] != true {
		t.Errorf("parameters = %#v", p)
	}
	if l, ok := p["levels"].([]any); !ok || len(l) != 2 || l[1] != 2.5 {
		t.Errorf("levels = %#v", p["levels"])
	}
	if m, ok := p["nested"].(map[string]any); !ok || m["a"] != int64(1) {
		t.Errorf("nested = %#v", p["nested"])
	}
}

func TestLoadConfigExplicitZeroInterval(t *testing.T) {
	cfg, _, err := loadYAML(t, `name: demo
strategy: s.star
instruments: [BTCUSDT]
feed: {interval: 0, timeframe: 5m, seed: 7}
kernel: {max_steps: 0, history: 2e3}
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Feed.Interval != 0 || cfg.Feed.Timeframe != 5*time.Minute || cfg.Feed.Seed != 7 {
		t.Errorf("feed = %+v", cfg.Feed)
	}
	if cfg.Kernel.MaxSteps != 0 || cfg.Kernel.History != 2000 {
		t.Errorf("kernel = %+v, want no step limit and a history of 2000", cfg.Kernel)
	}
}

func TestLoadConfigUnknownKeySuggests(t *testing.T) {
	_, path, err := loadYAML(t, `name: demo
strategy: s.star
instruments: [BTCUSDT]
feed:
  intervall: 1s
`)
	if err == nil {
		t.Fatal("want an error")
	}
	want := path + `:5: unknown key "feed.intervall"; did you mean "interval"?`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
}

func TestLoadConfigMissingStrategyFile(t *testing.T) {
	_, path, err := loadYAML(t, `name: demo
strategy: nope.star
instruments: [BTCUSDT]
`)
	if err == nil {
		t.Fatal("want an error")
	}
	if !strings.HasPrefix(err.Error(), path+":2: strategy: file nope.star not found") {
		t.Errorf("error = %q", err)
	}
}

func TestLoadConfigBadDuration(t *testing.T) {
	_, path, err := loadYAML(t, `name: demo
strategy: s.star
instruments: [BTCUSDT]
feed: {interval: 5}
`)
	if err == nil {
		t.Fatal("want an error")
	}
	want := path + `:4: feed.interval: bad duration "5"`
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %q, want it to start with %q", err, want)
	}
}

func TestLoadConfigReportsEveryProblem(t *testing.T) {
	_, path, err := loadYAML(t, `name: Bad Name
strategy: s.star
intruments: [BTCUSDT]
feed:
  kind: synthetik
  timeframe: 1 minute
  seed: abc
account:
  capital: -5
kernel:
  history: 1.5
`)
	if err == nil {
		t.Fatal("want an error")
	}
	wants := []string{
		path + `:1: name "Bad Name": use only a-z, 0-9, _ and -`,
		path + `:3: unknown key "intruments"; did you mean "instruments"?`,
		path + `:5: feed.kind: unknown kind "synthetik"; want synthetic or csv; ` +
			`did you mean "synthetic"?`,
		path + `:6: feed.timeframe: bad duration "1 minute"`,
		path + `:7: feed.seed: want a whole number, got "abc"`,
		path + `:9: account.capital: must be more than 0`,
		path + `:11: kernel.history: want a whole number, got "1.5"`,
		path + `:1: missing instruments`,
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(wants) {
		t.Errorf("got %d problems, want %d:\n%s", len(lines), len(wants), err)
	}
	if !strings.HasPrefix(lines[0], path+":1: ") || !strings.HasPrefix(lines[len(lines)-1],
		path+":11: ") {
		t.Errorf("problems are not in line order:\n%s", err)
	}
	for _, w := range wants {
		found := false
		for _, l := range lines {
			found = found || strings.HasPrefix(l, w)
		}
		if !found {
			t.Errorf("no problem starting with %q in:\n%s", w, err)
		}
	}
}

func TestLoadConfigWrongTypes(t *testing.T) {
	_, path, err := loadYAML(t, `name: demo
strategy: [a, b]
instruments: BTCUSDT
feed: fast
`)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, w := range []string{
		path + ":2: strategy: want the path of a .star file, got a list",
		path + `:3: instruments: want a list of symbols like [BTCUSDT], got "BTCUSDT"`,
		path + `:4: feed: want a mapping, got "fast"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("no %q in:\n%s", w, err)
		}
	}
}

func TestLoadConfigYAMLSyntaxError(t *testing.T) {
	_, path, err := loadYAML(t, "name: demo\nstrategy: s.star\ninstruments: [BTCUSDT\n")
	if err == nil || !strings.HasPrefix(err.Error(), path+":") {
		t.Fatalf("error = %v, want one starting with %s:", err, path)
	}
}

func TestLoadConfigCSVNeedsPath(t *testing.T) {
	_, path, err := loadYAML(t, `name: demo
strategy: s.star
instruments: [BTCUSDT]
feed: {kind: csv}
`)
	if err == nil || !strings.Contains(err.Error(), path+":4: feed: a csv feed needs a path") {
		t.Fatalf("error = %v", err)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"capital", "fee_bps", "slippage_bps"}
	if got := suggest("capitol", known); got != `; did you mean "capital"?` {
		t.Errorf("suggest(capitol) = %q", got)
	}
	if got := suggest("zzzzzz", known); got != "" {
		t.Errorf("suggest(zzzzzz) = %q, want none", got)
	}
}

func TestLoadConfigKeyInTheWrongSection(t *testing.T) {
	_, path, err := loadYAML(t, `name: demo
strategy: s.star
instruments: [BTCUSDT]
fee_bps: 4
feed:
  capital: 5
  history: 10
`)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, w := range []string{
		path + `:4: unknown key "fee_bps"; it belongs under account:`,
		path + `:6: unknown key "feed.capital"; it belongs under account: (feed keys: `,
		path + `:7: unknown key "feed.history"; it belongs under kernel: (feed keys: `,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("no %q in:\n%s", w, err)
		}
	}
}

func TestLoadConfigCSVPathPerInstrument(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "s.star", "")
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "data"), "BTCUSDT.csv", "")
	path := writeFile(t, dir, "cfg.yml", `name: demo
strategy: s.star
instruments: [BTCUSDT, ETHUSDT]
feed: {kind: csv, path: "data/{symbol}.csv"}
`)
	_, err := LoadConfig(path)
	want := path + ":4: feed.path (ETHUSDT): file data/ETHUSDT.csv not found (looked for " +
		filepath.Join(dir, "data", "ETHUSDT.csv") + ")"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}

	writeFile(t, filepath.Join(dir, "data"), "ETHUSDT.csv", "")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "data", "{symbol}.csv"); cfg.Feed.Path != want {
		t.Errorf("feed.path = %q, want %q", cfg.Feed.Path, want)
	}

	path = writeFile(t, dir, "cfg.yml", `name: demo
strategy: s.star
instruments: [BTCUSDT]
feed: {kind: csv, path: "data/{sym}.csv"}
`)
	_, err = LoadConfig(path)
	if err == nil || !strings.Contains(err.Error(),
		":4: feed.path: unknown placeholder {sym}; the only one is {symbol}") {
		t.Errorf("error = %v", err)
	}
}
