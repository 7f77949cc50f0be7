package strategy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// position returns the position of sym as a Go value, through the Starlark API.
func positionOf(t *testing.T, r *Runtime, sym string) Position {
	t.Helper()
	var p Position
	fields := []*float64{&p.Quantity, &p.AvgPrice, &p.LastPrice, &p.UnrealizedPnL,
		&p.RealizedPnL, &p.MarketValue}
	for i, name := range positionFields[1:] {
		out := exec(t, r, "test", fmt.Sprintf("ctx.get_position(%q).%s", sym, name))
		v, err := strconv.ParseFloat(out, 64)
		if err != nil {
			t.Fatalf("%s = %q", name, out)
		}
		*fields[i] = v
	}
	return p
}

// checkEquity checks get_total_capital() == get_balance() + Σ market value, and that
// Snapshot agrees.
func checkEquity(t *testing.T, r *Runtime) {
	t.Helper()
	got := exec(t, r, "test", "ctx.get_total_capital() - ctx.get_balance() - "+
		"sum([p.market_value for p in ctx.get_positions().values()])")
	if v, _ := strconv.ParseFloat(got, 64); !near(v, 0) {
		t.Errorf("equity identity is off by %s", got)
	}
	s := r.Snapshot()
	sum := s.Cash
	for _, p := range s.Positions {
		sum += p.MarketValue
	}
	if !near(s.Equity, sum) || !near(s.PnL, s.Equity-10000) {
		t.Errorf("snapshot: equity %v, cash+value %v, pnl %v", s.Equity, sum, s.PnL)
	}
}

// TestBrokerArithmetic walks an account through open, partial close, flip and a limit
// fill, with numbers worked out by hand: fees 10 bps, slippage 10 bps.
func TestBrokerArithmetic(t *testing.T) {
	cfg := testConfig(t, "", "X")
	cfg.Account = AccountConfig{Capital: 10000, FeeBps: 10, SlippageBps: 10}
	csvConfig(t, cfg, `time,open,high,low,close,volume
2024-01-01T00:00:00Z,100,101,99,100,10
2024-01-01T00:01:00Z,110,112,108,110,10
2024-01-01T00:02:00Z,120,121,119,120,10
2024-01-01T00:03:00Z,100,101,95,100,10
2024-01-01T00:04:00Z,100,150,99,140,10
`)
	r, rec := newRuntime(t, cfg)

	// Buy 2 at market: fills at the next open 100 plus 0.1% = 100.10, fee 0.2002.
	exec(t, r, "alice", `ctx.trade("X", 2)`)
	if got := rec.ofKind(KindOrder); len(got) != 1 ||
		got[0] != (entry{KindOrder, "alice", "buy 2 X @ market (o1)"}) {
		t.Fatalf("order entries %v", got)
	}
	r.Step()
	if got := rec.ofKind(KindFill); len(got) != 1 ||
		got[0] != (entry{KindFill, "alice", "filled o1: buy 2 X @ 100.10 fee 0.20"}) {
		t.Fatalf("fill entries %v", got)
	}
	p := positionOf(t, r, "X")
	if !near(p.Quantity, 2) || !near(p.AvgPrice, 100.1) || !near(p.LastPrice, 100) ||
		!near(p.UnrealizedPnL, -0.2) || !near(p.MarketValue, 200) {
		t.Errorf("after buy: %+v", p)
	}
	if s := r.Snapshot(); !near(s.Cash, 9799.5998) || !near(s.Equity, 9999.5998) {
		t.Errorf("after buy: cash %v equity %v", s.Cash, s.Equity)
	}
	checkEquity(t, r)

	// Sell 1: fills at 110 less 0.1% = 109.89, fee 0.10989; realises 9.79.
	exec(t, r, "bob", `ctx.trade("X", -1)`)
	r.Step()
	if got := rec.ofKind(KindFill); len(got) != 1 || got[0].origin != "bob" {
		t.Fatalf("fill entries %v", got)
	}
	p = positionOf(t, r, "X")
	if !near(p.Quantity, 1) || !near(p.AvgPrice, 100.1) || !near(p.RealizedPnL, 9.79) ||
		!near(p.UnrealizedPnL, 9.9) {
		t.Errorf("after partial close: %+v", p)
	}
	if s := r.Snapshot(); !near(s.Cash, 9909.37991) {
		t.Errorf("after partial close: cash %v", s.Cash)
	}
	checkEquity(t, r)

	// Sell 3: flips to short 2 at 119.88, fee 0.35964; realises 19.78 on the long 1.
	exec(t, r, "alice", `ctx.trade("X", -3)`)
	r.Step()
	if got := rec.ofKind(KindFill); len(got) != 1 ||
		got[0].text != "filled o3: sell 3 X @ 119.88 fee 0.36" {
		t.Fatalf("fill entries %v", got)
	}
	p = positionOf(t, r, "X")
	if !near(p.Quantity, -2) || !near(p.AvgPrice, 119.88) || !near(p.RealizedPnL, 29.57) ||
		!near(p.UnrealizedPnL, -0.24) || !near(p.MarketValue, -240) {
		t.Errorf("after flip: %+v", p)
	}
	if s := r.Snapshot(); !near(s.Cash, 10268.66027) {
		t.Errorf("after flip: cash %v", s.Cash)
	}
	checkEquity(t, r)

	// Buy 2 limit at 97: the next bar's low 95 crosses it, so it fills at 97, fee 0.194,
	// realising 45.76 on the short. A sell limit at 200 never fills.
	exec(t, r, "alice", `ctx.trade("X", 2, price=97)`)
	exec(t, r, "alice", `ctx.trade("X", -1, 200)`)
	r.Step()
	if got := rec.ofKind(KindFill); len(got) != 1 ||
		got[0].text != "filled o4: buy 2 X @ 97.00 fee 0.19" {
		t.Fatalf("fill entries %v", got)
	}
	p = positionOf(t, r, "X")
	if p.Quantity != 0 || p.AvgPrice != 0 || !near(p.RealizedPnL, 75.33) {
		t.Errorf("after limit close: %+v", p)
	}
	s := r.Snapshot()
	fees := 0.2002 + 0.10989 + 0.35964 + 0.194
	if !near(s.Cash, 10074.46627) || !near(s.Equity, 10000+75.33-fees) ||
		!near(s.Fees, fees) || len(s.Positions) != 0 {
		t.Errorf("after limit close: %+v", s)
	}
	if len(s.OpenOrders) != 1 || s.OpenOrders[0].ID != "o5" || s.OpenOrders[0].Price != 200 {
		t.Errorf("open orders %+v, want the sell limit at 200", s.OpenOrders)
	}
	checkEquity(t, r)

	// The last bar's high, 150, stays below the sell limit at 200: it stays open.
	if !r.Step() || len(r.Snapshot().OpenOrders) != 1 {
		t.Error("sell limit at 200 filled on a bar whose high is 150")
	}
	if r.Step() || !r.Snapshot().FeedDone {
		t.Error("csv feed did not end after its last row")
	}
}

func TestSetTargetPosition(t *testing.T) {
	cfg := testConfig(t, "", "X")
	csvConfig(t, cfg, `time,open,high,low,close,volume
1704067200,100,101,99,100,1
1704067260,100,101,99,100,1
1704067320,100,101,99,100,1
`)
	r, rec := newRuntime(t, cfg)

	if got := exec(t, r, "alice", `ctx.set_target_position("X", 3).quantity`); got != "3.0" {
		t.Errorf("first target order quantity = %s", got)
	}
	// A new target replaces the open order instead of adding to it.
	if got := exec(t, r, "alice", `ctx.set_target_position("X", 2).quantity`); got != "2.0" {
		t.Errorf("second target order quantity = %s", got)
	}
	orders := rec.ofKind(KindOrder)
	if len(orders) != 3 || orders[1].text != "cancelled buy 3 X @ market (o1)" {
		t.Errorf("order entries %v", orders)
	}
	r.Step()
	if got := exec(t, r, "alice", `ctx.set_target_position("X", 2)`); got != "" {
		t.Errorf("on target, set_target_position returned %s, want None", got)
	}
	if got := exec(t, r, "alice", `ctx.set_target_position("X", -1).side`); got != `"sell"` {
		t.Errorf("to -1: side %s", got)
	}
	r.Step()
	if p := positionOf(t, r, "X"); p.Quantity != -1 {
		t.Errorf("position %v, want -1", p.Quantity)
	}
	exec(t, r, "alice", `ctx.close_positions()`)
	r.Step()
	if len(r.Snapshot().Positions) != 0 {
		t.Errorf("positions after close_positions: %+v", r.Snapshot().Positions)
	}
}

func TestTradeRejectsBadArguments(t *testing.T) {
	r, _ := newRuntime(t, testConfig(t, ""))
	for code, want := range map[string]string{
		`ctx.trade("BTCUSDT", 0)`:             "amount must be a non-zero number",
		`ctx.trade("BTCUSDT", 1, price=-5)`:   "limit price must be more than 0",
		`ctx.trade("BTCUSDT", "1")`:           "got string, want a number",
		`ctx.ohlc("BTCUSDT", 0)`:              "length must be more than 0",
		`ctx.get_position("btc")`:             `unknown instrument "btc"`,
		`ctx.set_target_position("BTCUSDT")`:  "missing argument for target",
		`ctx.cancel_orders(sym="NOPE")`:       `unknown instrument "NOPE"`,
		`ctx.trade("BTCUSDT", 1, price="hi")`: "want a number or None",
	} {
		_, err := r.Exec("alice", code)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", code, err, want)
		}
	}
	if len(r.Snapshot().OpenOrders) != 0 {
		t.Errorf("rejected trades left orders: %+v", r.Snapshot().OpenOrders)
	}
}
