package strategy

import (
	"fmt"
	"math"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// HelperDocs holds a one-line description of each REPL helper predeclared next to ctx,
// by name, for completion and help in the UI.
var HelperDocs = map[string]string{
	"portfolio": "portfolio(): table of positions, cash, equity and PnL",
	"orders":    "orders(): table of open orders",
	"sma":       "sma(values, n): simple moving average of the last n values (None if too few)",
	"ema":       "ema(values, n): exponential moving average over n values (None if too few)",
	"rsi":       "rsi(values, n=14): Wilder's relative strength index, 0 to 100 (None if too few)",
	"sum":       "sum(values, start=0): start plus the sum of values, as in Python",
	"round":     "round(x, ndigits=None): x rounded half to even; an int without ndigits",
	"help": "help(x): what x is and how to use it: help(ctx.trade), help(sma), " +
		"help(\"on_bar\"), help(ctx); help() lists everything",
}

func (r *Runtime) portfolio(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("portfolio", args, kwargs, 0); err != nil {
		return nil, err
	}
	var b strings.Builder
	rows := [][]string{{
		"symbol", "quantity", "avg_price", "last_price", "market_value", "unrealized",
		"realized",
	}}
	// Flat positions that made or lost money stay in the table, so that the realised
	// column adds up to the realised PnL of the account.
	for _, sym := range r.acct.symbols {
		p := r.acct.positions[sym]
		if p == nil || p.Quantity == 0 && p.RealizedPnL == 0 {
			continue
		}
		avg := formatPrice(p.AvgPrice)
		if p.Quantity == 0 {
			avg = "-"
		}
		rows = append(rows, []string{
			p.Symbol, formatQty(p.Quantity), avg, formatPrice(p.LastPrice),
			money(p.MarketValue), money(p.UnrealizedPnL), money(p.RealizedPnL),
		})
	}
	if len(rows) == 1 {
		b.WriteString("no positions\n")
	} else {
		b.WriteString(table("lrrrrrr", rows))
	}
	equity := r.acct.equity()
	pnl := money(equity - r.acct.capital)
	if !strings.HasPrefix(pnl, "-") {
		pnl = "+" + pnl
	}
	fmt.Fprintf(&b, "cash %s   equity %s   pnl %s   fees %s",
		money(r.acct.cash), money(equity), pnl, money(r.acct.fees))
	return text(b.String()), nil
}

func (r *Runtime) orders(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("orders", args, kwargs, 0); err != nil {
		return nil, err
	}
	if len(r.acct.open) == 0 {
		return text("no open orders"), nil
	}
	rows := [][]string{{"id", "symbol", "side", "quantity", "price", "time", "origin"}}
	for _, o := range r.acct.open {
		price := "market"
		if o.Price != 0 {
			price = formatPrice(o.Price)
		}
		placed := "-"
		if !o.Time.IsZero() {
			placed = o.Time.Format("2006-01-02 15:04")
		}
		rows = append(rows, []string{
			o.ID, o.Symbol, o.Side, formatQty(o.Quantity), price, placed, o.Origin,
		})
	}
	return text(strings.TrimSuffix(table("lllrrll", rows), "\n")), nil
}

// money shows two decimals, and never "-0.00".
func money(x float64) string {
	s := fmt.Sprintf("%.2f", x)
	if s == "-0.00" {
		return "0.00"
	}
	return s
}

// table aligns rows in columns two spaces apart; align has an 'l' (left) or 'r' (right,
// for numbers) per column. Every line ends with a newline.
func table(align string, rows [][]string) string {
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			if i > 0 {
				b.WriteString("  ")
			}
			last := i == len(row)-1
			switch {
			case i < len(align) && align[i] == 'r':
				fmt.Fprintf(&b, "%*s", widths[i], cell)
			case last:
				b.WriteString(cell) // no trailing blanks
			default:
				fmt.Fprintf(&b, "%-*s", widths[i], cell)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// sma(values, n) is the mean of the last n values.
func sma(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	xs, n, err := indicatorArgs("sma", args, kwargs, 0)
	if err != nil {
		return nil, err
	}
	if len(xs) < n {
		return starlark.None, nil
	}
	sum := 0.0
	for _, x := range xs[len(xs)-n:] {
		sum += x
	}
	return starlark.Float(sum / float64(n)), nil
}

// ema(values, n) starts from the mean of the first n values, then smooths each later
// value in with weight 2/(n+1).
func ema(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	xs, n, err := indicatorArgs("ema", args, kwargs, 0)
	if err != nil {
		return nil, err
	}
	if len(xs) < n {
		return starlark.None, nil
	}
	avg := 0.0
	for _, x := range xs[:n] {
		avg += x
	}
	avg /= float64(n)
	alpha := 2 / float64(n+1)
	for _, x := range xs[n:] {
		avg += alpha * (x - avg)
	}
	return starlark.Float(avg), nil
}

// rsi(values, n=14) is Wilder's RSI: average gain and loss over the first n changes,
// then smoothed with weight 1/n. It needs n+1 values.
func rsi(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	xs, n, err := indicatorArgs("rsi", args, kwargs, 14)
	if err != nil {
		return nil, err
	}
	if len(xs) < n+1 {
		return starlark.None, nil
	}
	var gain, loss float64
	for i := 1; i <= n; i++ {
		d := xs[i] - xs[i-1]
		gain += max(d, 0)
		loss += max(-d, 0)
	}
	gain /= float64(n)
	loss /= float64(n)
	for i := n + 1; i < len(xs); i++ {
		d := xs[i] - xs[i-1]
		gain = (gain*float64(n-1) + max(d, 0)) / float64(n)
		loss = (loss*float64(n-1) + max(-d, 0)) / float64(n)
	}
	switch {
	case gain == 0 && loss == 0:
		return starlark.Float(50), nil
	case loss == 0:
		return starlark.Float(100), nil
	}
	return starlark.Float(100 - 100/(1+gain/loss)), nil
}

// indicatorArgs unpacks (values, n) for sma, ema and rsi; see floats for the values.
// A default n of 0 means n is required.
func indicatorArgs(fn string, args starlark.Tuple,
	kwargs []starlark.Tuple, defaultN int) ([]float64, int, error) {
	var values starlark.Value = starlark.None
	n := defaultN
	if i, ok := intArg(args, 1); ok && len(args) == 2 && len(kwargs) == 0 {
		values, n = args[0], i // the common case, without the cost of UnpackArgs
	} else if err := unpackIndicator(fn, args, kwargs, &values, &n); err != nil {
		return nil, 0, err
	}
	if n <= 0 {
		return nil, 0, fmt.Errorf("n must be more than 0, got %d", n)
	}
	xs, err := floats(values)
	return xs, n, err
}

// unpackIndicator is the general case of indicatorArgs, apart so that its variables
// do not escape in the common case.
func unpackIndicator(fn string, args starlark.Tuple, kwargs []starlark.Tuple,
	values *starlark.Value, n *int) error {
	v, nn := *values, *n
	nParam := "n"
	if nn > 0 {
		nParam = "n?"
	}
	if err := starlark.UnpackArgs(fn, args, kwargs, "values", &v, nParam, &nn); err != nil {
		return err
	}
	*values, *n = v, nn
	return nil
}

// intArg returns args[i] as an int when it is a Starlark int that fits.
func intArg(args starlark.Tuple, i int) (int, bool) {
	if i >= len(args) {
		return 0, false
	}
	v, ok := args[i].(starlark.Int)
	if !ok {
		return 0, false
	}
	n, ok := v.Int64()
	return int(n), ok && n == int64(int(n))
}

// floats reads the values of an indicator: a series such as ctx.ohlc(sym).close (read
// as it is, without a copy), the bars of ctx.ohlc (their closes), or a list, tuple or
// other iterable of numbers or bars.
func floats(v starlark.Value) ([]float64, error) {
	switch v := v.(type) {
	case *series:
		return v.xs, nil
	case *barList:
		return v.closes.xs, nil
	case starlark.String:
		// A string is indexable, but never what was meant.
	case starlark.Indexable:
		xs := make([]float64, v.Len())
		for i := range xs {
			x, err := number(v.Index(i), i)
			if err != nil {
				return nil, err
			}
			xs[i] = x
		}
		return xs, nil
	case starlark.Iterable:
		var xs []float64
		it := v.Iterate()
		defer it.Done()
		var elem starlark.Value
		for i := 0; it.Next(&elem); i++ {
			x, err := number(elem, i)
			if err != nil {
				return nil, err
			}
			xs = append(xs, x)
		}
		return xs, nil
	}
	return nil, fmt.Errorf("values: want a list of numbers or bars, got %s", v.Type())
}

// number reads values[i]: an int, a float or a bar (its close).
func number(v starlark.Value, i int) (float64, error) {
	switch v := v.(type) {
	case starlark.Float:
		return float64(v), nil
	case barRef:
		return v.b.Close, nil
	}
	if x, ok := starlark.AsFloat(v); ok {
		return x, nil
	}
	return 0, fmt.Errorf("values[%d] is a %s, want a number or a bar", i, v.Type())
}

// sum(values, start=0) adds values to start with Starlark's +, as Python's sum does.
func sum(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var seq starlark.Iterable
	var total starlark.Value = starlark.MakeInt(0)
	if err := starlark.UnpackArgs("sum", args, kwargs, "values", &seq, "start?", &total); err != nil {
		return nil, err
	}
	it := seq.Iterate()
	defer it.Done()
	var v starlark.Value
	for it.Next(&v) {
		next, err := starlark.Binary(syntax.PLUS, total, v)
		if err != nil {
			return nil, err
		}
		total = next
	}
	return total, nil
}

// round(x, ndigits=None) rounds half to even like Python: an int without ndigits, a float
// with them.
func round(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	var x floatArg
	var digits starlark.Value = starlark.None
	if err := starlark.UnpackArgs("round", args, kwargs, "x", &x, "ndigits?", &digits); err != nil {
		return nil, err
	}
	f := float64(x)
	if digits == starlark.None {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("cannot round %v to an int", f)
		}
		return starlark.NumberToInt(starlark.Float(math.RoundToEven(f)))
	}
	var n int
	if err := starlark.AsInt(digits, &n); err != nil {
		return nil, fmt.Errorf("ndigits: %v", err)
	}
	scale := math.Pow(10, float64(n))
	return starlark.Float(math.RoundToEven(f*scale) / scale), nil
}
