package strategy

import (
	"strings"
	"testing"
)

func TestCheckSummarises(t *testing.T) {
	cfg, err := LoadConfig("../examples/sma_cross.yml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Check(cfg)
	want := "strategy sma_cross.star, 2 instruments (BTCUSDT, ETHUSDT), synthetic feed of " +
		"1m bars, one every 1s, seed 42, hooks on_start, on_bar"
	if err != nil || got != want {
		t.Errorf("Check = %q, %v\nwant    %q", got, err, want)
	}

	csv := testConfig(t, "def on_fill(ctx, fill):\n    pass\n", "X")
	csvConfig(t, csv, "1704067200,1,2,1,1,1\n1704067260,1,2,1,1,1\n")
	csv.Feed.Interval = 0
	got, err = Check(csv)
	want = "strategy test.star, 1 instrument (X), csv feed bars.csv, 2 bar times, " +
		"as fast as possible, hooks on_fill"
	if err != nil || got != want {
		t.Errorf("Check = %q, %v\nwant    %q", got, err, want)
	}
}

func TestHooksMustTakeTheirArguments(t *testing.T) {
	cases := []struct{ script, want string }{
		{"def on_bar(ctx):\n    pass\n",
			":1:1: on_bar must take 2 arguments, as in on_bar(ctx, bar)"},
		{"def on_start(ctx, bar):\n    pass\n",
			":1:1: on_start must take 1 argument, as in on_start(ctx)"},
		{"def on_fill(ctx, fill, *, strict):\n    pass\n", ":1:1: on_fill must take"},
		{"on_stop = 3\n", ": on_stop must be a function, got int"},
	}
	for _, c := range cases {
		cfg := testConfig(t, c.script)
		_, err := New(cfg, nil)
		if err == nil || !strings.Contains(err.Error(), cfg.Strategy+c.want) {
			t.Errorf("%q: error %v, want %q", c.script, err, c.want)
		}
	}

	for _, ok := range []string{
		"def on_bar(ctx, bar, extra=1):\n    pass\n",
		"def on_bar(*args):\n    pass\n",
		"def on_start(ctx, **opts):\n    pass\n",
		"def on_fill(ctx, fill, *, verbose=False):\n    pass\n",
		"on_bar = None\n",
		"def f(ctx, bar):\n    pass\non_bar = f\n",
	} {
		if _, err := New(testConfig(t, ok), nil); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}
