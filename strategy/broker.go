package strategy

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Order sides and statuses.
const (
	SideBuy  = "buy"
	SideSell = "sell"

	StatusOpen      = "open"
	StatusFilled    = "filled"
	StatusCancelled = "cancelled"
)

// Fill is one execution of an order in the paper broker.
type Fill struct {
	OrderID  string    `json:"order_id"`
	Symbol   string    `json:"symbol"`
	Side     string    `json:"side"`
	Quantity float64   `json:"quantity"` // always positive; Side says the direction
	Price    float64   `json:"price"`
	Fee      float64   `json:"fee"`
	Time     time.Time `json:"time"`
	Origin   string    `json:"origin"` // who placed the order
}

// dust is the quantity below which a position counts as flat, so that float rounding
// (0.1 + 0.2 - 0.3) does not leave phantom positions behind.
const dust = 1e-9

// account is the paper account and its broker: cash, positions and open orders.
// Market orders fill at the next bar's open plus slippage; limit orders fill at their
// price once a bar trades through it (at the open when the bar gaps through it), with
// no slippage. Orders fill whole, in the order they were placed. There are no margin
// or buying-power checks: the account may go short and its cash may go negative.
//
// A position keeps its average entry price while it shrinks; the part that closes
// realises (exit - average) × quantity, or the opposite for a short, before fees.
// Fees are paid from cash and counted apart, so at all times
//
//	equity = cash + Σ quantity × last price
//	equity - capital = Σ realised + Σ unrealised - fees
type account struct {
	capital float64
	cash    float64
	fees    float64 // total fees paid
	feeBps  float64
	slipBps float64

	symbols   []string             // instruments, in config order
	positions map[string]*Position // by symbol; entries stay when flat (realised PnL)
	open      []*Order             // open orders, oldest first
	nextID    int
}

func newAccount(cfg AccountConfig, symbols []string) *account {
	a := &account{
		capital:   cfg.Capital,
		cash:      cfg.Capital,
		feeBps:    cfg.FeeBps,
		slipBps:   cfg.SlippageBps,
		symbols:   symbols,
		positions: make(map[string]*Position, len(symbols)),
		nextID:    1,
	}
	for _, s := range symbols {
		a.positions[s] = &Position{Symbol: s}
	}
	return a
}

// place records a new open order. qty is signed: more than 0 buys. price 0 means a
// market order.
func (a *account) place(sym string, qty, price float64, origin string,
	t time.Time) (*Order, error) {
	if math.IsNaN(qty) || math.IsInf(qty, 0) || math.Abs(qty) < dust {
		return nil, fmt.Errorf("amount must be a non-zero number, got %v", qty)
	}
	if math.IsNaN(price) || math.IsInf(price, 0) || price < 0 {
		return nil, fmt.Errorf("limit price must be more than 0, got %v", price)
	}
	o := &Order{
		ID:       "o" + strconv.Itoa(a.nextID),
		Symbol:   sym,
		Side:     SideBuy,
		Quantity: math.Abs(qty),
		Price:    price,
		Status:   StatusOpen,
		Time:     t,
		Origin:   origin,
	}
	if qty < 0 {
		o.Side = SideSell
	}
	a.nextID++
	a.open = append(a.open, o)
	return o, nil
}

// cancel removes an open order by id.
func (a *account) cancel(id string) (*Order, bool) {
	for i, o := range a.open {
		if o.ID == id {
			a.open = append(a.open[:i], a.open[i+1:]...)
			o.Status = StatusCancelled
			return o, true
		}
	}
	return nil, false
}

// openOrders returns the open orders of sym, or all of them when sym is "".
func (a *account) openOrders(sym string) []*Order {
	var list []*Order
	for _, o := range a.open {
		if sym == "" || o.Symbol == sym {
			list = append(list, o)
		}
	}
	return list
}

// match fills the open orders of bar's instrument that the bar executes, in the order
// they were placed, and applies the fills to the account.
func (a *account) match(bar Bar) []Fill {
	var fills []Fill
	keep := a.open[:0]
	for _, o := range a.open {
		if o.Symbol != bar.Symbol {
			keep = append(keep, o)
			continue
		}
		price, ok := a.execPrice(o, bar)
		if !ok {
			keep = append(keep, o)
			continue
		}
		f := Fill{
			OrderID:  o.ID,
			Symbol:   o.Symbol,
			Side:     o.Side,
			Quantity: o.Quantity,
			Price:    price,
			Fee:      o.Quantity * price * a.feeBps / 1e4,
			Time:     bar.Time,
			Origin:   o.Origin,
		}
		o.Status = StatusFilled
		a.apply(f)
		fills = append(fills, f)
	}
	clear(a.open[len(keep):])
	a.open = keep
	return fills
}

// execPrice says whether bar fills o, and at what price.
func (a *account) execPrice(o *Order, bar Bar) (float64, bool) {
	slip := a.slipBps / 1e4
	switch {
	case o.Price == 0 && o.Side == SideBuy:
		return bar.Open * (1 + slip), true
	case o.Price == 0:
		return bar.Open * (1 - slip), true
	// A limit order fills at its price once the bar trades through it, or at the open
	// when the bar opens through it already: a buy limit never pays more than its price
	// and a sell limit never gets less, as on an exchange.
	case o.Side == SideBuy && bar.Low <= o.Price:
		return min(o.Price, bar.Open), true
	case o.Side == SideSell && bar.High >= o.Price:
		return max(o.Price, bar.Open), true
	}
	return 0, false
}

// apply books a fill: cash, fees, position quantity, average price and realised PnL.
func (a *account) apply(f Fill) {
	qty := f.Quantity
	if f.Side == SideSell {
		qty = -qty
	}
	a.cash -= qty*f.Price + f.Fee
	a.fees += f.Fee

	p := a.position(f.Symbol)
	switch {
	case p.Quantity == 0 || (p.Quantity > 0) == (qty > 0):
		// Opening or adding: the average price is the quantity-weighted mean.
		total := math.Abs(p.Quantity) + math.Abs(qty)
		p.AvgPrice = (p.AvgPrice*math.Abs(p.Quantity) + f.Price*math.Abs(qty)) / total
		p.Quantity += qty
	default:
		// Reducing, closing or flipping: realise PnL on the part that closes.
		closed := min(math.Abs(qty), math.Abs(p.Quantity))
		direction := 1.0
		if p.Quantity < 0 {
			direction = -1
		}
		p.RealizedPnL += closed * (f.Price - p.AvgPrice) * direction
		p.Quantity += qty
		switch {
		case math.Abs(p.Quantity) < dust:
			p.Quantity, p.AvgPrice = 0, 0
		case (p.Quantity > 0) == (qty > 0):
			p.AvgPrice = f.Price // flipped: the rest opened at this price
		}
	}
	if p.LastPrice == 0 {
		p.LastPrice = f.Price
	}
	a.revalue(p)
}

// mark sets the last price of sym and revalues its position.
func (a *account) mark(sym string, last float64) {
	p := a.position(sym)
	p.LastPrice = last
	a.revalue(p)
}

func (a *account) revalue(p *Position) {
	p.MarketValue = p.Quantity * p.LastPrice
	p.UnrealizedPnL = 0
	if u := (p.LastPrice - p.AvgPrice) * p.Quantity; u != 0 {
		p.UnrealizedPnL = u // never -0, which a short at its average price gives
	}
}

func (a *account) position(sym string) *Position {
	p := a.positions[sym]
	if p == nil {
		p = &Position{Symbol: sym}
		a.positions[sym] = p
	}
	return p
}

// equity is cash plus the market value of every position, added in instrument order
// so that the same account always gives the same figure.
func (a *account) equity() float64 {
	e := a.cash
	for _, s := range a.symbols {
		if p := a.positions[s]; p != nil {
			e += p.MarketValue
		}
	}
	return e
}

// held returns copies of the non-zero positions in instrument order.
func (a *account) held() []Position {
	var list []Position
	for _, s := range a.symbols {
		if p := a.positions[s]; p != nil && p.Quantity != 0 {
			list = append(list, *p)
		}
	}
	return list
}

// describeOrder is the text of an order entry, e.g. "buy 0.5 BTCUSDT @ market (o3)".
func describeOrder(o *Order) string {
	at := "market"
	if o.Price != 0 {
		at = formatPrice(o.Price) + " limit"
	}
	return fmt.Sprintf("%s %s %s @ %s (%s)", o.Side, formatQty(o.Quantity), o.Symbol, at, o.ID)
}

// describeFill is the text of a fill entry,
// e.g. "filled o3: buy 0.5 BTCUSDT @ 30012.50 fee 6.00".
func describeFill(f Fill) string {
	return fmt.Sprintf("filled %s: %s %s %s @ %s fee %.2f", f.OrderID, f.Side,
		formatQty(f.Quantity), f.Symbol, formatPrice(f.Price), f.Fee)
}

// formatQty shows a quantity without float noise (0.30000000000000004 is 0.3).
func formatQty(q float64) string {
	return strconv.FormatFloat(math.Round(q*1e10)/1e10, 'f', -1, 64)
}

// formatPrice shows two decimals, or six significant digits for prices below 1.
func formatPrice(p float64) string {
	if math.Abs(p) >= 1 || p == 0 {
		return strconv.FormatFloat(p, 'f', 2, 64)
	}
	return strconv.FormatFloat(p, 'g', 6, 64)
}
