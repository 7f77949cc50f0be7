package strategy

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// AccountState is the paper account, and how far the feed had got, in a form the kernel
// can save (it marshals to JSON) and hand back to RestoreAccount after a restart.
type AccountState struct {
	Capital     float64    `json:"capital"`
	Cash        float64    `json:"cash"`
	Fees        float64    `json:"fees"`
	Positions   []Position `json:"positions"` // flat ones too: they keep realised PnL
	OpenOrders  []Order    `json:"open_orders"`
	NextOrderID int        `json:"next_order_id"`
	MarketTime  time.Time  `json:"market_time"`
	Bars        int64      `json:"bars"` // bar times delivered
	// HooksPaused is ctx.pause() (or too many hook failures) in force: a strategy
	// someone paused stays paused after a restart.
	HooksPaused bool `json:"hooks_paused,omitempty"`
}

// AccountState returns the paper account and the feed's progress.
func (r *Runtime) AccountState() AccountState {
	s := AccountState{
		Capital:     r.acct.capital,
		Cash:        r.acct.cash,
		Fees:        r.acct.fees,
		NextOrderID: r.acct.nextID,
		MarketTime:  r.now,
		Bars:        r.bars,
		HooksPaused: r.paused,
	}
	for _, sym := range r.cfg.Instruments {
		s.Positions = append(s.Positions, *r.acct.position(sym))
	}
	for _, o := range r.acct.open {
		s.OpenOrders = append(s.OpenOrders, *o)
	}
	return s
}

// RestoreAccount puts back an account saved by AccountState. Call it after New and
// before Start. The feed is replayed silently (no fills, no hooks, no entries) up to the
// saved bar count, so market time, quotes and ctx.ohlc carry on where they were; a csv
// feed that has fewer bars ends early. Positions and orders in symbols that are no
// longer instruments make it fail, leaving the account as New made it.
func (r *Runtime) RestoreAccount(s AccountState) error {
	var problems []string
	for _, p := range s.Positions {
		if r.checkSymbol(p.Symbol) != nil && p.Quantity != 0 {
			problems = append(problems, "position in "+p.Symbol)
		}
	}
	for _, o := range s.OpenOrders {
		if r.checkSymbol(o.Symbol) != nil {
			problems = append(problems, "order "+o.ID+" in "+o.Symbol)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("restore account: %s: not among the instruments (%s)",
			strings.Join(problems, ", "), strings.Join(r.cfg.Instruments, ", "))
	}
	if !(s.Capital > 0) || math.IsInf(s.Capital, 0) || math.IsNaN(s.Cash) {
		return errors.New("restore account: the saved account has no capital")
	}

	for r.bars < s.Bars && r.skip() {
	}

	a := newAccount(AccountConfig{
		Capital: s.Capital, FeeBps: r.acct.feeBps, SlippageBps: r.acct.slipBps,
	}, r.cfg.Instruments)
	a.cash, a.fees = s.Cash, s.Fees
	for _, p := range s.Positions {
		if _, ok := a.positions[p.Symbol]; ok {
			q := p
			q.LastPrice = r.quotes[p.Symbol].Last
			if q.LastPrice == 0 {
				q.LastPrice = p.LastPrice
			}
			a.revalue(&q)
			a.positions[p.Symbol] = &q
		}
	}
	maxID := 0
	for _, o := range s.OpenOrders {
		o := o
		o.Status = StatusOpen
		a.open = append(a.open, &o)
		if n, err := strconv.Atoi(strings.TrimPrefix(o.ID, "o")); err == nil {
			maxID = max(maxID, n)
		}
	}
	a.nextID = max(s.NextOrderID, maxID+1, 1)
	r.acct = a
	r.paused = s.HooksPaused
	return nil
}

// skip advances the feed by one bar time without fills or hooks; false at its end.
func (r *Runtime) skip() bool {
	bars, ok := r.feed.next()
	if !ok || len(bars) == 0 {
		r.done = true
		return false
	}
	r.now = bars[0].Time
	r.bars++
	r.progress(false)
	for _, b := range bars {
		r.observe(b)
	}
	return true
}
