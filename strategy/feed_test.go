package strategy

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSyntheticFeedIsDeterministic(t *testing.T) {
	syms := []string{"BTCUSDT", "ETHUSDT", "AAPL"}
	a := newSyntheticFeed(syms, time.Minute, 42)
	b := newSyntheticFeed(syms, time.Minute, 42)
	c := newSyntheticFeed(syms, time.Minute, 43)
	differs := false
	for i := range 500 {
		ba, _ := a.next()
		bb, _ := b.next()
		bc, _ := c.next()
		if !reflect.DeepEqual(ba, bb) {
			t.Fatalf("step %d: same seed, different bars:\n%v\n%v", i, ba, bb)
		}
		differs = differs || !reflect.DeepEqual(ba, bc)

		want := syntheticStart.Add(time.Duration(i) * time.Minute)
		for j, bar := range ba {
			if bar.Symbol != syms[j] || !bar.Time.Equal(want) {
				t.Fatalf("step %d: bar %v, want %s at %s", i, bar, syms[j], want)
			}
			if bar.High < max(bar.Open, bar.Close) || bar.Low > min(bar.Open, bar.Close) ||
				bar.Low <= 0 || bar.Volume <= 0 {
				t.Fatalf("step %d: incoherent bar %+v", i, bar)
			}
		}
	}
	if !differs {
		t.Error("seeds 42 and 43 gave the same bars")
	}
}

func TestSyntheticStartingPrices(t *testing.T) {
	f := newSyntheticFeed([]string{"BTCUSDT", "ETHUSDT", "XYZ"}, time.Minute, 1)
	bars, _ := f.next()
	for i, want := range []float64{30000, 2000, 100} {
		if bars[i].Open != want {
			t.Errorf("%s opens at %v, want %v", bars[i].Symbol, bars[i].Open, want)
		}
	}
}

func TestCSVFeedGroupsByTime(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "bars.csv", `symbol,time,open,high,low,close,volume
BTC,2024-01-01T00:01:00Z,2,3,1,2,5
BTC,2024-01-01T00:00:00Z,1,2,1,2,5
ETH,2024-01-01T00:00:00Z,10,11,9,10,5
OTHER,2024-01-01T00:00:00Z,10,11,9,10,5
`)
	f, err := loadCSVFeed(path, []string{"BTC", "ETH"})
	if err != nil {
		t.Fatal(err)
	}
	first, ok := f.next()
	if !ok || len(first) != 2 || !first[0].Time.Equal(syntheticStart) {
		t.Fatalf("first step %v", first)
	}
	second, ok := f.next()
	if !ok || len(second) != 1 || second[0].Open != 2 {
		t.Fatalf("second step %v", second)
	}
	if _, ok := f.next(); ok {
		t.Error("feed goes on after its last row")
	}
}

func TestCSVFeedWithoutHeaderOrSymbol(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bars.csv", "1704067200,1,2,0.5,1.5,10\n")
	f, err := loadCSVFeed(path, []string{"X"})
	if err != nil {
		t.Fatal(err)
	}
	bars, _ := f.next()
	want := Bar{Symbol: "X", Time: syntheticStart, Open: 1, High: 2, Low: 0.5, Close: 1.5,
		Volume: 10}
	if len(bars) != 1 || bars[0] != want {
		t.Errorf("bars %+v, want %+v", bars, want)
	}
}

func TestCSVFeedErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ rows, want string }{
		{"time,open,high,low,close,volume\n1704067200,1,2,1,1,1\n1704067260,abc,2,1,1,1\n",
			`:3: bad open "abc": want a number`},
		{"time,open,high,low,close,volume\nyesterday,1,2,1,1,1\n",
			`:2: bad time "yesterday": want RFC 3339 or unix seconds`},
		{"time,open,high,low,close,volume\n1704067200,1,0.5,1,1,1\n",
			`:2: high 0.5 is below open, low or close`},
		{"time,open,close\n", `:1: header lacks high, low, volume; ` +
			`want columns time,open,high,low,close,volume[,symbol]`},
	}
	for i, c := range cases {
		path := writeFile(t, dir, "bars.csv", c.rows)
		_, err := loadCSVFeed(path, []string{"X"})
		if err == nil || err.Error() != path+c.want {
			t.Errorf("case %d: error %v, want %s%s", i, err, path, c.want)
		}
	}

	path := writeFile(t, dir, "bars.csv", "1704067200,1,2,1,1,1\n")
	_, err := loadCSVFeed(path, []string{"X", "Y"})
	if err == nil || !strings.Contains(err.Error(), ":1: row has no symbol") {
		t.Errorf("rows without symbol for two instruments: %v", err)
	}
	path = writeFile(t, dir, "bars.csv", "time,open,high,low,close,volume,symbol\n"+
		"1704067200,1,2,1,1,1,X\n")
	_, err = loadCSVFeed(path, []string{"X", "Y"})
	if err == nil || err.Error() != "csv feed "+path+" has no bars for Y" {
		t.Errorf("instrument without rows: %v", err)
	}
}

func TestNewReportsCSVErrors(t *testing.T) {
	cfg := testConfig(t, "", "X")
	csvConfig(t, cfg, "1704067200,1,2,1,1,1\n1704067260,1,2,1,1\n")
	_, err := New(cfg, &recorder{})
	want := filepath.Join(filepath.Dir(cfg.Strategy), "bars.csv") + ":2: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v, want one starting with %s", err, want)
	}
}

func TestBarHistoryKeepsTheLatestBars(t *testing.T) {
	var h barHistory
	early := h.last(1) // a view taken before any bar
	var views []*barList
	n := 3*historySlack*HistoryBars + 500 // enough to slide three times
	for i := range n {
		h.add(Bar{Volume: float64(i), Close: float64(i)})
		if i%700 == 0 {
			views = append(views, h.last(10))
		}
		if len(h.bars) > historySlack*HistoryBars {
			t.Fatalf("after %d bars the history holds %d", i+1, len(h.bars))
		}
	}
	got := h.last(5000)
	if len(got.bars) != HistoryBars || len(got.closes.xs) != HistoryBars {
		t.Fatalf("kept %d bars, %d closes, want %d", len(got.bars), len(got.closes.xs),
			HistoryBars)
	}
	for i, b := range got.bars {
		if want := float64(n - HistoryBars + i); b.Volume != want || got.closes.xs[i] != want {
			t.Fatalf("bar %d is number %v (close %v), want %v", i, b.Volume, got.closes.xs[i],
				want)
		}
	}
	if got := h.last(3); len(got.bars) != 3 || got.bars[2].Volume != float64(n-1) ||
		h.latest().Volume != float64(n-1) {
		t.Errorf("last(3) = %v", got)
	}

	// Views handed out earlier never change: ctx.ohlc results stay what they were.
	if len(early.bars) != 0 {
		t.Errorf("early view %v", early)
	}
	for k, v := range views {
		last := float64(k * 700)
		if m := len(v.bars); v.bars[m-1].Volume != last || v.closes.xs[m-1] != last {
			t.Errorf("view %d ends with bar %v, close %v; want %v", k, v.bars[m-1].Volume,
				v.closes.xs[m-1], last)
		}
	}
}

func TestCSVFeedFilePerInstrument(t *testing.T) {
	dir := t.TempDir()
	// BTC's file is newest first and has a symbol column that does not matter; ETH's
	// has no header and starts a minute later.
	writeFile(t, dir, "BTC_1m.csv", `timestamp,o,h,l,c,vol,ticker
2024-01-01T00:01:00Z,2,3,1,2,5,whatever
2024-01-01T00:00:00Z,1,2,1,2,5,whatever
`)
	writeFile(t, dir, "ETH_1m.csv", "2024-01-01T00:01:00Z,10,11,9,10,5\n")
	f, err := loadCSVFeed(filepath.Join(dir, "{symbol}_1m.csv"), []string{"ETH", "BTC"})
	if err != nil {
		t.Fatal(err)
	}
	if f.length() != 2 {
		t.Errorf("length %d, want 2 bar times", f.length())
	}
	first, _ := f.next()
	if len(first) != 1 || first[0].Symbol != "BTC" || first[0].Open != 1 {
		t.Errorf("first bar time %+v", first)
	}
	// Within a bar time, bars come in the order of the instruments.
	second, _ := f.next()
	if len(second) != 2 || second[0].Symbol != "ETH" || second[1].Symbol != "BTC" ||
		second[1].Open != 2 {
		t.Errorf("second bar time %+v", second)
	}
	if _, ok := f.next(); ok {
		t.Error("feed goes on after its last row")
	}

	_, err = loadCSVFeed(filepath.Join(dir, "{symbol}_1m.csv"), []string{"BTC", "SOL"})
	if err == nil || !strings.Contains(err.Error(), "SOL_1m.csv") {
		t.Errorf("missing file of SOL: %v", err)
	}
}

func TestCSVFeedRejectsDuplicateBars(t *testing.T) {
	path := writeFile(t, t.TempDir(), "bars.csv", `symbol,time,open,high,low,close,volume
X,1704067200,1,2,1,1,1
Y,1704067200,1,2,1,1,1
X,1704067260,1,2,1,1,1
X,1704067200,1,2,1,1,1
`)
	_, err := loadCSVFeed(path, []string{"X", "Y"})
	want := path + ":5: a second X bar at 2024-01-01T00:00:00Z; the first is on line 2"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
}

func TestCSVFeedHeaderWithDateAndTime(t *testing.T) {
	// "date" stands for time only when there is no time column.
	path := writeFile(t, t.TempDir(), "bars.csv", "date,time,open,high,low,close,volume\n"+
		"2024-01-01,1704067200,1,2,1,1,1\n")
	f, err := loadCSVFeed(path, []string{"X"})
	if err != nil {
		t.Fatal(err)
	}
	if bars, _ := f.next(); len(bars) != 1 || !bars[0].Time.Equal(syntheticStart) {
		t.Errorf("bars %+v", bars)
	}
}

func TestReplayProgress(t *testing.T) {
	var rows strings.Builder
	rows.WriteString("time,open,high,low,close,volume\n")
	n := ProgressMinSteps + 5
	for i := range n {
		fmt.Fprintf(&rows, "%d,100,101,99,100,1\n", 1704067200+60*i)
	}
	cfg := testConfig(t, "", "X")
	csvConfig(t, cfg, rows.String())
	r, rec := newRuntime(t, cfg)
	if s := r.Snapshot(); s.FeedSteps != int64(n) || s.Bars != 0 {
		t.Errorf("snapshot before the replay: %d of %d bar times", s.Bars, s.FeedSteps)
	}

	for r.Step() {
	}
	logs := rec.ofKind(KindLog)
	if len(logs) != 10 {
		t.Fatalf("%d progress entries, want 10: %v", len(logs), logs)
	}
	if logs[0].origin != OriginFeed ||
		logs[0].text != "replay 10%: bar time 1001 of 10005, 2024-01-01T16:40:00Z" ||
		!strings.HasPrefix(logs[9].text, "replay 100%: bar time 10005 of 10005, ") {
		t.Errorf("progress entries %v … %v", logs[0], logs[9])
	}
	if s := r.Snapshot(); s.Bars != int64(n) || !s.FeedDone {
		t.Errorf("snapshot after the replay: %d of %d, done %v", s.Bars, s.FeedSteps, s.FeedDone)
	}

	// A short replay and the endless synthetic feed say nothing.
	short := testConfig(t, "", "X")
	csvConfig(t, short, "1704067200,1,2,1,1,1\n")
	r, rec = newRuntime(t, short)
	r.Step()
	synth, srec := newRuntime(t, testConfig(t, ""))
	for range 100 {
		synth.Step()
	}
	if len(rec.ofKind(KindLog))+len(srec.ofKind(KindLog)) != 0 ||
		synth.Snapshot().FeedSteps != 0 {
		t.Error("progress for a short or endless feed")
	}
}
