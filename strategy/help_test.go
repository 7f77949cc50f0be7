package strategy

import (
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	cfg := testConfig(t, `
def on_bar(ctx, bar):
    """Buys the dip."""
    pass

def scale(x, factor=2, *rest, **opts):
    return x * factor
`)
	r, _ := newRuntime(t, cfg)
	r.Step()
	cases := []struct{ code, want string }{
		{"help(ctx.trade)", CtxDocs["trade"]},
		{"help(ctx.set_target_position)", CtxDocs["set_target_position"]},
		{`help("ctx.params")`, CtxDocs["params"]},
		{`help("instruments")`, CtxDocs["instruments"]},
		{"help(sma)", HelperDocs["sma"]},
		{"help(help)", HelperDocs["help"]},
		{"help(portfolio)", HelperDocs["portfolio"]},
		{`help("on_fill")`, HookDocs[HookFill]},
		{"help(ctx.ohlc('BTCUSDT'))", typeDocs["bars"]},
		{"help(ctx.ohlc('BTCUSDT').close)", typeDocs["series"]},
		{"help(ctx.ohlc('BTCUSDT')[-1])", typeDocs["bar"]},
		{"help(ctx.get_position('BTCUSDT'))", typeDocs["position"]},
		{"help(len)", "len(...): a Starlark built-in function; see https://"},
		{"help(on_bar)", "on_bar(ctx, bar), defined at " + cfg.Strategy + ":2:1\n" +
			"Buys the dip.\nHook: " + HookDocs[HookBar]},
		{"help(scale)", "scale(x, factor=2, *rest, **opts), defined at " + cfg.Strategy +
			":6:1\n(no docstring)"},
		{"help(3)", "an int value; help works on"},
	}
	for _, c := range cases {
		if got := exec(t, r, "alice", c.code); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s =\n%s\nwant it to start with\n%s", c.code, got, c.want)
		}
	}

	// help(ctx) documents every member; help() names them all.
	all := exec(t, r, "alice", "help(ctx)")
	overview := exec(t, r, "alice", "help()")
	for name, doc := range CtxDocs {
		if !strings.Contains(all, doc) {
			t.Errorf("help(ctx) lacks %s", name)
		}
		if !strings.Contains(overview, name) {
			t.Errorf("help() lacks %s", name)
		}
	}
	for name := range HelperDocs {
		if !strings.Contains(overview, name) {
			t.Errorf("help() lacks %s", name)
		}
	}

	if _, err := r.Exec("alice", `help("nothing_here")`); err == nil ||
		!strings.Contains(err.Error(), `no help for "nothing_here"; help() lists`) {
		t.Errorf("help of an unknown name: %v", err)
	}
}

// TestEveryCtxMemberIsDocumented checks CtxDocs against the members ctx really has,
// both ways, and that each doc starts with the member's own name.
func TestEveryCtxMemberIsDocumented(t *testing.T) {
	r, _ := newRuntime(t, testConfig(t, ""))
	members := map[string]bool{"instruments": true, "params": true}
	for name := range r.ctx.members {
		members[name] = true
	}
	for name := range members {
		doc, ok := CtxDocs[name]
		if !ok {
			t.Errorf("ctx.%s has no doc", name)
			continue
		}
		if !strings.HasPrefix(doc, "ctx."+name) {
			t.Errorf("doc of ctx.%s starts %q", name, doc)
		}
	}
	for name := range CtxDocs {
		if !members[name] {
			t.Errorf("CtxDocs documents ctx.%s, which does not exist", name)
		}
	}

	// The table of DESIGN.md, by name.
	for _, name := range []string{"time", "instruments", "quote", "ohlc", "get_position",
		"get_positions", "get_orders", "trade", "set_target_position", "close_position",
		"close_positions", "cancel_order", "cancel_orders", "get_total_capital",
		"get_balance", "params", "pause", "resume", "is_running", "log"} {
		if !members[name] {
			t.Errorf("ctx.%s is missing", name)
		}
	}
}
