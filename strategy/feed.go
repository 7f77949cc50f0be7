package strategy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A feed produces bars, one bar time at a time.
type feed interface {
	// next returns the bars of the next bar time (at most one per instrument, all with
	// the same time), or ok == false when the feed has no more bars. The slice is valid
	// until the next call: a feed may reuse it.
	next() (bars []Bar, ok bool)
}

func newFeed(cfg *Config) (feed, error) {
	switch cfg.Feed.Kind {
	case FeedCSV:
		return loadCSVFeed(cfg.Feed.Path, cfg.Instruments)
	case FeedSynthetic, "":
		return newSyntheticFeed(cfg.Instruments, cfg.Feed.Timeframe, cfg.Feed.Seed), nil
	}
	return nil, fmt.Errorf("unknown feed kind %q; want synthetic or csv", cfg.Feed.Kind)
}

// syntheticStart is the market time of a synthetic feed's first bar.
var syntheticStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// syntheticFeed is a seeded random walk per instrument that never ends. The same
// seed, instruments and timeframe always give the same bars.
type syntheticFeed struct {
	walks     []*walk
	timeframe time.Duration
	t         time.Time
	bars      []Bar // returned by next, reused
}

// walk is one instrument's random walk: geometric Brownian motion with small wicks.
type walk struct {
	symbol string
	rng    *rand.Rand
	price  float64
	vol    float64 // standard deviation of one bar's log return
	volume float64 // typical volume of one bar
}

func newSyntheticFeed(symbols []string, timeframe time.Duration, seed int64) *syntheticFeed {
	if timeframe <= 0 {
		timeframe = DefaultTimeframe
	}
	// Volatility grows with the square root of the bar length: 0.1% for a 1m bar.
	vol := 0.001 * math.Sqrt(timeframe.Minutes())
	f := &syntheticFeed{timeframe: timeframe, t: syntheticStart}
	for i, sym := range symbols {
		price, volume := startingPrice(sym)
		f.walks = append(f.walks, &walk{
			symbol: sym,
			rng:    rand.New(rand.NewPCG(uint64(seed), uint64(i))),
			price:  price,
			vol:    vol,
			volume: volume,
		})
	}
	return f
}

// startingPrice picks a believable first price and bar volume for a symbol.
func startingPrice(sym string) (price, volume float64) {
	s := strings.ToUpper(sym)
	switch {
	case strings.HasPrefix(s, "BTC"):
		return 30000, 20
	case strings.HasPrefix(s, "ETH"):
		return 2000, 300
	}
	return 100, 5000
}

func (f *syntheticFeed) next() ([]Bar, bool) {
	if f.bars == nil {
		f.bars = make([]Bar, len(f.walks))
	}
	for i, w := range f.walks {
		f.bars[i] = w.bar(f.t)
	}
	f.t = f.t.Add(f.timeframe)
	return f.bars, true
}

func (w *walk) bar(t time.Time) Bar {
	r := w.rng.NormFloat64() * w.vol
	open := w.price
	closing := roundPrice(open * math.Exp(r))
	high := roundPrice(max(open, closing) * (1 + math.Abs(w.rng.NormFloat64())*w.vol/2))
	low := roundPrice(min(open, closing) * (1 - math.Abs(w.rng.NormFloat64())*w.vol/2))
	// Big moves trade more.
	volume := w.volume * (0.5 + w.rng.Float64()) * (1 + math.Abs(r)/w.vol/2)
	w.price = closing
	return Bar{
		Symbol: w.symbol,
		Time:   t,
		Open:   open,
		High:   max(high, open, closing),
		Low:    min(low, open, closing),
		Close:  closing,
		Volume: math.Round(volume*1e4) / 1e4,
	}
}

// roundPrice rounds to a tick of 0.01, or to six significant digits below 1.
func roundPrice(p float64) float64 {
	if p >= 1 {
		return math.Round(p*100) / 100
	}
	if p <= 0 {
		return 0.000001
	}
	scale := math.Pow(10, 5-math.Floor(math.Log10(p)))
	return math.Round(p*scale) / scale
}

// csvFeed replays bars loaded from a csv file, grouped by time.
type csvFeed struct {
	steps [][]Bar
	i     int
}

func (f *csvFeed) next() ([]Bar, bool) {
	if f.i >= len(f.steps) {
		return nil, false
	}
	f.i++
	return f.steps[f.i-1], true
}

// csvColumns are the columns a csv feed needs, in their default order.
var csvColumns = []string{"time", "open", "high", "low", "close", "volume"}

// loadCSVFeed reads a whole csv file of bars. Columns are time, open, high, low, close,
// volume and optionally symbol, named by a header row or in that order without one.
// Rows of symbols that are not instruments are skipped; rows without a symbol belong to
// the only instrument.
func loadCSVFeed(path string, instruments []string) (*csvFeed, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open csv feed: %w", err)
	}
	defer file.Close()

	r := csv.NewReader(file)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	cols := map[string]int{"time": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5}
	byTime := map[int64][]Bar{}
	count := map[string]int{}
	first := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) {
				return nil, fmt.Errorf("%s:%d: %v", path, perr.Line, perr.Err)
			}
			return nil, fmt.Errorf("read csv feed %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if first {
			first = false
			if header, ok := csvHeader(rec); ok {
				if err := checkHeader(header); err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, line, err)
				}
				cols = header
				continue
			}
			if len(rec) > 6 {
				cols["symbol"] = 6
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		bar, err := parseCSVBar(rec, cols, instruments)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if !slices.Contains(instruments, bar.Symbol) {
			continue
		}
		byTime[bar.Time.UnixNano()] = append(byTime[bar.Time.UnixNano()], bar)
		count[bar.Symbol]++
	}

	for _, sym := range instruments {
		if count[sym] == 0 {
			return nil, fmt.Errorf("csv feed %s has no bars for %s", path, sym)
		}
	}
	times := make([]int64, 0, len(byTime))
	for t := range byTime {
		times = append(times, t)
	}
	slices.Sort(times)
	f := &csvFeed{}
	for _, t := range times {
		f.steps = append(f.steps, byTime[t])
	}
	return f, nil
}

// csvHeader reads rec as a header row when its first field holds no digit (a time
// always does).
func csvHeader(rec []string) (map[string]int, bool) {
	if strings.ContainsAny(rec[0], "0123456789") {
		return nil, false
	}
	cols := map[string]int{}
	for i, name := range rec {
		cols[strings.ToLower(strings.TrimSpace(name))] = i
	}
	return cols, true
}

func checkHeader(cols map[string]int) error {
	var missing []string
	for _, c := range csvColumns {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("header lacks %s; want columns time,open,high,low,close,volume[,symbol]",
			strings.Join(missing, ", "))
	}
	return nil
}

func parseCSVBar(rec []string, cols map[string]int, instruments []string) (Bar, error) {
	field := func(name string) string {
		if i, ok := cols[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var b Bar
	if _, ok := cols["symbol"]; ok {
		b.Symbol = field("symbol")
	}
	if b.Symbol == "" {
		if len(instruments) != 1 {
			return b, fmt.Errorf("row has no symbol, and there are %d instruments",
				len(instruments))
		}
		b.Symbol = instruments[0]
	}

	t, err := parseCSVTime(field("time"))
	if err != nil {
		return b, err
	}
	b.Time = t
	nums := []*float64{&b.Open, &b.High, &b.Low, &b.Close, &b.Volume}
	for i, name := range csvColumns[1:] {
		s := field(name)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("bad %s %q: want a number", name, s)
		}
		*nums[i] = v
	}

	switch {
	case b.Open <= 0 || b.High <= 0 || b.Low <= 0 || b.Close <= 0:
		return b, errors.New("prices must be more than 0")
	case b.High < max(b.Open, b.Close, b.Low):
		return b, fmt.Errorf("high %v is below open, low or close", b.High)
	case b.Low > min(b.Open, b.Close):
		return b, fmt.Errorf("low %v is above open or close", b.Low)
	case b.Volume < 0:
		return b, errors.New("volume is negative")
	}
	return b, nil
}

// parseCSVTime reads RFC 3339, or unix time in seconds (milliseconds when the number is
// too big to be seconds).
func parseCSVTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e11 {
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q: want RFC 3339 or unix seconds", s)
}
