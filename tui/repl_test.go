package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/strategy"
)

// mixedEntries is a transcript with every kind of entry, long lines and UTF-8.
func mixedEntries() []kernel.Entry {
	return []kernel.Entry{
		entry(1, kernel.KindSystem, kernel.OriginSystem, "kernel k started"),
		entry(2, kernel.KindInput, "alice", "def f(x):\n    return x * 2"),
		entry(3, kernel.KindInput, "bob", "print('héllo 日本 ' * 12)"),
		entry(4, kernel.KindStdout, "bob", strings.Repeat("héllo 日本 ", 12)),
		entry(5, kernel.KindOrder, "alice", "buy 0.5 BTCUSDT @ market (o1)"),
		entry(6, kernel.KindFill, "strategy", "filled o1: buy 0.5 BTCUSDT @ 42000.00 fee 1.00"),
		entry(7, kernel.KindOrder, "bob", "sell 2 ETHUSDT @ 2100.00 limit (o2)"),
		entry(8, kernel.KindError, "bob", "NameError: undefined: zz"),
		entry(9, kernel.KindLog, "strategy", "crossed above"),
		entry(10, kernel.KindResult, "alice", "84"),
		entry(11, kernel.KindSystem, kernel.OriginSystem, "bob detached"),
	}
}

func TestReplayRendersLikeLive(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {250, 60}, {41, 12}} {
		replayed := newFake("carol", keys.Operator)
		replayed.updates <- kernel.Update{Entries: mixedEntries()}
		hr, mr := startModel(t, replayed, Options{Width: size[0], Height: size[1]})
		hr.waitScreen("bob detached")

		live := newFake("carol", keys.Operator)
		hl, ml := startModel(t, live, Options{Width: size[0], Height: size[1]})
		for _, e := range mixedEntries() {
			live.updates <- kernel.Update{Entries: []kernel.Entry{e}}
			hl.waitFor("entry shown", func() bool { return ml.lastSeq == e.Seq })
		}

		if r, l := mr.View().Content, ml.View().Content; r != l {
			t.Errorf("%v: replay and live differ\nreplay:\n%s\nlive:\n%s", size,
				ansi.Strip(r), ansi.Strip(l))
		}
	}
}

func TestTradesAndPeopleColoured(t *testing.T) {
	buy := strings.Join(renderItem(entryItem(entry(1, kernel.KindOrder, "alice",
		"buy 1 BTCUSDT @ market (o1)")), 80), "\n")
	sell := strings.Join(renderItem(entryItem(entry(2, kernel.KindFill, "bob",
		"filled o2: sell 1 BTCUSDT @ 42000.00 fee 1.00")), 80), "\n")
	cancelled := strings.Join(renderItem(entryItem(entry(3, kernel.KindOrder, "bob",
		"cancelled sell 1 BTCUSDT @ 1.00 limit (o3)")), 80), "\n")
	green, red := styleBuy.Render("x"), styleSell.Render("x")
	green, red = green[:strings.Index(green, "x")], red[:strings.Index(red, "x")]
	if !strings.Contains(buy, green) || strings.Contains(buy, red) {
		t.Errorf("a buy order is not green: %q", buy)
	}
	if !strings.Contains(sell, red) || strings.Contains(sell, green) {
		t.Errorf("a sell fill is not red: %q", sell)
	}
	if strings.Contains(cancelled, red) {
		t.Errorf("a cancelled order is coloured like a live one: %q", cancelled)
	}
	if got := ansi.Strip(buy); got != "order alice: buy 1 BTCUSDT @ market (o1)" {
		t.Errorf("order reads %q", got)
	}

	// Every person keeps one colour; two people get two.
	if originStyle("alice").Render("a") != originStyle("alice").Render("a") {
		t.Error("alice's colour is not stable")
	}
	if originStyle("alice").GetForeground() == originStyle("bob").GetForeground() {
		t.Error("alice and bob share a colour")
	}
	in := strings.Join(renderItem(entryItem(entry(4, kernel.KindInput, "alice",
		"x = 1")), 80), "\n")
	if !strings.HasPrefix(in, originStyle("alice").Render("alice")) {
		t.Errorf("alice's input does not start with her name in her colour: %q", in)
	}
}

func TestCtrlLClearsViewNotTranscript(t *testing.T) {
	f := newFake("alice", keys.Operator)
	var es []kernel.Entry
	for i := range 40 {
		es = append(es, entry(uint64(i+1), kernel.KindStdout, "bob", fmt.Sprintf("old %02d", i)))
	}
	f.updates <- kernel.Update{Entries: es}
	h, m := startModel(t, f, Options{Width: 60, Height: 14})
	h.waitScreen("old 39")

	h.ctrl('l')
	if strings.Contains(h.screen(), "old") {
		t.Fatalf("Ctrl+L left the view:\n%s", h.screen())
	}
	if len(m.tr.items) != 40 {
		t.Fatalf("Ctrl+L dropped transcript items: %d left", len(m.tr.items))
	}
	f.updates <- kernel.Update{Entries: []kernel.Entry{entry(41, kernel.KindStdout, "b", "new")}}
	h.waitScreen("new")
	if lines := strings.Split(h.screen(), "\n"); !strings.HasPrefix(lines[2], "new") {
		t.Errorf("new output does not start at the top of the cleared view:\n%s", h.screen())
	}

	// The history is still there above.
	h.press(tea.KeyPgUp)
	if !strings.Contains(h.screen(), "old 39") {
		t.Errorf("PgUp after Ctrl+L does not reach earlier output:\n%s", h.screen())
	}
}

func TestHelpKeys(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{})
	h.press(tea.KeyF1)
	h.waitScreen("walk your input history")
	h.press(tea.KeyF1)
	if m.help {
		t.Fatal("F1 did not close the help")
	}

	// ? types a question mark once something is typed.
	h.typeText("x")
	h.typeText("?")
	if m.help || m.ed.String() != "x?" {
		t.Errorf("? in a line: help %v, line %q", m.help, m.ed.String())
	}
	h.ctrl('u')
	h.typeText("?")
	h.waitScreen("Ctrl+L")
	if !strings.Contains(h.screen(), "detach (the kernel keeps running)") {
		t.Errorf("help does not say detaching keeps the kernel:\n%s", h.screen())
	}
}

func TestMouseWheelScrolls(t *testing.T) {
	f := newFake("alice", keys.Operator)
	var es []kernel.Entry
	for i := range 50 {
		es = append(es, entry(uint64(i+1), kernel.KindStdout, "bob", fmt.Sprintf("line %02d", i)))
	}
	f.updates <- kernel.Update{Entries: es}
	h, m := startModel(t, f, Options{Width: 60, Height: 12})
	h.waitScreen("line 49")
	if m.View().MouseMode == tea.MouseModeNone {
		t.Fatal("the view does not ask for mouse events")
	}

	h.send(tea.MouseWheelMsg{Button: tea.MouseWheelUp, X: 5, Y: 5})
	if m.tr.offset != 3 || strings.Contains(h.screen(), "line 49") {
		t.Fatalf("wheel up: offset %d\n%s", m.tr.offset, h.screen())
	}
	f.updates <- kernel.Update{Entries: []kernel.Entry{entry(51, kernel.KindStdout, "b", "fresh")}}
	h.waitScreen("↓ 1 new line")
	h.send(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	h.send(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if m.tr.offset != 0 || !strings.Contains(h.screen(), "fresh") {
		t.Errorf("wheel down did not return to the bottom: offset %d", m.tr.offset)
	}
}

func TestPanelShownOnWideTerminals(t *testing.T) {
	f := newFake("alice", keys.Operator)
	f.status = kernel.Status{Name: "k", State: kernel.StateRunning, Account: strategy.Snapshot{
		Equity: 1000,
		Positions: []strategy.Position{
			{Symbol: "BTCUSDT", Quantity: 0.5, AvgPrice: 42000, LastPrice: 42100},
			{Symbol: "ETHUSDT", Quantity: -2, AvgPrice: 2000, LastPrice: 2010,
				UnrealizedPnL: -20}},
		OpenOrders: []strategy.Order{{ID: "o7", Symbol: "ETHUSDT", Side: "sell",
			Quantity: 1, Price: 2100}},
	}}
	h, m := startModel(t, f, Options{Width: 119, Height: 24})
	h.waitScreen(" k  running ")
	if strings.Contains(h.screen(), "Positions") {
		t.Fatal("the panel shows on a 119-column terminal")
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 24})
	screen := h.screen()
	for _, want := range []string{"Positions", "BTCUSDT", "-2", "42100.00", "o7", "sell"} {
		if !strings.Contains(screen, want) {
			t.Errorf("panel at 120 columns lacks %q:\n%s", want, screen)
		}
	}
	checkFits(t, m.View(), 120, 24)
	h.send(tea.WindowSizeMsg{Width: 200, Height: 24})
	if screen := h.screen(); !strings.Contains(screen, "long") ||
		!strings.Contains(screen, "short") || !strings.Contains(screen, "-20.00") {
		t.Errorf("a wide panel lacks the side or the PnL:\n%s", screen)
	}

	// Long and short quantities are coloured, and the columns line up.
	var long, short string
	for _, l := range panelLines(f.status, 50, 20) {
		switch plain := ansi.Strip(l); {
		case strings.Contains(plain, "BTCUSDT"):
			long = l
		case strings.Contains(plain, "ETHUSDT") && strings.Contains(plain, "short"):
			short = l
		}
	}
	if !strings.Contains(long, styleBuy.Render("long")) ||
		!strings.Contains(short, styleSell.Render("short")) {
		t.Errorf("sides not coloured:\n%q\n%q", long, short)
	}
	if a, b := strings.Index(ansi.Strip(long), "42100"), strings.Index(ansi.Strip(short),
		"2010"); a+len("42100") != b+len("2010") {
		t.Errorf("LAST column not right-aligned:\n%s\n%s", ansi.Strip(long), ansi.Strip(short))
	}

	// The person's choice sticks across resizes.
	h.press(tea.KeyF2)
	h.send(tea.WindowSizeMsg{Width: 200, Height: 40})
	if m.panelShown() {
		t.Error("the panel reopened after F2 closed it")
	}
}

func TestHeaderStates(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{})
	f.updates <- kernel.Update{Status: &kernel.Status{Name: "k", State: kernel.StateRunning,
		Busy: true}}
	h.waitScreen("busy")
	h.ctrl('c')
	h.waitScreen("interrupting…")

	// The kernel says the input was interrupted: the header shows it until the
	// next input starts.
	now := time.Now()
	f.updates <- kernel.Update{Entries: []kernel.Entry{{Seq: 1, Time: now,
		Kind: kernel.KindError, Origin: "alice", Text: "interrupted by alice"}},
		Status: &kernel.Status{Name: "k", State: kernel.StateRunning}}
	h.waitScreen("interrupted by alice")
	if header := strings.Split(h.screen(), "\n")[0]; !strings.Contains(header,
		"interrupted by alice") || strings.Contains(header, "interrupting") {
		t.Errorf("header after the interrupt: %q", header)
	}
	f.updates <- kernel.Update{Entries: []kernel.Entry{{Seq: 2, Time: now,
		Kind: kernel.KindInput, Origin: "bob", Text: "1"}}}
	h.waitScreen("bob >>> 1")
	if strings.Contains(strings.Split(h.screen(), "\n")[0], "interrupted") {
		t.Error("the interrupted mark outlived the next input")
	}

	// One from long ago (replayed) is only a line in the transcript.
	f.updates <- kernel.Update{Entries: []kernel.Entry{entry(3, kernel.KindError, "bob",
		"interrupted by carol")}}
	h.waitScreen("interrupted by carol")
	if m.interrupted != "" {
		t.Errorf("an old interrupt marks the header: %q", m.interrupted)
	}

	// Paused, and read-only for a viewer however narrow the terminal.
	v := newFake("vera", keys.Viewer)
	v.status = kernel.Status{Name: strings.Repeat("long_name_", 8), State: kernel.StatePaused}
	hv, _ := startModel(t, v, Options{Width: 50, Height: 10})
	hv.waitScreen("long_name_")
	if header := strings.Split(hv.screen(), "\n")[0]; !strings.HasSuffix(header, " read-only ") {
		t.Errorf("viewer header: %q", header)
	}
	hv.send(tea.WindowSizeMsg{Width: 120, Height: 10})
	if header := strings.Split(hv.screen(), "\n")[0]; !strings.Contains(header, " paused ") {
		t.Errorf("paused header: %q", header)
	}
}

func TestOwnerQuitAsksWhileOthersAttached(t *testing.T) {
	f := newFake("me", keys.Admin)
	h, m := startModel(t, f, Options{Owner: true, Notes: []string{"SSH on 127.0.0.1:1234"}})
	f.updates <- kernel.Update{Entries: []kernel.Entry{
		entry(1, kernel.KindSystem, kernel.OriginSystem, "kernel k started")},
		Status: &kernel.Status{Name: "k", State: kernel.StateRunning,
			Attached: []kernel.Attachment{{Name: "me"}, {Name: "bob"}}}}
	h.waitScreen("SSH on 127.0.0.1:1234")
	if lines := strings.Split(h.screen(), "\n"); !strings.Contains(lines[3], "SSH on") {
		t.Errorf("the notes do not follow the replayed transcript:\n%s", h.screen())
	}
	if !strings.Contains(h.screen(), "Ctrl+D quit") {
		t.Errorf("an owner's hint does not say quit:\n%s", h.screen())
	}

	h.ctrl('d')
	h.waitScreen("bob attached: Ctrl+D again stops the kernel for everyone")
	if m.quitting {
		t.Fatal("the first Ctrl+D quit while bob is attached")
	}
	h.typeText("x")
	h.ctrl('u')
	h.ctrl('d')
	if m.quitting {
		t.Fatal("a Ctrl+D after another key quit without asking again")
	}
	h.ctrl('d')
	h.waitFor("quit", func() bool { return h.quit })
}

func TestCompletionListAtSeveralSizes(t *testing.T) {
	f := newFake("alice", keys.Operator)
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("ctx.member_%02d", i))
	}
	f.complete = func(string) []string { return names }
	h, m := startModel(t, f, Options{})
	h.typeText("ctx.m")
	h.press(tea.KeyTab)
	h.waitFor("list", func() bool { return m.comp != nil })
	if m.ed.String() != "ctx.member_" {
		t.Errorf("common prefix: %q", m.ed.String())
	}

	for _, size := range [][2]int{{80, 24}, {250, 60}, {30, 8}, {20, 4}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		v := m.View()
		checkFits(t, v, size[0], size[1])
		screen := ansi.Strip(v.Content)
		if size[1] >= 8 && !strings.Contains(screen, "ctx.member_00") {
			t.Errorf("%v: list not shown:\n%s", size, screen)
		}
		if size == [2]int{80, 24} && !strings.Contains(screen, "+") {
			t.Errorf("%v: the list does not say more are hidden:\n%s", size, screen)
		}
		if c := v.Cursor; c == nil || c.Y != size[1]-1 {
			t.Errorf("%v: cursor %v, want on the last row", size, c)
		}
	}

	// Stepping to a candidate out of view brings its row into the list.
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	for range 40 {
		h.press(tea.KeyTab)
	}
	if m.ed.String() != "ctx.member_39" || !strings.Contains(h.screen(), "ctx.member_39") {
		t.Errorf("after 40 Tabs: line %q\n%s", m.ed.String(), h.screen())
	}
}

func TestRenderAtSeveralSizes(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {250, 60}, {100, 30}, {40, 10}} {
		f := newFake("alice", keys.Operator)
		f.updates <- kernel.Update{Entries: mixedEntries(), Status: &kernel.Status{
			Name: "sma_cross", Strategy: "sma_cross.star", State: kernel.StateRunning,
			Account: strategy.Snapshot{Equity: 10000, MarketTime: time.Unix(1700000000, 0),
				Quotes: []strategy.Quote{{Symbol: "BTCUSDT", Bid: 1, Ask: 2, Last: 1.5}}},
			Attached: []kernel.Attachment{{Name: "alice"}, {Name: "bob"}}}}
		h, m := startModel(t, f, Options{Width: size[0], Height: size[1]})
		h.waitScreen("bob detached")
		h.typeText("print('日本')")

		v := m.View()
		checkFits(t, v, size[0], size[1])
		lines := strings.Split(ansi.Strip(v.Content), "\n")
		if !strings.HasPrefix(lines[0], " sma_cross") {
			t.Errorf("%v: first line %q", size, lines[0])
		}
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, ">>> print('日本')") {
			t.Errorf("%v: input line %q", size, last)
		}
		// The cursor sits just after what was typed: 4 + 7 + 2×2 + 2 cells.
		if c := v.Cursor; c == nil || c.X != ansi.StringWidth(">>> print('日本')") ||
			c.Y != size[1]-1 {
			t.Errorf("%v: cursor %+v", size, c)
		}
		panel := strings.Contains(lines[2], "│")
		if panel != (size[0] >= widePanel) {
			t.Errorf("%v: panel shown %v", size, panel)
		}
	}
}

func TestAutoIndentAndDedent(t *testing.T) {
	tests := []struct {
		block []string
		want  string
	}{
		{[]string{"def f(x):"}, "    "},
		{[]string{"def f(x):", "    if x:  # comment"}, "        "},
		{[]string{"def f(x):", "    y = 1"}, "    "},
		{[]string{"x = [1,"}, ""},
		{[]string{"s = \"\"\"doc:"}, ""},
		{[]string{"d = {'a:': 1,"}, ""},
	}
	for _, tt := range tests {
		if got := autoIndent(tt.block); got != tt.want {
			t.Errorf("autoIndent(%q) = %q, want %q", tt.block, got, tt.want)
		}
	}

	var e editor
	e.set("        ")
	e.dedentOrBackspace()
	if e.String() != "    " {
		t.Errorf("dedent from 8 spaces: %q", e.String())
	}
	e.set("      ")
	e.dedentOrBackspace()
	if e.String() != "    " {
		t.Errorf("dedent from 6 spaces: %q", e.String())
	}
	e.set("    x")
	e.dedentOrBackspace()
	if e.String() != "    " {
		t.Errorf("backspace after text: %q", e.String())
	}
}

func TestNarrowTableDropsColumnsInOrder(t *testing.T) {
	rows := func() [][]cell {
		return [][]cell{
			{{text: "A"}, {text: "BBBB"}, {text: "CC"}, {text: "D"}},
			{{text: "a"}, {text: "bbbb"}, {text: "cc"}, {text: "d"}},
		}
	}
	heads := func(rs [][]cell) string {
		var out []string
		for _, c := range rs[0] {
			out = append(out, c.text)
		}
		return strings.Join(out, " ")
	}
	for _, tt := range []struct {
		width int
		want  string
	}{{11, "A BBBB CC D"}, {10, "A CC D"}, {6, "A CC D"}, {5, "A D"}, {1, "A D"}} {
		got := narrow(rows(), tt.width, 1, 2)
		if heads(got) != tt.want || len(got[1]) != len(got[0]) {
			t.Errorf("width %d: %q, want %q", tt.width, heads(got), tt.want)
		}
	}
}
