package strategy

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

func TestNewSyntaxErrorNamesFileLineCol(t *testing.T) {
	cfg := testConfig(t, "x = 1\ny = )\n")
	_, err := New(cfg, &recorder{})
	if err == nil {
		t.Fatal("want a syntax error")
	}
	want := regexp.QuoteMeta(cfg.Strategy) + `:2:\d+: `
	if !regexp.MustCompile("^" + want).MatchString(err.Error()) {
		t.Errorf("error = %q, want it to start with %s:2:COL:", err, cfg.Strategy)
	}
}

func TestNewRuntimeErrorNamesFileLine(t *testing.T) {
	cfg := testConfig(t, "x = 1\ny = x / 0\n")
	_, err := New(cfg, &recorder{})
	if err == nil {
		t.Fatal("want a runtime error")
	}
	if !strings.Contains(err.Error(), cfg.Strategy+":2:") ||
		!strings.Contains(err.Error(), "division by zero") {
		t.Errorf("error = %q", err)
	}
}

func TestNewUndefinedNameIsReported(t *testing.T) {
	cfg := testConfig(t, "def on_bar(ctx, bar):\n    return undefined_thing\n")
	_, err := New(cfg, &recorder{})
	if err == nil || !strings.Contains(err.Error(), cfg.Strategy+":2:12: undefined: "+
		"undefined_thing") {
		t.Fatalf("error = %v", err)
	}
}

func TestExecExpressionsAndStatements(t *testing.T) {
	r, _ := newRuntime(t, testConfig(t, "def double(x):\n    return 2 * x\n"))

	cases := []struct{ code, want string }{
		{"x = 40", ""},
		{"x + 2", "42"},
		{"double(x)", "80"},    // the REPL sees what the file defined
		{"y = 1\ny + x", "41"}, // statements, then the last expression's value
		{"'a' + 'b'", `"ab"`},  // repr, as in Python's REPL
		{"None", ""},           // None shows nothing
		{"print", "<built-in function print>"},
		{"def f(n):\n    if n == 0:\n        return 1\n    return n * f(n - 1)\n", ""},
		{"f(5)", "120"}, // recursion is on
		{"s = set([1, 2, 2])\nlen(s)", "2"},
		{"n = 0\nwhile n < 3:\n    n += 1\nn", "3"},
		{"x = x + 1\nx", "41"}, // globals may be reassigned
		{"", ""},
	}
	for _, c := range cases {
		if got := exec(t, r, "alice", c.code); got != c.want {
			t.Errorf("Exec(%q) = %q, want %q", c.code, got, c.want)
		}
	}
}

func TestExecErrors(t *testing.T) {
	r, _ := newRuntime(t, testConfig(t, ""))

	_, err := r.Exec("alice", "x = (1,")
	if err == nil || !regexp.MustCompile(`^<input>:1:\d+: `).MatchString(err.Error()) {
		t.Errorf("syntax error = %v, want <input>:LINE:COL: ...", err)
	}

	_, err = r.Exec("alice", "nope + 1")
	if err == nil || err.Error() != "<input>:1:1: undefined: nope" {
		t.Errorf("undefined name error = %v", err)
	}

	_, err = r.Exec("alice", "def g():\n    return 1 // 0\ng()")
	if err == nil {
		t.Fatal("want a runtime error")
	}
	for _, want := range []string{"Traceback", "<input>:2:", "in g", "division by zero"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("runtime error %q lacks %q", err, want)
		}
	}

	_, err = r.Exec("alice", `ctx.trade("DOGE", 1)`)
	if err == nil || !strings.Contains(err.Error(),
		`Error in ctx.trade: unknown instrument "DOGE"; instruments: BTCUSDT`) {
		t.Errorf("unknown symbol error = %v", err)
	}
}

func TestExecRedefinesHook(t *testing.T) {
	cfg := testConfig(t, "def on_bar(ctx, bar):\n    print('old', bar.symbol)\n")
	r, rec := newRuntime(t, cfg)

	r.Step()
	if got := rec.ofKind(KindStdout); len(got) != 1 || got[0].text != "old BTCUSDT" {
		t.Fatalf("first bar printed %v", got)
	}

	exec(t, r, "alice", "def on_bar(ctx, bar):\n    print('new', bar.symbol)\n")
	r.Step()
	got := rec.ofKind(KindStdout)
	if len(got) != 1 || got[0] != (entry{KindStdout, OriginStrategy, "new BTCUSDT"}) {
		t.Fatalf("bar after redefining printed %v", got)
	}
}

func TestOriginsOfOutput(t *testing.T) {
	cfg := testConfig(t, `
def on_start(ctx):
    ctx.log("starting")

def on_bar(ctx, bar):
    print("bar", bar.symbol)

def on_fill(ctx, fill):
    ctx.log("fill of", fill.order_id, "by", fill.origin)
`)
	r, rec := newRuntime(t, cfg)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	exec(t, r, "alice", `print("hi")`)
	exec(t, r, "alice", `ctx.log("note")`)
	exec(t, r, "alice", `ctx.trade("BTCUSDT", 0.5)`)
	r.Step()

	want := []entry{
		{KindLog, OriginStrategy, "starting"},
		{KindStdout, "alice", "hi"},
		{KindLog, "alice", "note"},
		{KindOrder, "alice", "buy 0.5 BTCUSDT @ market (o1)"},
		{KindFill, "alice", ""},
		{KindLog, OriginStrategy, "fill of o1 by alice"},
		{KindStdout, OriginStrategy, "bar BTCUSDT"},
	}
	got := rec.take()
	if len(got) != len(want) {
		t.Fatalf("got entries %v, want %v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.kind != w.kind || g.origin != w.origin ||
			(w.text != "" && g.text != w.text) {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.HasPrefix(got[4].text, "filled o1: buy 0.5 BTCUSDT @ ") {
		t.Errorf("fill text = %q", got[4].text)
	}
}

func TestStartAndStopReturnHookErrors(t *testing.T) {
	cfg := testConfig(t, "def on_start(ctx):\n    fail('no start')\n"+
		"def on_stop(ctx):\n    fail('no stop')\n")
	r, _ := newRuntime(t, cfg)
	if err := r.Start(); err == nil || !strings.Contains(err.Error(), "no start") ||
		!strings.Contains(err.Error(), cfg.Strategy+":2:") {
		t.Errorf("Start = %v", err)
	}
	if err := r.Stop(); err == nil || !strings.Contains(err.Error(), "no stop") {
		t.Errorf("Stop = %v", err)
	}

	quiet, _ := newRuntime(t, testConfig(t, ""))
	if err := quiet.Start(); err != nil {
		t.Errorf("Start without on_start = %v", err)
	}
	if err := quiet.Stop(); err != nil {
		t.Errorf("Stop without on_stop = %v", err)
	}
}

func TestStepLimit(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Kernel.MaxSteps = 10_000
	r, _ := newRuntime(t, cfg)
	_, err := r.Exec("alice", "while True:\n    pass\n")
	if err == nil || !strings.Contains(err.Error(),
		"step limit of 10000 exceeded (kernel.max_steps)") {
		t.Fatalf("error = %v", err)
	}
	// A fresh thread for the next input: the limit does not carry over.
	if got := exec(t, r, "alice", "1 + 1"); got != "2" {
		t.Errorf("after the limit, 1 + 1 = %q", got)
	}
}

func TestCancelStopsRunningCode(t *testing.T) {
	cfg := testConfig(t, "")
	cfg.Kernel.MaxSteps = 0 // no limit: only Cancel can stop the loop
	rec := &recorder{watch: "looping", seen: make(chan struct{})}
	r, err := New(cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	seen := rec.seen

	// A cancel with nothing running stays in force until ClearCancel, so the next
	// code fails at once; once cleared, code runs again.
	r.Cancel("nothing runs")
	if _, err := r.Exec("alice", "1"); err == nil || !strings.Contains(err.Error(), "nothing runs") {
		t.Fatalf("code after an early Cancel: err = %v, want the cancel's reason", err)
	}
	r.ClearCancel()

	done := make(chan error, 1)
	go func() {
		_, err := r.Exec("alice", "print('looping')\nwhile True:\n    pass\n")
		done <- err
	}()
	<-seen
	r.Cancel("interrupted by bob")
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "interrupted by bob") {
			t.Fatalf("error = %v, want one naming the reason", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Cancel did not stop the loop within 5s")
	}

	r.ClearCancel()
	if got := exec(t, r, "alice", "2 * 3"); got != "6" {
		t.Errorf("after Cancel, 2 * 3 = %q", got)
	}
}

func TestPanicInBuiltinBecomesError(t *testing.T) {
	r, _ := newRuntime(t, testConfig(t, ""))
	r.globals["boom"] = builtin("ctx.boom", func(*starlark.Thread, starlark.Tuple,
		[]starlark.Tuple) (starlark.Value, error) {
		var m map[string]int
		m["x"] = 1 // panics: assignment to entry in nil map
		return starlark.None, nil
	})
	_, err := r.Exec("alice", "boom()")
	if err == nil || !strings.Contains(err.Error(), "internal error in ctx.boom: ") {
		t.Fatalf("error = %v", err)
	}
	if got := exec(t, r, "alice", "1"); got != "1" {
		t.Errorf("after a panic, 1 = %q", got)
	}
}

func TestFailingHookPausesAfterTwentyFailures(t *testing.T) {
	cfg := testConfig(t, "def on_bar(ctx, bar):\n    fail('broken')\n")
	r, rec := newRuntime(t, cfg)

	for range MaxHookFailures - 1 {
		r.Step()
	}
	errs := rec.ofKind(KindError)
	if len(errs) != MaxHookFailures-1 || r.Snapshot().HooksPaused {
		t.Fatalf("after %d failures: %d errors, paused %v", MaxHookFailures-1, len(errs),
			r.Snapshot().HooksPaused)
	}
	if e := errs[0]; e.origin != OriginStrategy || !strings.HasPrefix(e.text, "on_bar: ") ||
		!strings.Contains(e.text, "broken") || !strings.Contains(e.text, cfg.Strategy+":2:") {
		t.Errorf("hook error entry = %+v", e)
	}

	r.Step()
	errs = rec.ofKind(KindError)
	if len(errs) != 2 || !r.Snapshot().HooksPaused {
		t.Fatalf("20th failure: errors %v, paused %v", errs, r.Snapshot().HooksPaused)
	}
	if !strings.Contains(errs[1].text, "ctx.resume()") {
		t.Errorf("pause message %q does not say how to resume", errs[1].text)
	}

	if !r.Step() || len(rec.ofKind(KindError)) != 0 {
		t.Error("paused hooks still ran, or the feed stopped")
	}
	if got := exec(t, r, "alice", "ctx.is_running()"); got != "False" {
		t.Errorf("ctx.is_running() = %s while paused", got)
	}

	exec(t, r, "alice", "def on_bar(ctx, bar):\n    print('fixed')\nctx.resume()")
	r.Step()
	if got := rec.ofKind(KindStdout); len(got) != 1 || got[0].text != "fixed" {
		t.Errorf("after resume: %v", got)
	}
}

func TestFailureCountResetsOnSuccess(t *testing.T) {
	cfg := testConfig(t, `
state = {"n": 0}
def on_bar(ctx, bar):
    state["n"] += 1
    if state["n"] % 10 == 0:
        return
    fail("flaky")
`)
	r, _ := newRuntime(t, cfg)
	for range 3 * MaxHookFailures {
		r.Step()
	}
	if r.Snapshot().HooksPaused {
		t.Error("hooks paused although they never failed 20 times in a row")
	}
}

func TestPauseAndResumeFromScript(t *testing.T) {
	cfg := testConfig(t, "def on_bar(ctx, bar):\n    print(ctx.time())\n")
	r, rec := newRuntime(t, cfg)
	exec(t, r, "alice", "ctx.pause()")
	r.Step()
	if got := rec.ofKind(KindStdout); len(got) != 0 {
		t.Errorf("paused on_bar printed %v", got)
	}
	exec(t, r, "alice", "ctx.resume()")
	r.Step()
	got := rec.ofKind(KindStdout)
	if len(got) != 1 || got[0].text != "2024-01-01T00:01:00Z" {
		t.Errorf("resumed on_bar printed %v", got)
	}
}

func TestCtxMembers(t *testing.T) {
	cfg := testConfig(t, "", "BTCUSDT", "ETHUSDT")
	cfg.Parameters = map[string]any{"fast": int64(10), "levels": []any{1.5, "x"}}
	r, _ := newRuntime(t, cfg)

	if got := exec(t, r, "alice", "ctx.time()"); got != "" {
		t.Errorf("ctx.time() before the first bar = %s, want None", got)
	}
	r.Step()
	r.Step()

	cases := []struct{ code, want string }{
		{"ctx.time()", `"2024-01-01T00:01:00Z"`},
		{"ctx.instruments", `["BTCUSDT", "ETHUSDT"]`},
		{"ctx.params", `{"fast": 10, "levels": [1.5, "x"]}`},
		{"ctx.params['fast'] = 20\nctx.params['fast']", "20"},
		{"len(ctx.ohlc('BTCUSDT'))", "2"},
		{"len(ctx.ohlc('ETHUSDT', length=1))", "1"},
		{"b = ctx.ohlc('ETHUSDT')[-1]\nb.symbol, b.time", `("ETHUSDT", "2024-01-01T00:01:00Z")`},
		{"b.high >= b.close and b.low <= b.open", "True"},
		{"ctx.quote('BTCUSDT').last == ctx.ohlc('BTCUSDT')[-1].close", "True"},
		{"ctx.get_balance()", "10000.0"},
		{"ctx.get_total_capital()", "10000.0"},
		{"ctx.get_positions()", "{}"},
		{"ctx.get_position('BTCUSDT').quantity", "0.0"},
		{"ctx.is_running()", "True"},
		{"ctx.get_orders()", "[]"},
		{"o = ctx.trade('ETHUSDT', -2, price=5000)\no.side, o.quantity, o.price, o.status",
			`("sell", 2.0, 5000.0, "open")`},
		{"len(ctx.get_orders('ETHUSDT')), len(ctx.get_orders('BTCUSDT'))", "(1, 0)"},
		{"ctx.cancel_order(o)", "True"},
		{"ctx.cancel_order('o1')", "False"},
		{"ctx.trade('BTCUSDT', 1).price", ""},
		{"ctx.trade('ETHUSDT', 1)\nctx.cancel_orders()", "2"},
	}
	for _, c := range cases {
		if got := exec(t, r, "alice", c.code); got != c.want {
			t.Errorf("%s = %s, want %s", c.code, got, c.want)
		}
	}

	for _, name := range r.ctx.AttrNames() {
		if v, err := r.ctx.Attr(name); v == nil || err != nil {
			t.Errorf("ctx.%s is documented but missing", name)
		}
	}
}

func TestOrdersAndPortfolioTables(t *testing.T) {
	r, _ := newRuntime(t, testConfig(t, ""))
	if got := exec(t, r, "alice", "orders()"); got != "no open orders" {
		t.Errorf("orders() = %q", got)
	}
	exec(t, r, "alice", "ctx.trade('BTCUSDT', 0.5)")
	exec(t, r, "bob", "ctx.trade('BTCUSDT', -0.25, price=40000)")
	got := exec(t, r, "alice", "orders()")
	want := "" +
		"id  symbol   side  quantity     price  time  origin\n" +
		"o1  BTCUSDT  buy        0.5    market  -     alice\n" +
		"o2  BTCUSDT  sell      0.25  40000.00  -     bob"
	if got != want {
		t.Errorf("orders() =\n%s\nwant\n%s", got, want)
	}

	r.Step()
	got = exec(t, r, "alice", "portfolio()")
	// The market order filled at the first open, 30000, with no fees or slippage.
	if !strings.HasPrefix(got, "symbol   quantity  avg_price") ||
		!strings.Contains(got, "\nBTCUSDT       0.5   30000.00 ") ||
		!strings.Contains(got, "cash -5000.00   equity ") {
		t.Errorf("portfolio() =\n%s", got)
	}
}

// TestSameSeedSameFills runs the example strategy twice on the same seed: the entries,
// fills included, are the same; another seed trades differently.
func TestSameSeedSameFills(t *testing.T) {
	run := func(seed int64) []entry {
		cfg, err := LoadConfig("../examples/sma_cross.yml")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Feed.Seed = seed
		r, rec := newRuntime(t, cfg)
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		for range 2000 {
			r.Step()
		}
		return rec.take()
	}
	a, b, c := run(42), run(42), run(43)
	fills := 0
	for _, e := range a {
		if e.kind == KindFill {
			fills++
		}
	}
	if fills < 10 || !reflect.DeepEqual(a, b) {
		t.Errorf("seed 42 twice: %d and %d entries, %d fills, equal %v", len(a), len(b), fills,
			reflect.DeepEqual(a, b))
	}
	if reflect.DeepEqual(a, c) {
		t.Error("seeds 42 and 43 made the same entries")
	}
}
