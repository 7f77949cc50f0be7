package strategy

import (
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// HookDocs describes each hook a strategy script may define, by name.
var HookDocs = map[string]string{
	HookStart: "on_start(ctx): called once when the kernel starts, before the first bar",
	HookBar: "on_bar(ctx, bar): called for every bar of every instrument; bar has " +
		"symbol, time, open, high, low, close, volume",
	HookFill: "on_fill(ctx, fill): called when an order fills, before that bar time's " +
		"on_bar; fill has order_id, symbol, side, quantity, price, fee, time, origin",
	HookStop: "on_stop(ctx): called once when the kernel stops",
}

// typeDocs describes the values the ctx API hands out, by Starlark type name.
var typeDocs = map[string]string{
	"ctx": "ctx: the strategy's view of the market and the paper account",
	"bar": "bar: one OHLCV bar: symbol, time, open, high, low, close, volume",
	"bars": "bars (from ctx.ohlc): recent bars, oldest first; index, slice and iterate it " +
		"like a list; .close, .open, .high, .low and .volume are series of floats, " +
		".time a list of times",
	"series": "series: an immutable list of floats, such as ctx.ohlc(sym).close; index, " +
		"slice, iterate, pass it to sma, ema or rsi; list(s) makes a list",
	"order": "order: id, symbol, side (buy or sell), quantity, price (None for a " +
		"market order), status, time, origin",
	"fill": "fill: order_id, symbol, side, quantity, price, fee, time, origin",
	"position": "position: symbol, quantity (negative when short), avg_price, " +
		"last_price, unrealized_pnl, realized_pnl (before fees), market_value",
	"quote": "quote: symbol, bid, ask, last, time",
}

// help(x) is the REPL's help: it returns the documentation of a ctx member, a helper,
// a hook, ctx itself, a value of the ctx API or a function of the script, as text.
func (r *Runtime) help(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value = starlark.None
	if err := starlark.UnpackArgs("help", args, kwargs, "x?", &v); err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return text(r.helpOverview()), nil
	}
	if s, ok := v.(starlark.String); ok {
		return r.helpName(string(s))
	}
	return text(r.helpValue(v)), nil
}

// helpOverview lists everything there is help for.
func (r *Runtime) helpOverview() string {
	var b strings.Builder
	b.WriteString("Hooks a strategy may define:\n")
	for _, h := range []string{HookStart, HookBar, HookFill, HookStop} {
		fmt.Fprintf(&b, "  %s\n", HookDocs[h])
	}
	b.WriteString("ctx members (help(ctx) describes them all):\n")
	b.WriteString(wrapList((&ctxValue{}).AttrNames(), "  ", 88))
	b.WriteString("Helpers:\n")
	b.WriteString(wrapList(sortedKeys(HelperDocs), "  ", 88))
	b.WriteString("help(ctx.trade), help(sma) or help(\"on_bar\") shows one of them.")
	return b.String()
}

// helpName documents a name given as a string: "ctx.trade", "trade", "sma", "on_bar"
// or any global.
func (r *Runtime) helpName(name string) (starlark.Value, error) {
	member := strings.TrimPrefix(name, "ctx.")
	if doc, ok := CtxDocs[member]; ok {
		return text(doc), nil
	}
	for _, docs := range []map[string]string{HelperDocs, HookDocs, typeDocs} {
		if doc, ok := docs[name]; ok {
			return text(doc), nil
		}
	}
	if v, ok := r.globals[name]; ok {
		return text(r.helpValue(v)), nil
	}
	return nil, fmt.Errorf("no help for %q; help() lists what there is", name)
}

// helpValue documents a value.
func (r *Runtime) helpValue(v starlark.Value) string {
	switch v := v.(type) {
	case *ctxValue:
		var b strings.Builder
		b.WriteString(typeDocs["ctx"])
		for _, name := range v.AttrNames() {
			b.WriteString("\n  ")
			b.WriteString(CtxDocs[name])
		}
		return b.String()
	case *starlark.Builtin:
		name := v.Name()
		if doc, ok := CtxDocs[strings.TrimPrefix(name, "ctx.")]; ok &&
			strings.HasPrefix(name, "ctx.") {
			return doc
		}
		if doc, ok := HelperDocs[name]; ok && r.globals[name] == v {
			return doc
		}
		return fmt.Sprintf("%s(...): a Starlark built-in function; see "+
			"https://github.com/google/starlark-go/blob/master/doc/spec.md", name)
	case *starlark.Function:
		return functionDoc(v)
	}
	if doc, ok := typeDocs[v.Type()]; ok {
		return doc
	}
	kind := article(v.Type()) + " " + v.Type() + " value"
	if obj, ok := v.(starlark.HasAttrs); ok && len(obj.AttrNames()) > 0 {
		return fmt.Sprintf("%s; its attributes: %s", kind, strings.Join(obj.AttrNames(), ", "))
	}
	return kind + "; help works on ctx members, helpers, hooks and functions"
}

// functionDoc is the signature, place and docstring of a Starlark function.
func functionDoc(fn *starlark.Function) string {
	// Param lists positional parameters, keyword-only ones, then *args and **kwargs.
	n, kwonly := fn.NumParams(), fn.NumKwonlyParams()
	positional := n - kwonly - kwargsSlot(fn)
	if fn.HasVarargs() {
		positional--
	}
	param := func(i int) string {
		name, _ := fn.Param(i)
		if d := fn.ParamDefault(i); d != nil {
			name += "=" + d.String()
		}
		return name
	}
	var params []string
	for i := range positional {
		params = append(params, param(i))
	}
	if fn.HasVarargs() {
		name, _ := fn.Param(positional + kwonly)
		params = append(params, "*"+name)
	} else if kwonly > 0 {
		params = append(params, "*")
	}
	for i := positional; i < positional+kwonly; i++ {
		params = append(params, param(i))
	}
	if fn.HasKwargs() {
		name, _ := fn.Param(n - 1)
		params = append(params, "**"+name)
	}

	doc := strings.TrimSpace(fn.Doc())
	if doc == "" {
		doc = "(no docstring)"
	}
	if h, ok := HookDocs[fn.Name()]; ok {
		doc += "\nHook: " + h
	}
	return fmt.Sprintf("%s(%s), defined at %s\n%s", fn.Name(), strings.Join(params, ", "),
		fn.Position(), doc)
}

func kwargsSlot(fn *starlark.Function) int {
	if fn.HasKwargs() {
		return 1
	}
	return 0
}

// wrapList joins words with commas into lines of at most width columns, each starting
// with indent and ending with a newline.
func wrapList(words []string, indent string, width int) string {
	var b strings.Builder
	line := indent
	for i, w := range words {
		if i < len(words)-1 {
			w += ","
		}
		if line != indent && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	b.WriteString(line + "\n")
	return b.String()
}

// article is "an" before a vowel, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
