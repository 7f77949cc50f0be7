package kernel

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzExec feeds REPL input to one kernel: whatever comes in, the kernel must not
// panic (a recovered panic shows as an "internal error" entry), must not hang, and
// must still answer the next input. The seed corpus runs under plain `go test`; fuzz
// with `go test -run '^$' -fuzz FuzzExec ./kernel/`.
func FuzzExec(f *testing.F) {
	for _, code := range []string{
		"1 + 1",
		"(",
		"[1, 2",
		"{'a': ",
		"def f(:\n",
		"'unterminated",
		`"""never closed`,
		"if True:\n  x = 1\n y = 2",
		"\x00\xff\xfe",
		"\t\t\t",
		"x = " + strings.Repeat("[", 10000),
		strings.Repeat("(", 50000) + "1" + strings.Repeat(")", 50000),
		"'" + strings.Repeat("x", 1<<20) + "'",
		"print('x' * (1 << 20))",
		"'y' * (1 << 20)",
		"def f(n):\n    return f(n + 1)\n\nf(0)",
		"while True:\n    pass",
		"for i in range(1000000000):\n    pass",
		"x = []\nfor i in range(2000):\n    x = [x]\n\nx",
		"d = {}\nd['d'] = d\nd",
		"l = []\nl.append(l)\nl",
		"s = set([1])\ns.add(s)",
		"1 / 0",
		"None.x",
		"fail('on purpose')",
		"load('other.star', 'x')",
		"lambda: 1",
		"ctx.trade('NOPE', 1)",
		"ctx.trade('BTCUSDT', float('nan'))",
		"ctx.trade('BTCUSDT', 1e308, price=1e308)",
		"ctx.trade('BTCUSDT', -1e-300)",
		"ctx.cancel_order('o999999999999999999999')",
		"ctx.ohlc('BTCUSDT', length=1 << 62)",
		"ctx.quote('BTCUSDT')",
		"ctx.params['self'] = ctx.params\nctx.params",
		"ctx.pause()\nctx.resume()\nctx.is_running()",
		"def on_bar(ctx, bar):\n    fail('broken')\n",
		"on_start = 42",
		"portfolio()\norders()",
		"sma([1, 2, 3], 2)",
		"sma([], 0)",
		"ema([1], -1)",
		"rsi([1] * 1000, 14)",
		"round(1e308 * 10, 2)",
		"sum([1e308, 1e308])",
		"ctx.log('x' * 100000)",
		"'%s' % ctx",
		"ctx = None\nctx",
	} {
		f.Add(code)
	}

	cfg := kernelConfig(f, "1h", "kernel: {history: 100, max_steps: 100000}\n", "")
	k, err := New(cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { k.Stop("test") })

	f.Fuzz(func(t *testing.T, code string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := k.Exec(ctx, alice, code)
		if ctx.Err() != nil {
			t.Fatalf("the kernel did not answer %q within 20s", clip(code))
		}
		if err != nil && strings.TrimSpace(code) != "" {
			t.Fatalf("exec %q: %v", clip(code), err)
		}
		for _, e := range r.Entries {
			if e.Kind == KindError && (strings.Contains(e.Text, "internal error during") ||
				strings.Contains(e.Text, "internal error in ")) {
				t.Errorf("%q hit a bug in Go code: %s", clip(code), clip(e.Text))
			}
			if len(e.Text) > MaxEntryText+200 {
				t.Errorf("%q made an entry of %d bytes", clip(code), len(e.Text))
			}
		}
		r, err = k.Exec(ctx, alice, "1 + 1")
		if err != nil || len(r.Entries) != 1 || r.Entries[0].Text != "2" {
			t.Fatalf("after %q the kernel answers 1 + 1 with %q, %v", clip(code),
				texts(r.Entries), err)
		}
	})
}

// clip shortens text for a failure message.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
