package strategy

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"
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

func barValue(b Bar) *record {
	return &record{kind: "bar", names: barFields, values: []starlark.Value{
		starlark.String(b.Symbol), timeValue(b.Time), starlark.Float(b.Open),
		starlark.Float(b.High), starlark.Float(b.Low), starlark.Float(b.Close),
		starlark.Float(b.Volume),
	}}
}

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
