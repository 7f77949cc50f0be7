package strategy

import (
	"bufio"
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
	// length is how many bar times the feed holds in all, or 0 when it never ends.
	length() int64
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

func (f *syntheticFeed) length() int64 { return 0 }

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

// SymbolPlaceholder in a csv feed's path stands for each instrument: with
// "data/{symbol}_1m.csv" every instrument has a file of its own.
const SymbolPlaceholder = "{symbol}"

// csvFeed replays bars loaded from csv files, one bar time at a time.
type csvFeed struct {
	bars  []Bar // sorted by time, then by instrument
	steps []int // bar time i is bars[steps[i]:steps[i+1]]
	i     int
}

func (f *csvFeed) next() ([]Bar, bool) {
	if f.i >= len(f.steps)-1 {
		return nil, false
	}
	f.i++
	return f.bars[f.steps[f.i-1]:f.steps[f.i]:f.steps[f.i]], true
}

func (f *csvFeed) length() int64 { return int64(len(f.steps) - 1) }

// csvColumns are the columns a csv feed needs, in their default order.
var csvColumns = []string{"time", "open", "high", "low", "close", "volume"}

// csvRows collects the bars of a csv feed with where each came from, for errors.
type csvRows struct {
	bars    []Bar
	sources []csvSource // sources[i] is where bars[i] was read
	order   map[string]int
}

type csvSource struct {
	file string
	line int
}

// loadCSVFeed reads the whole of a csv feed, so that a malformed row is found before
// the strategy starts. path is one file holding every instrument, or a pattern with
// SymbolPlaceholder naming one file per instrument. Columns are time, open, high, low,
// close, volume and optionally symbol, named by a header row or in that order without
// one. In a single file, rows of symbols that are not instruments are skipped, and rows
// without a symbol belong to the only instrument; in a file per instrument every row
// is that instrument's. Rows may come in any order; two bars of one instrument at the
// same time are an error.
func loadCSVFeed(path string, instruments []string) (*csvFeed, error) {
	rows := &csvRows{order: make(map[string]int, len(instruments))}
	for i, sym := range instruments {
		rows.order[sym] = i
	}
	if strings.Contains(path, SymbolPlaceholder) {
		for _, sym := range instruments {
			file := strings.ReplaceAll(path, SymbolPlaceholder, sym)
			if err := rows.read(file, instruments, sym); err != nil {
				return nil, err
			}
		}
	} else if err := rows.read(path, instruments, ""); err != nil {
		return nil, err
	}
	return rows.feed(path, instruments)
}

// read appends the bars of one csv file. only, when set, is the instrument every row
// of the file belongs to.
func (c *csvRows) read(path string, instruments []string, only string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open csv feed: %w", err)
	}
	defer file.Close()

	r := csv.NewReader(bufio.NewReaderSize(file, 1<<16))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	r.Comment = '#'
	cols := csvLayout{time: 0, open: 1, high: 2, low: 3, close: 4, volume: 5, symbol: -1}
	first := true
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var perr *csv.ParseError
			if errors.As(err, &perr) {
				return fmt.Errorf("%s:%d: %v", path, perr.Line, perr.Err)
			}
			return fmt.Errorf("read csv feed %s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		if first {
			first = false
			if header, ok := csvHeader(rec); ok {
				if cols, err = header.layout(); err != nil {
					return fmt.Errorf("%s:%d: %w", path, line, err)
				}
				continue
			}
			if len(rec) > 6 {
				cols.symbol = 6
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		sym := only
		if sym == "" {
			if sym, err = rowSymbol(rec, cols, instruments); err != nil {
				return fmt.Errorf("%s:%d: %w", path, line, err)
			}
			if sym == "" {
				continue // not an instrument
			}
		}
		bar, err := parseCSVBar(rec, cols)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, err)
		}
		bar.Symbol = sym
		c.bars = append(c.bars, bar)
		c.sources = append(c.sources, csvSource{path, line})
	}
}

// feed sorts the bars into bar times and checks that every instrument has bars.
func (c *csvRows) feed(path string, instruments []string) (*csvFeed, error) {
	idx := make([]int, len(c.bars))
	for i := range idx {
		idx[i] = i
	}
	byTime := func(a, b int) int {
		if d := c.bars[a].Time.Compare(c.bars[b].Time); d != 0 {
			return d
		}
		return c.order[c.bars[a].Symbol] - c.order[c.bars[b].Symbol]
	}
	if !slices.IsSortedFunc(idx, byTime) {
		slices.SortStableFunc(idx, byTime)
	}

	f := &csvFeed{bars: make([]Bar, 0, len(c.bars))}
	seen := make(map[string]bool, len(instruments))
	for k, i := range idx {
		b := c.bars[i]
		if k > 0 && byTime(idx[k-1], i) == 0 {
			prev := c.sources[idx[k-1]]
			return nil, fmt.Errorf("%s:%d: a second %s bar at %s; the first is at %s:%d",
				c.sources[i].file, c.sources[i].line, b.Symbol, b.Time.Format(time.RFC3339),
				prev.file, prev.line)
		}
		if k == 0 || !b.Time.Equal(f.bars[len(f.bars)-1].Time) {
			f.steps = append(f.steps, len(f.bars))
		}
		f.bars = append(f.bars, b)
		seen[b.Symbol] = true
	}
	f.steps = append(f.steps, len(f.bars))

	for _, sym := range instruments {
		if !seen[sym] {
			file := strings.ReplaceAll(path, SymbolPlaceholder, sym)
			return nil, fmt.Errorf("csv feed %s has no bars for %s", file, sym)
		}
	}
	return f, nil
}

// csvLayout gives the column of each field of a csv row; symbol is -1 when there is
// no symbol column.
type csvLayout struct {
	time, open, high, low, close, volume, symbol int
}

// csvHeaderRow maps the lower-case names of a header row to their columns.
type csvHeaderRow map[string]int

// layout checks that a header names every column a bar needs.
func (h csvHeaderRow) layout() (csvLayout, error) {
	var missing []string
	for _, c := range csvColumns {
		if _, ok := h[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return csvLayout{}, fmt.Errorf("header lacks %s; want columns "+
			"time,open,high,low,close,volume[,symbol]", strings.Join(missing, ", "))
	}
	sym, ok := h["symbol"]
	if !ok {
		sym = -1
	}
	return csvLayout{time: h["time"], open: h["open"], high: h["high"], low: h["low"],
		close: h["close"], volume: h["volume"], symbol: sym}, nil
}

// csvAliases are other names of the columns, common in exported market data.
var csvAliases = map[string]string{
	"timestamp": "time", "date": "time", "datetime": "time", "open_time": "time",
	"o": "open", "h": "high", "l": "low", "c": "close", "v": "volume", "vol": "volume",
	"ticker": "symbol",
}

// csvHeader reads rec as a header row when its first field holds no digit (a time
// always does).
func csvHeader(rec []string) (csvHeaderRow, bool) {
	if strings.ContainsAny(rec[0], "0123456789") {
		return nil, false
	}
	cols := csvHeaderRow{}
	for i, name := range rec {
		cols[strings.ToLower(strings.TrimSpace(name))] = i
	}
	// An alias counts only when the column's own name is absent: "date,time,…" keeps
	// its time column.
	for i, name := range rec {
		alias, ok := csvAliases[strings.ToLower(strings.TrimSpace(name))]
		if _, taken := cols[alias]; ok && !taken {
			cols[alias] = i
		}
	}
	return cols, true
}

// rowSymbol returns the instrument a row of a single-file feed belongs to, or "" when
// its symbol is not an instrument. The string is the instrument's own, so that a
// million rows share a handful of strings.
func rowSymbol(rec []string, cols csvLayout, instruments []string) (string, error) {
	sym := ""
	if cols.symbol >= 0 && cols.symbol < len(rec) {
		sym = strings.TrimSpace(rec[cols.symbol])
	}
	if sym == "" {
		if len(instruments) != 1 {
			return "", fmt.Errorf("row has no symbol, and there are %d instruments",
				len(instruments))
		}
		return instruments[0], nil
	}
	for _, s := range instruments {
		if s == sym {
			return s, nil
		}
	}
	return "", nil
}

// parseCSVBar reads the time and prices of a row; the caller sets the symbol.
func parseCSVBar(rec []string, cols csvLayout) (Bar, error) {
	field := func(i int) string {
		if i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var b Bar
	t, err := parseCSVTime(field(cols.time))
	if err != nil {
		return b, err
	}
	b.Time = t
	fields := []struct {
		name string
		col  int
		dst  *float64
	}{
		{"open", cols.open, &b.Open}, {"high", cols.high, &b.High}, {"low", cols.low, &b.Low},
		{"close", cols.close, &b.Close}, {"volume", cols.volume, &b.Volume},
	}
	for _, f := range fields {
		s := field(f.col)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("bad %s %q: want a number", f.name, s)
		}
		*f.dst = v
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
