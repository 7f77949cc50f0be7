package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkRun runs `stratd check` in this process.
func checkRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errs bytes.Buffer
	code = execute(append([]string{"check", "--home", t.TempDir()}, args...),
		strings.NewReader(""), &out, &errs)
	return out.String(), errs.String(), code
}

func TestCheckExamples(t *testing.T) {
	for _, name := range []string{"sma_cross", "rsi_limits"} {
		path := filepath.Join("..", "..", "examples", name+".yml")
		out, errs, code := checkRun(t, path)
		if code != 0 || !strings.HasPrefix(out, "ok: "+name+" (strategy "+name+".star, ") ||
			errs != "" {
			t.Errorf("check %s: code %d, stdout %q, stderr %q", name, code, out, errs)
		}
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "s.star"), []byte("def on_bar(ctx, bar):\n"+
		"    ctx.trade(bar.symbol, 1\n"), 0o600))
	cfg := filepath.Join(dir, "bad.yml")
	must(t, os.WriteFile(cfg, []byte("name: bad\nstrategy: s.star\ninstruments: [X]\n"+
		"feed: {kind: synthetic, sede: 3, interval: soon}\naccount: {capital: -1}\n"), 0o600))

	out, errs, code := checkRun(t, cfg)
	if code != 1 || out != "" {
		t.Errorf("bad config: code %d, stdout %q", code, out)
	}
	for _, want := range []string{
		cfg + `:4: unknown key "feed.sede"; did you mean "seed"?`,
		cfg + `:4: feed.interval: bad duration "soon"`,
		cfg + `:5: account.capital: must be more than 0`,
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}

	// With the config fixed, the strategy's syntax error is next, with its place.
	must(t, os.WriteFile(cfg, []byte("name: bad\nstrategy: s.star\ninstruments: [X]\n"), 0o600))
	_, errs, code = checkRun(t, cfg)
	if code != 1 || !strings.Contains(errs, filepath.Join(dir, "s.star")+":3:1: ") {
		t.Errorf("syntax error: code %d, stderr %q", code, errs)
	}

	_, errs, code = checkRun(t, filepath.Join(dir, "none.yml"))
	if code != 1 || !strings.Contains(errs, "none.yml: no such file") {
		t.Errorf("missing config: code %d, stderr %q", code, errs)
	}
	if _, _, code = checkRun(t); code != 2 {
		t.Errorf("check without CONFIG: code %d, want 2", code)
	}
}
