package strategy

import (
	"fmt"
	"math"
	"math/rand/v2"
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
		`ctx.trade("BTCUSDT", 0)`:                          "amount must be a non-zero number",
		`ctx.trade("BTCUSDT", 1, price=-5)`:                "limit price must be more than 0",
		`ctx.trade("BTCUSDT", "1")`:                        "got string, want a number",
		`ctx.ohlc("BTCUSDT", 0)`:                           "length must be more than 0",
		`ctx.get_position("btc")`:                          `unknown instrument "btc"`,
		`ctx.set_target_position("BTCUSDT")`:               "missing argument for target",
		`ctx.cancel_orders(sym="NOPE")`:                    `unknown instrument "NOPE"`,
		`ctx.trade("BTCUSDT", 1, price="hi")`:              "want a number or None",
		`ctx.ohlc()`:                                       "missing argument for sym",
		`ctx.ohlc("BTCUSDT", length="x")`:                  "got string, want int",
		`ctx.ohlc("BTCUSDT", -1)`:                          "length must be more than 0",
		`ctx.ohlc("ETH", 5)`:                               `unknown instrument "ETH"`,
		`ctx.trade(1, 1)`:                                  "got int, want string",
		`ctx.set_target_position("BTCUSDT", float("nan"))`: "target must be a number",
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

// TestBrokerShortSide walks a short through open, add, partial cover and a cover by a
// limit that the bar opens through, then shorts again with a sell limit; fees 5 bps, no
// slippage. Every number was worked out by hand.
func TestBrokerShortSide(t *testing.T) {
	cfg := testConfig(t, "", "X")
	cfg.Account = AccountConfig{Capital: 10000, FeeBps: 5}
	csvConfig(t, cfg, `time,open,high,low,close,volume
2024-01-01T00:00:00Z,50,51,47,48,1
2024-01-01T00:01:00Z,47,48,45,46,1
2024-01-01T00:02:00Z,45,46,43,44,1
2024-01-01T00:03:00Z,45,47,44,46,1
2024-01-01T00:04:00Z,45,48,44.5,46,1
`)
	r, rec := newRuntime(t, cfg)
	type want struct {
		qty, avg, realized, unrealized, cash, equity float64
	}
	check := func(step string, w want) {
		t.Helper()
		p := positionOf(t, r, "X")
		s := r.Snapshot()
		if !near(p.Quantity, w.qty) || !near(p.AvgPrice, w.avg) ||
			!near(p.RealizedPnL, w.realized) || !near(p.UnrealizedPnL, w.unrealized) ||
			!near(s.Cash, w.cash) || !near(s.Equity, w.equity) {
			t.Errorf("%s: position %+v, cash %v, equity %v; want %+v", step, p, s.Cash,
				s.Equity, w)
		}
		checkEquity(t, r)
	}

	// Sell 4 at the open 50: fee 0.1, cash 10000 + 200 - 0.1; the close 48 gains 8.
	exec(t, r, "alice", `ctx.trade("X", -4)`)
	r.Step()
	check("open short", want{-4, 50, 0, 8, 10199.9, 10007.9})

	// Sell 2 more at 47: fee 0.047, average (4×50 + 2×47) / 6 = 49; close 46 gains 18.
	exec(t, r, "alice", `ctx.trade("X", -2)`)
	r.Step()
	check("add to short", want{-6, 49, 0, 18, 10293.853, 10017.853})

	// Buy 5 at 45: fee 0.1125, realises 5 × (49 - 45) = 20; one left at 49, close 44.
	exec(t, r, "alice", `ctx.trade("X", 5)`)
	r.Step()
	check("partial cover", want{-1, 49, 20, 5, 10068.7405, 10024.7405})

	// A buy limit at 46 on a bar that opens at 45 fills at 45, not 46: fee 0.0225,
	// realises 4 more.
	exec(t, r, "alice", `ctx.trade("X", 1, price=46)`)
	r.Step()
	if got := rec.ofKind(KindFill); len(got) != 4 ||
		got[3].text != "filled o4: buy 1 X @ 45.00 fee 0.02" {
		t.Errorf("fills %v", got)
	}
	check("cover by limit", want{0, 0, 24, 0, 10023.718, 10023.718})

	// A sell limit at 47 on a bar from 45 up to 48 fills at 47: fee 0.0235.
	exec(t, r, "alice", `ctx.trade("X", -1, price=47)`)
	r.Step()
	check("sell limit", want{-1, 47, 24, 1, 10070.6945, 10024.6945})
	if s := r.Snapshot(); !near(s.Fees, 0.1+0.047+0.1125+0.0225+0.0235) ||
		!near(s.PnL, 24+1-s.Fees) {
		t.Errorf("fees %v, pnl %v", s.Fees, s.PnL)
	}
}

// TestAccountIdentities places random market and limit orders, long and short, on three
// instruments for 3000 bars and checks after every bar that the account adds up: equity
// is cash plus market value, cash is capital less what the fills cost, and the PnL is
// realised plus unrealised less fees.
func TestAccountIdentities(t *testing.T) {
	cfg := testConfig(t, "", "BTCUSDT", "ETHUSDT", "XYZ")
	cfg.Account = AccountConfig{Capital: 50000, FeeBps: 7, SlippageBps: 3}
	r, _ := newRuntime(t, cfg)
	rng := rand.New(rand.NewPCG(7, 7))

	cash, fees, filled := 50000.0, 0.0, 0
	for step := range 3000 {
		for _, sym := range cfg.Instruments {
			if rng.IntN(4) != 0 {
				continue
			}
			qty := float64(rng.IntN(7)-3) + rng.Float64()
			limit := 0.0
			if last := r.quotes[sym].Last; last > 0 && rng.IntN(2) == 0 {
				limit = last * (1 + (rng.Float64()-0.5)/100)
			}
			if math.Abs(qty) > dust {
				if _, err := r.place("test", sym, qty, limit); err != nil {
					t.Fatal(err)
				}
			}
		}
		if open := r.acct.openOrders(""); len(open) > 5 {
			r.cancel("test", open[rng.IntN(len(open))].ID)
		}

		_, fills, _ := r.advance()
		for _, f := range fills {
			signed := f.Quantity * f.Price
			if f.Side == SideSell {
				signed = -signed
			}
			cash -= signed + f.Fee
			fees += f.Fee
			filled++
		}

		s := r.Snapshot()
		value, pnl := 0.0, -s.Fees
		for _, p := range s.Positions {
			value += p.MarketValue
		}
		for _, p := range r.AccountState().Positions {
			pnl += p.RealizedPnL + p.UnrealizedPnL
		}
		tol := 1e-9 * (50000 + math.Abs(s.Cash))
		if math.Abs(s.Equity-(s.Cash+value)) > tol || math.Abs(s.Cash-cash) > tol ||
			math.Abs(s.Fees-fees) > tol || math.Abs(s.PnL-pnl) > 1e-6 {
			t.Fatalf("bar %d: equity %v, cash %v (want %v), value %v, fees %v (want %v), "+
				"pnl %v (realised + unrealised - fees = %v)", step, s.Equity, s.Cash, cash,
				value, s.Fees, fees, s.PnL, pnl)
		}
	}
	if filled < 1000 {
		t.Errorf("only %d fills in 3000 bars", filled)
	}
}
