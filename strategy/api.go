package strategy

// This file is the boundary between the kernel and the strategy runtime: the kernel
// loop owns a *Runtime and calls it from that one goroutine, except Cancel, which any
// goroutine may call.

import (
	"time"
)

// Kinds of output a Runtime emits. They match the kernel's entry kinds.
const (
	KindStdout = "stdout"
	KindLog    = "log"
	KindOrder  = "order"
	KindFill   = "fill"
	KindError  = "error"
)

// OriginStrategy is the origin of output caused by the strategy's own hooks.
const OriginStrategy = "strategy"

// OriginFeed is the origin of the feed's own log entries, such as replay progress.
const OriginFeed = "feed"

// Output receives everything a Runtime makes observable. The kernel implements it;
// Emit is called on the kernel loop goroutine, synchronously.
type Output interface {
	Emit(kind, origin, text string)
}

// Bar is one OHLCV bar of one instrument.
type Bar struct {
	Symbol string
	Time   time.Time
	Open   float64
	High   float64
	Low    float64
	Close  float64
	Volume float64
}

// Position is one instrument's holding in the paper account.
type Position struct {
	Symbol        string  `json:"symbol"`
	Quantity      float64 `json:"quantity"`
	AvgPrice      float64 `json:"avg_price"`
	LastPrice     float64 `json:"last_price"`
	UnrealizedPnL float64 `json:"unrealized_pnl"`
	RealizedPnL   float64 `json:"realized_pnl"`
	MarketValue   float64 `json:"market_value"`
}

// Order is an order in the paper broker.
type Order struct {
	ID       string    `json:"id"`
	Symbol   string    `json:"symbol"`
	Side     string    `json:"side"` // "buy" or "sell"
	Quantity float64   `json:"quantity"`
	Price    float64   `json:"price"` // 0 for market orders
	Status   string    `json:"status"`
	Time     time.Time `json:"time"`
	Origin   string    `json:"origin"`
}

// Quote is the last known price of an instrument.
type Quote struct {
	Symbol string    `json:"symbol"`
	Bid    float64   `json:"bid"`
	Ask    float64   `json:"ask"`
	Last   float64   `json:"last"`
	Time   time.Time `json:"time"`
}

// Snapshot is the strategy side of a kernel's status: market time and account.
type Snapshot struct {
	MarketTime  time.Time  `json:"market_time"`
	Equity      float64    `json:"equity"`
	Cash        float64    `json:"cash"`
	PnL         float64    `json:"pnl"`  // equity minus starting capital
	Fees        float64    `json:"fees"` // fees paid so far, already out of cash
	Positions   []Position `json:"positions"`
	OpenOrders  []Order    `json:"open_orders"`
	Quotes      []Quote    `json:"quotes"`
	Bars        int64      `json:"bars"`         // bar steps delivered so far
	FeedSteps   int64      `json:"feed_steps"`   // bar steps in a csv feed; 0: endless
	FeedDone    bool       `json:"feed_done"`    // the feed has no more bars
	HooksPaused bool       `json:"hooks_paused"` // ctx.pause() is in effect
}
