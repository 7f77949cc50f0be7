package strategy

import (
	"bufio"
	"bytes"
	"cmp"
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

// csvFeed replays bars loaded from csv files, one bar time at a time. It holds one run
// of bars per file, each sorted by time (then instrument), and merges them as it goes,
// so a file per instrument costs no copy of the bars.
type csvFeed struct {
	runs  []*csvRun // in the order of the instruments
	steps int64     // bar times in all
	out   []Bar     // returned by next, reused
}

// csvRun is the bars of one file, sorted, and how far the replay has got.
type csvRun struct {
	bars []Bar
	pos  int
}

func (f *csvFeed) next() ([]Bar, bool) {
	t, ok := earliest(f.runs, func(r *csvRun) int { return r.pos })
	if !ok {
		return nil, false
	}
	f.out = f.out[:0]
	for _, r := range f.runs {
		for r.pos < len(r.bars) && r.bars[r.pos].Time.Equal(t) {
			f.out = append(f.out, r.bars[r.pos])
			r.pos++
		}
	}
	return f.out, true
}

func (f *csvFeed) length() int64 { return f.steps }

// earliest returns the earliest time among the next bars of the runs, where pos says
// how far each run has got; ok is false when every run is done.
func earliest(runs []*csvRun, pos func(*csvRun) int) (t time.Time, ok bool) {
	for _, r := range runs {
		if i := pos(r); i < len(r.bars) && (!ok || r.bars[i].Time.Before(t)) {
			t, ok = r.bars[i].Time, true
		}
	}
	return t, ok
}

// countSteps counts the distinct bar times of runs.
func countSteps(runs []*csvRun) int64 {
	pos := make(map[*csvRun]int, len(runs))
	at := func(r *csvRun) int { return pos[r] }
	var n int64
	for {
		t, ok := earliest(runs, at)
		if !ok {
			return n
		}
		n++
		for _, r := range runs {
			for pos[r] < len(r.bars) && r.bars[pos[r]].Time.Equal(t) {
				pos[r]++
			}
		}
	}
}

// csvColumns are the columns a csv feed needs, in their default order.
var csvColumns = []string{"time", "open", "high", "low", "close", "volume"}

// csvRow is where a bar of a csv file came from, and its instrument's place in the
// config, for sorting and for errors.
type csvRow struct {
	line int32
	sym  int32 // index in the instruments
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
	f := &csvFeed{}
	seen := make([]bool, len(instruments))
	if strings.Contains(path, SymbolPlaceholder) {
		for i, sym := range instruments {
			file := strings.ReplaceAll(path, SymbolPlaceholder, sym)
			run, err := readCSVFile(file, instruments[i:i+1], true, seen[i:i+1])
			if err != nil {
				return nil, err
			}
			f.runs = append(f.runs, run)
		}
	} else {
		run, err := readCSVFile(path, instruments, false, seen)
		if err != nil {
			return nil, err
		}
		f.runs = append(f.runs, run)
	}

	for i, sym := range instruments {
		if !seen[i] {
			file := strings.ReplaceAll(path, SymbolPlaceholder, sym)
			return nil, fmt.Errorf("csv feed %s has no bars for %s", file, sym)
		}
	}
	f.steps = countSteps(f.runs)
	return f, nil
}

// readCSVFile reads the bars of one csv file of a feed and sorts them by time, then
// by instrument. With own, every row is the one instrument's; otherwise a row's
// symbol column says whose it is. seen[i] is set when instruments[i] has a bar.
func readCSVFile(path string, instruments []string, own bool,
	seen []bool) (*csvRun, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open csv feed: %w", err)
	}
	defer file.Close()
	lines, err := countLines(file)
	if err != nil {
		return nil, fmt.Errorf("read csv feed %s: %w", path, err)
	}
	if lines > math.MaxInt32 {
		return nil, fmt.Errorf("csv feed %s: more than %d lines", path, math.MaxInt32)
	}
	order := make(map[string]int32, len(instruments))
	for i, sym := range instruments {
		order[sym] = int32(i)
	}

	bars := make([]Bar, 0, lines)
	rows := make([]csvRow, 0, lines)
	r := csv.NewReader(bufio.NewReaderSize(file, 1<<16))
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = true
	r.Comment = '#'
	cols := csvLayout{time: 0, open: 1, high: 2, low: 3, close: 4, volume: 5, symbol: -1}
	for first := true; ; first = false {
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
			if header, ok := csvHeader(rec); ok {
				if cols, err = header.layout(); err != nil {
					return nil, fmt.Errorf("%s:%d: %w", path, line, err)
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
		sym := instruments[0]
		if !own {
			if sym, err = rowSymbol(rec, cols, instruments); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			if sym == "" {
				continue // not an instrument
			}
		}
		bar, err := parseCSVBar(rec, cols)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		bar.Symbol = sym
		bars = append(bars, bar)
		rows = append(rows, csvRow{line: int32(line), sym: order[sym]})
		seen[order[sym]] = true
	}
	return sortCSVRun(path, bars, rows)
}

// sortCSVRun sorts the bars of a file by time, then instrument, unless they are in
// order already (the usual case, which costs no copy), and rejects duplicates.
func sortCSVRun(path string, bars []Bar, rows []csvRow) (*csvRun, error) {
	compare := func(a, b int) int {
		if d := bars[a].Time.Compare(bars[b].Time); d != 0 {
			return d
		}
		return int(rows[a].sym - rows[b].sym)
	}
	sorted := true
	for i := 1; i < len(bars) && sorted; i++ {
		sorted = compare(i-1, i) < 0
	}
	if !sorted {
		perm := make([]int, len(bars))
		for i := range perm {
			perm[i] = i
		}
		// Ties are duplicates, reported below; the file's order says which is first.
		slices.SortFunc(perm, func(a, b int) int { return cmp.Or(compare(a, b), a-b) })
		for i := 1; i < len(perm); i++ {
			if compare(perm[i-1], perm[i]) == 0 {
				b := bars[perm[i]]
				return nil, fmt.Errorf("%s:%d: a second %s bar at %s; the first is on line %d",
					path, rows[perm[i]].line, b.Symbol, b.Time.Format(time.RFC3339),
					rows[perm[i-1]].line)
			}
		}
		ordered := make([]Bar, len(bars))
		for i, p := range perm {
			ordered[i] = bars[p]
		}
		bars = ordered
	}
	return &csvRun{bars: bars}, nil
}

// countLines counts the newlines of file, an upper bound of its rows, and rewinds it.
func countLines(file *os.File) (int, error) {
	buf := make([]byte, 1<<16)
	n := 0
	for {
		k, err := file.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	_, err := file.Seek(0, io.SeekStart)
	return n + 1, err
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
	cells := [5]int{cols.open, cols.high, cols.low, cols.close, cols.volume}
	dsts := [5]*float64{&b.Open, &b.High, &b.Low, &b.Close, &b.Volume}
	for i, col := range cells {
		s := field(col)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("bad %s %q: want a number", csvColumns[i+1], s)
		}
		*dsts[i] = v
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
	if s == "" || strings.Trim(s, "0123456789") != "" {
		// Not a unix time: skip ParseInt, whose error would cost an allocation per row.
	} else if n, err := strconv.ParseInt(s, 10, 64); err == nil {
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
