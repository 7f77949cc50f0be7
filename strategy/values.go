package strategy

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// record is an immutable Starlark value with named fields in a fixed order, such as a
// bar, an order or a position. It is cheaper than a starlarkstruct and its repr keeps
// the fields in the order a trader reads them.
type record struct {
	kind   string
	names  []string // shared between records of one kind; never modified
	values []starlark.Value
}

var _ starlark.HasAttrs = (*record)(nil)

func (r *record) String() string {
	var b strings.Builder
	b.WriteString(r.kind)
	b.WriteByte('(')
	for i, name := range r.names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteByte('=')
		b.WriteString(r.values[i].String())
	}
	b.WriteByte(')')
	return b.String()
}

func (r *record) Type() string          { return r.kind }
func (r *record) Freeze()               {}
func (r *record) Truth() starlark.Bool  { return starlark.True }
func (r *record) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: %s", r.kind) }

func (r *record) Attr(name string) (starlark.Value, error) {
	for i, n := range r.names {
		if n == name {
			return r.values[i], nil
		}
	}
	return nil, nil
}

func (r *record) AttrNames() []string {
	names := slices.Clone(r.names)
	sort.Strings(names)
	return names
}

var (
	barFields   = []string{"symbol", "time", "open", "high", "low", "close", "volume"}
	barColumns  = []string{"close", "high", "low", "open", "time", "volume"}
	quoteFields = []string{"symbol", "bid", "ask", "last", "time"}
	orderFields = []string{"id", "symbol", "side", "quantity", "price", "status", "time", "origin"}
	fillFields  = []string{
		"order_id", "symbol", "side", "quantity", "price", "fee", "time", "origin",
	}
	positionFields = []string{
		"symbol", "quantity", "avg_price", "last_price", "unrealized_pnl", "realized_pnl",
		"market_value",
	}
)

func quoteValue(q Quote) *record {
	return &record{kind: "quote", names: quoteFields, values: []starlark.Value{
		starlark.String(q.Symbol), starlark.Float(q.Bid), starlark.Float(q.Ask),
		starlark.Float(q.Last), timeValue(q.Time),
	}}
}

// orderValue describes an order; a market order's price is None.
func orderValue(o *Order) *record {
	var price starlark.Value = starlark.None
	if o.Price != 0 {
		price = starlark.Float(o.Price)
	}
	return &record{kind: "order", names: orderFields, values: []starlark.Value{
		starlark.String(o.ID), starlark.String(o.Symbol), starlark.String(o.Side),
		starlark.Float(o.Quantity), price, starlark.String(o.Status), timeValue(o.Time),
		starlark.String(o.Origin),
	}}
}

func fillValue(f Fill) *record {
	return &record{kind: "fill", names: fillFields, values: []starlark.Value{
		starlark.String(f.OrderID), starlark.String(f.Symbol), starlark.String(f.Side),
		starlark.Float(f.Quantity), starlark.Float(f.Price), starlark.Float(f.Fee),
		timeValue(f.Time), starlark.String(f.Origin),
	}}
}

func positionValue(p Position) *record {
	return &record{kind: "position", names: positionFields, values: []starlark.Value{
		starlark.String(p.Symbol), starlark.Float(p.Quantity), starlark.Float(p.AvgPrice),
		starlark.Float(p.LastPrice), starlark.Float(p.UnrealizedPnL),
		starlark.Float(p.RealizedPnL), starlark.Float(p.MarketValue),
	}}
}

// barRef is a bar as Starlark sees it. It points at a Bar that nothing modifies any
// more (one of a feed's steps, or a slot of a barHistory), which makes it pointer-shaped:
// passing it to a hook or iterating over ctx.ohlc allocates nothing. Its fields are
// made when they are read.
type barRef struct{ b *Bar }

var _ starlark.HasAttrs = barRef{}

func (r barRef) String() string {
	var b strings.Builder
	b.WriteString("bar(")
	for i, name := range barFields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteByte('=')
		v, _ := r.Attr(name)
		b.WriteString(v.String())
	}
	b.WriteByte(')')
	return b.String()
}

func (r barRef) Type() string          { return "bar" }
func (r barRef) Freeze()               {}
func (r barRef) Truth() starlark.Bool  { return starlark.True }
func (r barRef) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: bar") }

func (r barRef) Attr(name string) (starlark.Value, error) {
	switch name {
	case "symbol":
		return symbolValue(r.b.Symbol), nil
	case "time":
		return timeValue(r.b.Time), nil
	case "open":
		return starlark.Float(r.b.Open), nil
	case "high":
		return starlark.Float(r.b.High), nil
	case "low":
		return starlark.Float(r.b.Low), nil
	case "close":
		return starlark.Float(r.b.Close), nil
	case "volume":
		return starlark.Float(r.b.Volume), nil
	}
	return nil, nil
}

func (r barRef) AttrNames() []string {
	names := slices.Clone(barFields)
	sort.Strings(names)
	return names
}

// symbols holds a Starlark string for each symbol seen, so that reading bar.symbol
// allocates nothing. It is copied on write: symbols are few, the instruments of this
// process's kernels, and read on every bar.
var symbols atomic.Pointer[map[string]starlark.Value]

// symbolValue returns sym as a Starlark string, the same value every time.
func symbolValue(sym string) starlark.Value {
	if m := symbols.Load(); m != nil {
		if v, ok := (*m)[sym]; ok {
			return v
		}
	}
	for {
		old := symbols.Load()
		next := make(map[string]starlark.Value, 1)
		if old != nil {
			maps.Copy(next, *old)
		}
		v := starlark.Value(starlark.String(sym))
		next[sym] = v
		if symbols.CompareAndSwap(old, &next) {
			return v
		}
	}
}

// barList is what ctx.ohlc returns: recent bars, oldest first. It indexes, slices and
// iterates like a list of bars, and each column is an attribute, as in a data frame:
// .close (also .open, .high, .low, .volume) is a series of floats and .time a list of
// times. The bars are a view of a barHistory, never modified.
type barList struct {
	bars   []Bar
	closes series // closes.xs[i] == bars[i].Close
}

var (
	_ starlark.Sliceable = (*barList)(nil)
	_ starlark.Sequence  = (*barList)(nil)
	_ starlark.HasAttrs  = (*barList)(nil)
)

func (l *barList) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range l.bars {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(barRef{&l.bars[i]}.String())
	}
	b.WriteByte(']')
	return b.String()
}

func (l *barList) Type() string          { return "bars" }
func (l *barList) Freeze()               {}
func (l *barList) Truth() starlark.Bool  { return len(l.bars) > 0 }
func (l *barList) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: bars") }
func (l *barList) Len() int              { return len(l.bars) }

func (l *barList) Index(i int) starlark.Value { return barRef{&l.bars[i]} }

func (l *barList) Slice(start, end, step int) starlark.Value {
	if step == 1 {
		return &barList{bars: l.bars[start:end:end], closes: series{l.closes.xs[start:end:end]}}
	}
	out := &barList{}
	for i := start; (step > 0 && i < end) || (step < 0 && i > end); i += step {
		out.bars = append(out.bars, l.bars[i])
		out.closes.xs = append(out.closes.xs, l.closes.xs[i])
	}
	return out
}

func (l *barList) Iterate() starlark.Iterator { return &barIterator{bars: l.bars} }

func (l *barList) Attr(name string) (starlark.Value, error) {
	if name == "time" {
		times := make([]starlark.Value, len(l.bars))
		for i := range l.bars {
			times[i] = timeValue(l.bars[i].Time)
		}
		return starlark.NewList(times), nil
	}
	var field func(*Bar) float64
	switch name {
	case "close":
		return &l.closes, nil
	case "open":
		field = func(b *Bar) float64 { return b.Open }
	case "high":
		field = func(b *Bar) float64 { return b.High }
	case "low":
		field = func(b *Bar) float64 { return b.Low }
	case "volume":
		field = func(b *Bar) float64 { return b.Volume }
	default:
		return nil, nil
	}
	xs := make([]float64, len(l.bars))
	for i := range l.bars {
		xs[i] = field(&l.bars[i])
	}
	return &series{xs}, nil
}

func (l *barList) AttrNames() []string { return barColumns }

type barIterator struct {
	bars []Bar
	i    int
}

func (it *barIterator) Next(p *starlark.Value) bool {
	if it.i >= len(it.bars) {
		return false
	}
	*p = barRef{&it.bars[it.i]}
	it.i++
	return true
}

func (it *barIterator) Done() {}

// series is an immutable sequence of floats, such as a column of ctx.ohlc: it indexes,
// slices (without copying) and iterates like a list, and sma, ema and rsi read it
// without converting anything. series + list gives a list. It is used by pointer, so
// that a barList can hold its close column and hand it out without an allocation.
type series struct{ xs []float64 }

var (
	_ starlark.Sliceable = (*series)(nil)
	_ starlark.Sequence  = (*series)(nil)
	_ starlark.HasBinary = (*series)(nil)
)

func (s *series) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range s.xs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(starlark.Float(x).String())
	}
	b.WriteByte(']')
	return b.String()
}

func (s *series) Type() string               { return "series" }
func (s *series) Freeze()                    {}
func (s *series) Truth() starlark.Bool       { return len(s.xs) > 0 }
func (s *series) Hash() (uint32, error)      { return 0, fmt.Errorf("unhashable type: series") }
func (s *series) Len() int                   { return len(s.xs) }
func (s *series) Index(i int) starlark.Value { return starlark.Float(s.xs[i]) }
func (s *series) Iterate() starlark.Iterator { return &seriesIterator{xs: s.xs} }
func (s *series) values() []starlark.Value   { return appendFloats(nil, s.xs) }

func (s *series) Slice(start, end, step int) starlark.Value {
	if step == 1 {
		return &series{s.xs[start:end:end]}
	}
	var out []float64
	for i := start; (step > 0 && i < end) || (step < 0 && i > end); i += step {
		out = append(out, s.xs[i])
	}
	return &series{out}
}

// Binary concatenates a series with a series or a list into a new list.
func (s *series) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value,
	error) {
	if op != syntax.PLUS {
		return nil, nil
	}
	var other []starlark.Value
	switch y := y.(type) {
	case *series:
		other = y.values()
	case *starlark.List:
		for i := range y.Len() {
			other = append(other, y.Index(i))
		}
	default:
		return nil, nil
	}
	if side == starlark.Left {
		return starlark.NewList(append(s.values(), other...)), nil
	}
	return starlark.NewList(appendFloats(other, s.xs)), nil
}

func appendFloats(vs []starlark.Value, xs []float64) []starlark.Value {
	for _, x := range xs {
		vs = append(vs, starlark.Float(x))
	}
	return vs
}

type seriesIterator struct {
	xs []float64
	i  int
}

func (it *seriesIterator) Next(p *starlark.Value) bool {
	if it.i >= len(it.xs) {
		return false
	}
	*p = starlark.Float(it.xs[it.i])
	it.i++
	return true
}

func (it *seriesIterator) Done() {}

// timeValue is a market time as an RFC 3339 string, or None before the first bar.
func timeValue(t time.Time) starlark.Value {
	if t.IsZero() {
		return starlark.None
	}
	return starlark.String(t.Format(time.RFC3339))
}

// text is a Starlark string-like value shown raw, without quotes, by the REPL and by
// print: the tables of portfolio() and orders().
type text string

func (t text) String() string        { return string(t) }
func (t text) Type() string          { return "text" }
func (t text) Freeze()               {}
func (t text) Truth() starlark.Bool  { return len(t) > 0 }
func (t text) Hash() (uint32, error) { return starlark.String(t).Hash() }

// toStarlark converts a config parameter (see LoadConfig) to a mutable Starlark value.
func toStarlark(v any) (starlark.Value, error) {
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case int:
		return starlark.MakeInt(v), nil
	case int64:
		return starlark.MakeInt64(v), nil
	case uint64:
		return starlark.MakeUint64(v), nil
	case *big.Int:
		return starlark.MakeBigInt(v), nil
	case float64:
		return starlark.Float(v), nil
	case string:
		return starlark.String(v), nil
	case []any:
		elems := make([]starlark.Value, len(v))
		for i, x := range v {
			sv, err := toStarlark(x)
			if err != nil {
				return nil, err
			}
			elems[i] = sv
		}
		return starlark.NewList(elems), nil
	case map[string]any:
		return dictOf(v)
	}
	return nil, fmt.Errorf("unsupported parameter value %v of type %T", v, v)
}

// dictOf converts a mapping to a Starlark dict with keys in sorted order.
func dictOf(m map[string]any) (*starlark.Dict, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	d := starlark.NewDict(len(m))
	for _, k := range keys {
		sv, err := toStarlark(m[k])
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", k, err)
		}
		if err := d.SetKey(starlark.String(k), sv); err != nil {
			return nil, err
		}
	}
	return d, nil
}
