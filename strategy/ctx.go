package strategy

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"go.starlark.net/starlark"
)

// CtxDocs holds a one-line description of every member of the Starlark ctx object,
// by member name, for completion and help in the UI.
var CtxDocs = map[string]string{
	"time":        "ctx.time(): market time of the last bar, RFC 3339 (None before the first)",
	"instruments": "ctx.instruments: the list of symbols this strategy trades",
	"quote":       "ctx.quote(sym): last quote of sym: bid, ask, last, time",
	"ohlc": "ctx.ohlc(sym, length=100): the last length bars of sym (up to 1000), " +
		"oldest first; .close, .open, .high, .low, .volume are columns of floats",
	"get_position": "ctx.get_position(sym): position of sym: symbol, quantity, avg_price, " +
		"last_price, unrealized_pnl, realized_pnl, market_value",
	"get_positions": "ctx.get_positions(): dict of the non-zero positions by symbol",
	"get_orders":    "ctx.get_orders(sym=None): open orders, of sym or of all instruments",
	"trade": "ctx.trade(sym, amount, price=None): market order, or limit order at price; " +
		"amount > 0 buys; returns the order",
	"set_target_position": "ctx.set_target_position(sym, target, price=None): cancel sym's " +
		"open orders and trade to reach a position of target",
	"close_position":    "ctx.close_position(sym): flatten the position of sym",
	"close_positions":   "ctx.close_positions(): flatten every position",
	"cancel_order":      "ctx.cancel_order(id): cancel an open order; True if it was open",
	"cancel_orders":     "ctx.cancel_orders(sym=None): cancel open orders; returns how many",
	"get_total_capital": "ctx.get_total_capital(): equity: cash plus market value of positions",
	"get_balance":       "ctx.get_balance(): cash",
	"params":            "ctx.params: the config's parameters, a dict you may change",
	"pause":             "ctx.pause(): stop delivering bars and fills to the hooks",
	"resume":            "ctx.resume(): deliver bars and fills to the hooks again",
	"is_running":        "ctx.is_running(): True unless the hooks are paused",
	"is_restart": "ctx.is_restart(): True when the kernel resumed a restored account " +
		"after a daemon restart, False on a first start",
	"log": "ctx.log(msg, ...): write a log entry",
}

// ctxValue is the Starlark ctx object handed to hooks and predeclared for the REPL.
type ctxValue struct {
	r       *Runtime
	members map[string]*starlark.Builtin
}

var _ starlark.HasAttrs = (*ctxValue)(nil)

func (c *ctxValue) String() string        { return "<ctx>" }
func (c *ctxValue) Type() string          { return "ctx" }
func (c *ctxValue) Freeze()               {}
func (c *ctxValue) Truth() starlark.Bool  { return starlark.True }
func (c *ctxValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: ctx") }

func (c *ctxValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "instruments":
		syms := make([]starlark.Value, len(c.r.cfg.Instruments))
		for i, s := range c.r.cfg.Instruments {
			syms[i] = starlark.String(s)
		}
		return starlark.NewList(syms), nil
	case "params":
		return c.r.params, nil
	}
	if b, ok := c.members[name]; ok {
		return b, nil
	}
	return nil, nil
}

func (c *ctxValue) AttrNames() []string {
	names := make([]string, 0, len(CtxDocs))
	for name := range CtxDocs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// builtinFunc is the Go side of a Starlark built-in.
type builtinFunc func(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error)

// builtin wraps fn so that a panic in it becomes a Starlark error instead of taking the
// kernel down.
func builtin(name string, fn builtinFunc) *starlark.Builtin {
	return starlark.NewBuiltin(name, func(th *starlark.Thread, _ *starlark.Builtin,
		args starlark.Tuple, kwargs []starlark.Tuple) (v starlark.Value, err error) {
		defer func() {
			if p := recover(); p != nil {
				v, err = nil, fmt.Errorf("internal error in %s: %v", name, p)
			}
		}()
		return fn(th, args, kwargs)
	})
}

func newCtx(r *Runtime) *ctxValue {
	c := &ctxValue{r: r}
	fns := map[string]builtinFunc{
		"time":                c.time,
		"quote":               c.quote,
		"ohlc":                c.ohlc,
		"get_position":        c.getPosition,
		"get_positions":       c.getPositions,
		"get_orders":          c.getOrders,
		"trade":               c.trade,
		"set_target_position": c.setTargetPosition,
		"close_position":      c.closePosition,
		"close_positions":     c.closePositions,
		"cancel_order":        c.cancelOrder,
		"cancel_orders":       c.cancelOrders,
		"get_total_capital":   c.getTotalCapital,
		"get_balance":         c.getBalance,
		"pause":               c.pause,
		"resume":              c.resume,
		"is_running":          c.isRunning,
		"is_restart":          c.isRestart,
		"log":                 c.log,
	}
	c.members = make(map[string]*starlark.Builtin, len(fns))
	for name, fn := range fns {
		c.members[name] = builtin("ctx."+name, fn)
	}
	return c
}

func (c *ctxValue) time(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("time", args, kwargs, 0); err != nil {
		return nil, err
	}
	return timeValue(c.r.now), nil
}

func (c *ctxValue) quote(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var sym string
	if err := starlark.UnpackArgs("quote", args, kwargs, "sym", &sym); err != nil {
		return nil, err
	}
	if err := c.r.checkSymbol(sym); err != nil {
		return nil, err
	}
	return quoteValue(c.r.quote(sym)), nil
}

func (c *ctxValue) ohlc(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var sym string
	length := 100
	s, isStr := strArg(args, 0)
	n, isInt := intArg(args, 1)
	switch {
	case len(kwargs) == 0 && len(args) == 1 && isStr:
		sym = s // ohlc(sym) runs on every bar: skip UnpackArgs
	case len(kwargs) == 0 && len(args) == 2 && isStr && isInt:
		sym, length = s, n
	default:
		var err error
		if sym, length, err = unpackOHLC(args, kwargs); err != nil {
			return nil, err
		}
	}
	h, ok := c.r.history[sym]
	if !ok {
		return nil, c.r.checkSymbol(sym)
	}
	if length <= 0 {
		return nil, fmt.Errorf("length must be more than 0, got %d", length)
	}
	return h.last(length), nil
}

// unpackOHLC is the general case of ohlc's arguments.
func unpackOHLC(args starlark.Tuple, kwargs []starlark.Tuple) (string, int, error) {
	var sym string
	length := 100
	err := starlark.UnpackArgs("ohlc", args, kwargs, "sym", &sym, "length?", &length)
	return sym, length, err
}

func (c *ctxValue) getPosition(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var sym string
	if err := starlark.UnpackArgs("get_position", args, kwargs, "sym", &sym); err != nil {
		return nil, err
	}
	if err := c.r.checkSymbol(sym); err != nil {
		return nil, err
	}
	return positionValue(*c.r.acct.position(sym)), nil
}

func (c *ctxValue) getPositions(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("get_positions", args, kwargs, 0); err != nil {
		return nil, err
	}
	held := c.r.acct.held()
	d := starlark.NewDict(len(held))
	for _, p := range held {
		if err := d.SetKey(starlark.String(p.Symbol), positionValue(p)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (c *ctxValue) getOrders(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	sym, err := c.optionalSymbol("get_orders", args, kwargs)
	if err != nil {
		return nil, err
	}
	open := c.r.acct.openOrders(sym)
	list := make([]starlark.Value, len(open))
	for i, o := range open {
		list[i] = orderValue(o)
	}
	return starlark.NewList(list), nil
}

func (c *ctxValue) trade(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	sym, amount, limit, err := c.orderArgs("trade", "amount", args, kwargs)
	if err != nil {
		return nil, err
	}
	o, err := c.r.place(originOf(th), sym, amount, limit)
	if err != nil {
		return nil, err
	}
	return orderValue(o), nil
}

func (c *ctxValue) setTargetPosition(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	sym, target, limit, err := c.orderArgs("set_target_position", "target", args, kwargs)
	if err != nil {
		return nil, err
	}
	if math.IsNaN(target) || math.IsInf(target, 0) {
		return nil, fmt.Errorf("target must be a number, got %v", target)
	}
	return c.r.setTarget(originOf(th), sym, target, limit)
}

// orderArgs unpacks (sym, amount, price=None) for trade and set_target_position: an
// instrument, a number and a limit price, 0 for a market order. It runs on every bar
// of many strategies, so the plain positional call skips UnpackArgs.
func (c *ctxValue) orderArgs(fn, amountName string, args starlark.Tuple,
	kwargs []starlark.Tuple) (sym string, amount, limit float64, err error) {
	var price starlark.Value = starlark.None
	fast := false
	if len(kwargs) == 0 && (len(args) == 2 || len(args) == 3) {
		s, isStr := strArg(args, 0)
		a, isNum := starlark.AsFloat(args[1])
		if fast = isStr && isNum; fast {
			sym, amount = s, a
			if len(args) == 3 {
				price = args[2]
			}
		}
	}
	if !fast {
		if sym, amount, price, err = unpackOrder(fn, amountName, args, kwargs); err != nil {
			return "", 0, 0, err
		}
	}
	if limit, err = limitPrice(price); err != nil {
		return "", 0, 0, err
	}
	return sym, amount, limit, c.r.checkSymbol(sym)
}

func (c *ctxValue) closePosition(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var sym string
	if err := starlark.UnpackArgs("close_position", args, kwargs, "sym", &sym); err != nil {
		return nil, err
	}
	if err := c.r.checkSymbol(sym); err != nil {
		return nil, err
	}
	return c.r.setTarget(originOf(th), sym, 0, 0)
}

func (c *ctxValue) closePositions(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("close_positions", args, kwargs, 0); err != nil {
		return nil, err
	}
	var placed []starlark.Value
	for _, sym := range c.r.cfg.Instruments {
		o, err := c.r.setTarget(originOf(th), sym, 0, 0)
		if err != nil {
			return nil, err
		}
		if o != starlark.None {
			placed = append(placed, o)
		}
	}
	return starlark.NewList(placed), nil
}

func (c *ctxValue) cancelOrder(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var idv starlark.Value
	if err := starlark.UnpackArgs("cancel_order", args, kwargs, "id", &idv); err != nil {
		return nil, err
	}
	// Accept the order itself as well as its id.
	if rec, ok := idv.(*record); ok && rec.kind == "order" {
		idv, _ = rec.Attr("id")
	}
	id, ok := starlark.AsString(idv)
	if !ok {
		return nil, fmt.Errorf("want an order id like \"o1\", got %s", idv.Type())
	}
	return starlark.Bool(c.r.cancel(originOf(th), id)), nil
}

func (c *ctxValue) cancelOrders(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	sym, err := c.optionalSymbol("cancel_orders", args, kwargs)
	if err != nil {
		return nil, err
	}
	n := 0
	for _, o := range c.r.acct.openOrders(sym) {
		if c.r.cancel(originOf(th), o.ID) {
			n++
		}
	}
	return starlark.MakeInt(n), nil
}

func (c *ctxValue) getTotalCapital(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	err := starlark.UnpackPositionalArgs("get_total_capital", args, kwargs, 0)
	if err != nil {
		return nil, err
	}
	return starlark.Float(c.r.acct.equity()), nil
}

func (c *ctxValue) getBalance(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("get_balance", args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.Float(c.r.acct.cash), nil
}

func (c *ctxValue) pause(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("pause", args, kwargs, 0); err != nil {
		return nil, err
	}
	if !c.r.paused {
		c.r.paused = true
		c.r.out.Emit(KindLog, originOf(th), "hooks paused; ctx.resume() resumes them")
	}
	return starlark.None, nil
}

func (c *ctxValue) resume(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("resume", args, kwargs, 0); err != nil {
		return nil, err
	}
	clear(c.r.failures)
	if c.r.paused {
		c.r.paused = false
		c.r.out.Emit(KindLog, originOf(th), "hooks resumed")
	}
	return starlark.None, nil
}

func (c *ctxValue) isRunning(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("is_running", args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.Bool(!c.r.paused), nil
}

func (c *ctxValue) isRestart(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("is_restart", args, kwargs, 0); err != nil {
		return nil, err
	}
	return starlark.Bool(c.r.restart), nil
}

func (c *ctxValue) log(th *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(kwargs) > 0 {
		return nil, fmt.Errorf("unexpected keyword argument %s", kwargs[0][0])
	}
	if len(args) == 0 {
		return nil, fmt.Errorf("missing argument for msg")
	}
	parts := make([]string, len(args))
	for i, a := range args {
		if s, ok := starlark.AsString(a); ok {
			parts[i] = s
		} else {
			parts[i] = a.String()
		}
	}
	c.r.out.Emit(KindLog, originOf(th), strings.Join(parts, " "))
	return starlark.None, nil
}

// optionalSymbol unpacks an optional sym argument; "" means all instruments.
func (c *ctxValue) optionalSymbol(fn string, args starlark.Tuple,
	kwargs []starlark.Tuple) (string, error) {
	var symv starlark.Value = starlark.None
	if err := starlark.UnpackArgs(fn, args, kwargs, "sym?", &symv); err != nil {
		return "", err
	}
	if symv == starlark.None {
		return "", nil
	}
	sym, ok := starlark.AsString(symv)
	if !ok {
		return "", fmt.Errorf("sym: want a symbol string or None, got %s", symv.Type())
	}
	return sym, c.r.checkSymbol(sym)
}

// unpackOrder is the general case of orderArgs, apart so that its variables do not
// escape to the heap in the common case.
func unpackOrder(fn, amountName string, args starlark.Tuple,
	kwargs []starlark.Tuple) (string, float64, starlark.Value, error) {
	var sym string
	var amount floatArg
	var price starlark.Value = starlark.None
	err := starlark.UnpackArgs(fn, args, kwargs, "sym", &sym, amountName, &amount,
		"price?", &price)
	return sym, float64(amount), price, err
}

// strArg returns args[i] when it is a string.
func strArg(args starlark.Tuple, i int) (string, bool) {
	if i >= len(args) {
		return "", false
	}
	s, ok := args[i].(starlark.String)
	return string(s), ok
}

// limitPrice reads an optional limit price: None means a market order (0).
func limitPrice(v starlark.Value) (float64, error) {
	if v == starlark.None {
		return 0, nil
	}
	p, ok := starlark.AsFloat(v)
	if !ok {
		return 0, fmt.Errorf("price: want a number or None, got %s", v.Type())
	}
	if !(p > 0) || math.IsInf(p, 0) {
		return 0, fmt.Errorf("price: a limit price must be more than 0, got %v", p)
	}
	return p, nil
}

// floatArg unpacks an int or a float argument.
type floatArg float64

func (f *floatArg) Unpack(v starlark.Value) error {
	x, ok := starlark.AsFloat(v)
	if !ok {
		return fmt.Errorf("got %s, want a number", v.Type())
	}
	*f = floatArg(x)
	return nil
}
