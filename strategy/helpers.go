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
}

func (r *Runtime) portfolio(_ *starlark.Thread, args starlark.Tuple,
	kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackPositionalArgs("portfolio", args, kwargs, 0); err != nil {
		return nil, err
	}
	var b strings.Builder
	held := r.acct.held()
	if len(held) == 0 {
		b.WriteString("no positions\n")
	} else {
		rows := [][]string{{
			"symbol", "quantity", "avg_price", "last_price", "market_value", "unrealized",
			"realized",
		}}
		for _, p := range held {
			rows = append(rows, []string{
				p.Symbol, formatQty(p.Quantity), formatPrice(p.AvgPrice),
				formatPrice(p.LastPrice), money(p.MarketValue), money(p.UnrealizedPnL),
				money(p.RealizedPnL),
			})
		}
		b.WriteString(table("lrrrrrr", rows))
	}
	equity := r.acct.equity()
	fmt.Fprintf(&b, "cash %s   equity %s   pnl %+.2f   fees %s",
		money(r.acct.cash), money(equity), equity-r.acct.capital, money(r.acct.fees))
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

func money(x float64) string { return fmt.Sprintf("%.2f", x) }

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

// indicatorArgs unpacks (values, n): values is any iterable of numbers or of bars (their
// close is used). A default n of 0 means n is required.
func indicatorArgs(fn string, args starlark.Tuple,
	kwargs []starlark.Tuple, defaultN int) ([]float64, int, error) {
	var seq starlark.Iterable
	n := defaultN
	nParam := "n"
	if defaultN > 0 {
		nParam = "n?"
	}
	if err := starlark.UnpackArgs(fn, args, kwargs, "values", &seq, nParam, &n); err != nil {
		return nil, 0, err
	}
	if n <= 0 {
		return nil, 0, fmt.Errorf("n must be more than 0, got %d", n)
	}

	var xs []float64
	if l, ok := seq.(starlark.Sequence); ok {
		xs = make([]float64, 0, l.Len())
	}
	it := seq.Iterate()
	defer it.Done()
	var v starlark.Value
	for i := 0; it.Next(&v); i++ {
		if rec, ok := v.(*record); ok && rec.kind == "bar" {
			v, _ = rec.Attr("close")
		}
		x, ok := starlark.AsFloat(v)
		if !ok {
			return nil, 0, fmt.Errorf("values[%d] is a %s, want a number or a bar", i, v.Type())
		}
		xs = append(xs, x)
	}
	return xs, n, nil
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
