// Command csvgen writes the OHLCV csv files of the csv_breakout example: one file per
// instrument, made up by a seeded random walk whose drift and volatility change from
// regime to regime, so the market trends, ranges and panics in turn. The same flags
// always write the same files; nothing is downloaded.
//
//	go run ./examples/csvgen                      # examples/data/{BTCUSDT,ETHUSDT}_1h.csv
//	go run ./examples/csvgen -timeframe 1m -bars 500000 -out /tmp/big
//
// The second line writes half a million 1m bars per instrument (about 30 MB each),
// enough for a replay that logs its progress; point a config's feed.path at
// /tmp/big/{symbol}_1m.csv to replay them.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	out := flag.String("out", filepath.Join("examples", "data"), "folder to write to")
	symbols := flag.String("symbols", "BTCUSDT,ETHUSDT", "instruments, comma-separated")
	timeframe := flag.Duration("timeframe", time.Hour, "bar length")
	bars := flag.Int("bars", 45*24, "bars per instrument")
	seed := flag.Uint64("seed", 7, "random seed")
	start := flag.String("start", "2024-03-01T00:00:00Z", "time of the first bar, RFC 3339")
	flag.Parse()

	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil || *timeframe <= 0 || *bars <= 0 {
		fmt.Fprintln(os.Stderr, "csvgen: want -start in RFC 3339, -timeframe > 0, -bars > 0")
		os.Exit(2)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "csvgen:", err)
		os.Exit(1)
	}
	for i, sym := range strings.Split(*symbols, ",") {
		name := filepath.Join(*out, fmt.Sprintf("%s_%s.csv", sym, shortDuration(*timeframe)))
		m := newMarket(sym, *timeframe, *seed, uint64(i))
		if err := write(name, m, t0, *timeframe, *bars); err != nil {
			fmt.Fprintln(os.Stderr, "csvgen:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", name)
	}
}

// write writes n bars of m to a csv file with a header row.
func write(name string, m *market, t time.Time, timeframe time.Duration, n int) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.WriteString("time,open,high,low,close,volume\n")
	for range n {
		o, h, l, c, v := m.bar(t)
		fmt.Fprintf(w, "%s,%s,%s,%s,%s,%s\n", t.UTC().Format(time.RFC3339),
			price(o), price(h), price(l), price(c), strconv.FormatFloat(v, 'f', 3, 64))
		t = t.Add(timeframe)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// market is one instrument's made-up price: a random walk whose drift and volatility
// come from a regime that lasts a random number of bars, pulled gently back towards
// its first price so that long runs stay in a believable range.
type market struct {
	rng      *rand.Rand
	price    float64
	anchor   float64 // the first price
	volume   float64 // typical volume of a bar
	scale    float64 // volatility of one bar in a calm regime
	drift    float64 // per bar, of the current regime
	vol      float64 // per bar, of the current regime
	left     int     // bars left in the current regime
	hourBars float64 // bars per hour, for the daily volume cycle
}

func newMarket(sym string, timeframe time.Duration, seed, stream uint64) *market {
	price, volume := 100.0, 1000.0
	switch {
	case strings.HasPrefix(sym, "BTC"):
		price, volume = 62000, 40
	case strings.HasPrefix(sym, "ETH"):
		price, volume = 3400, 600
	}
	bar := timeframe.Minutes()
	return &market{
		rng:      rand.New(rand.NewPCG(seed, stream)),
		price:    price,
		anchor:   price,
		volume:   volume * bar / 60,
		scale:    0.0012 * math.Sqrt(bar),
		hourBars: 60 / bar,
	}
}

// regime picks the next regime: mostly quiet ranges, sometimes trends, rarely a panic.
func (m *market) regime() {
	switch r := m.rng.Float64(); {
	case r < 0.5: // range
		m.drift, m.vol = 0, m.scale
	case r < 0.9: // trend, up or down
		m.drift = m.scale * (0.08 + 0.12*m.rng.Float64())
		if m.rng.IntN(2) == 0 {
			m.drift = -m.drift
		}
		m.vol = m.scale * 1.2
	default: // panic: down fast and wild
		m.drift, m.vol = -m.scale*0.5, m.scale*3
	}
	m.left = 12 + m.rng.IntN(int(24*m.hourBars)+1)
}

func (m *market) bar(t time.Time) (open, high, low, closing, volume float64) {
	if m.left == 0 {
		m.regime()
	}
	m.left--
	pull := -0.25 * m.scale * math.Log(m.price/m.anchor)
	r := m.drift + pull + m.vol*m.rng.NormFloat64()
	open = m.price
	closing = open * math.Exp(r)
	high = max(open, closing) * math.Exp(math.Abs(m.rng.NormFloat64())*m.vol/2)
	low = min(open, closing) * math.Exp(-math.Abs(m.rng.NormFloat64())*m.vol/2)
	// Busier in the (UTC) afternoon and when the price moves.
	hour := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60
	cycle := 1 + 0.5*math.Sin((hour-9)/24*2*math.Pi)
	volume = m.volume * cycle * (0.5 + m.rng.Float64()) * (1 + math.Abs(r)/m.scale)
	m.price = closing
	// Round as the file will, so the next bar opens where this one closed.
	m.price, _ = strconv.ParseFloat(price(closing), 64)
	return open, high, low, m.price, volume
}

// price writes a price with two decimals, or six significant digits below 1.
func price(p float64) string {
	if p >= 1 {
		return strconv.FormatFloat(p, 'f', 2, 64)
	}
	return strconv.FormatFloat(p, 'g', 6, 64)
}

// shortDuration names a bar length as in file names: 1h, 15m, 1m, 30s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
