package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/strategy"
)

func TestReplayShowsEntriesWithOrigins(t *testing.T) {
	f := newFake("carol", keys.Operator)
	f.updates <- kernel.Update{Entries: []kernel.Entry{
		entry(1, kernel.KindSystem, kernel.OriginSystem, "kernel started"),
		entry(2, kernel.KindInput, "alice", "x = 1\ny = 2"),
		entry(3, kernel.KindResult, "alice", "42"),
		entry(4, kernel.KindStdout, "bob", "hello from bob"),
		entry(5, kernel.KindError, "bob", "NameError: zz"),
		entry(6, kernel.KindLog, "strategy", "crossed above"),
		entry(7, kernel.KindOrder, "bob", "buy 0.5 BTCUSDT @ market"),
		entry(8, kernel.KindFill, "strategy", "bought 0.5 BTCUSDT @ 42000"),
		entry(9, kernel.KindStdout, "bob", "\x1b[2Jsneaky\x07"),
	}}
	h, _ := startModel(t, f, Options{})

	h.waitScreen("kernel started")
	screen := h.screen()
	for _, want := range []string{
		"alice >>> x = 1", "alice ... y = 2", "42", "hello from bob", "NameError: zz",
		"[strategy] crossed above", "order bob: buy 0.5 BTCUSDT", "fill strategy: bought",
		"sneaky",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(h.model.View().Content, "\x1b[2J") {
		t.Error("an escape sequence from the transcript reached the terminal")
	}

	// A replayed duplicate is not shown twice.
	f.updates <- kernel.Update{Entries: []kernel.Entry{
		entry(3, kernel.KindResult, "alice", "42"),
		entry(10, kernel.KindResult, "alice", "43"),
	}}
	h.waitScreen("43")
	if n := strings.Count(h.screen(), "42"); n != 2 { // "42" and "42000"
		t.Errorf("42 shown %d times, want 2:\n%s", n, h.screen())
	}
}

func TestEnterRunsLine(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, _ := startModel(t, f, Options{})

	h.typeText("x = 1")
	if got := h.lastLine(); !strings.Contains(got, ">>> x = 1") {
		t.Fatalf("input line = %q", got)
	}
	h.press(tea.KeyEnter)
	h.waitFor("exec", func() bool { e, _, _, _ := f.calls(); return len(e) == 1 })
	if e, _, _, _ := f.calls(); e[0] != "x = 1" {
		t.Errorf("Exec(%q), want x = 1", e[0])
	}
	if got := strings.TrimSpace(h.lastLine()); got != ">>>" {
		t.Errorf("input line after Enter = %q", got)
	}
}

func TestInputsReachKernelInOrder(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, _ := startModel(t, f, Options{})
	for i := range 5 {
		h.typeText(fmt.Sprintf("x = %d", i))
		h.press(tea.KeyEnter)
	}
	h.waitFor("5 execs", func() bool { e, _, _, _ := f.calls(); return len(e) == 5 })
	e, _, _, _ := f.calls()
	for i, code := range e {
		if want := fmt.Sprintf("x = %d", i); code != want {
			t.Errorf("exec %d = %q, want %q", i, code, want)
		}
	}
}

func TestDefBlockRunsAfterBlankLine(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{})

	h.typeText("def f(x):")
	h.press(tea.KeyEnter)
	if got := m.ed.String(); got != "    " {
		t.Fatalf("the line after a def starts with %q, want one indent", got)
	}
	h.typeText("return x + 1")
	h.press(tea.KeyEnter)
	if m.sending || len(m.outbox) > 0 {
		t.Fatal("block sent before the blank line")
	}
	screen := h.screen()
	for _, want := range []string{">>> def f(x):", "...     return x + 1", "a blank line runs"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}

	h.press(tea.KeyEnter)
	h.waitFor("exec", func() bool { e, _, _, _ := f.calls(); return len(e) == 1 })
	if e, _, _, _ := f.calls(); e[0] != "def f(x):\n    return x + 1" {
		t.Errorf("Exec(%q)", e[0])
	}
}

func TestUnclosedBracketContinues(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, _ := startModel(t, f, Options{})
	h.typeText("x = [1,")
	h.press(tea.KeyEnter)
	h.typeText("2]")
	h.press(tea.KeyEnter)
	h.waitFor("exec", func() bool { e, _, _, _ := f.calls(); return len(e) == 1 })
	if e, _, _, _ := f.calls(); e[0] != "x = [1,\n2]" {
		t.Errorf("Exec(%q)", e[0])
	}
}

func TestHistoryUpDown(t *testing.T) {
	f := newFake("alice", keys.Operator)
	// An input of alice's from an earlier session is in the replay.
	f.updates <- kernel.Update{Entries: []kernel.Entry{
		entry(1, kernel.KindInput, "alice", "old = 0"),
		entry(2, kernel.KindInput, "bob", "bobs = 1"),
	}}
	h, m := startModel(t, f, Options{})
	h.waitScreen("old = 0")

	for _, code := range []string{"a = 1", "b = 2"} {
		h.typeText(code)
		h.press(tea.KeyEnter)
	}
	h.typeText("dra")

	steps := []struct {
		key  rune
		want string
	}{
		{tea.KeyUp, "b = 2"}, {tea.KeyUp, "a = 1"}, {tea.KeyUp, "old = 0"},
		{tea.KeyUp, "old = 0"}, {tea.KeyDown, "a = 1"}, {tea.KeyDown, "b = 2"},
		{tea.KeyDown, "dra"},
	}
	for i, s := range steps {
		h.press(s.key)
		if got := m.ed.String(); got != s.want {
			t.Fatalf("step %d: line = %q, want %q", i, got, s.want)
		}
	}

	// The echo of our own input does not add it to the history again.
	f.updates <- kernel.Update{Entries: []kernel.Entry{
		entry(3, kernel.KindInput, "alice", "a = 1"),
		entry(4, kernel.KindInput, "alice", "b = 2"),
	}}
	h.waitScreen("alice >>> b = 2")
	if want := []string{"old = 0", "a = 1", "b = 2"}; !slices.Equal(m.hist.items, want) {
		t.Errorf("history = %q, want %q", m.hist.items, want)
	}
}

func TestHistoryRecallsBlock(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{})
	h.typeText("for i in range(3):")
	h.press(tea.KeyEnter)
	h.typeText("print(i)")
	h.press(tea.KeyEnter)
	h.press(tea.KeyEnter)
	h.press(tea.KeyUp)
	if len(m.block) != 1 || m.block[0] != "for i in range(3):" || m.ed.String() != "    print(i)" {
		t.Fatalf("block %q, line %q", m.block, m.ed.String())
	}
	h.press(tea.KeyEnter)
	h.press(tea.KeyEnter)
	h.waitFor("2 execs", func() bool { e, _, _, _ := f.calls(); return len(e) == 2 })
	if e, _, _, _ := f.calls(); e[0] != e[1] {
		t.Errorf("recalled block ran as %q, want %q", e[1], e[0])
	}
}

func TestTabCompletion(t *testing.T) {
	f := newFake("alice", keys.Operator)
	f.complete = func(text string) []string {
		switch text {
		case "x = ctx.get_b":
			return []string{"x = ctx.get_balance()"}
		case "ctx.g":
			return []string{"ctx.get_position", "ctx.get_positions", "ctx.get_position"}
		}
		return nil
	}
	h, m := startModel(t, f, Options{})

	h.typeText("x = ctx.get_b")
	h.press(tea.KeyTab)
	h.waitFor("one completion", func() bool { return m.ed.String() == "x = ctx.get_balance()" })

	h.ctrl('u')
	h.typeText("ctx.g")
	h.press(tea.KeyTab)
	h.waitFor("candidates", func() bool { return m.comp != nil && len(m.comp.cands) == 2 })
	if got := m.ed.String(); got != "ctx.get_position" {
		t.Errorf("line = %q, want the common prefix ctx.get_position", got)
	}
	if !strings.Contains(h.screen(), "ctx.get_position   ctx.get_positions") {
		t.Errorf("candidates not listed:\n%s", h.screen())
	}

	// Tab steps through the list, Shift+Tab back, without asking the kernel again.
	asked := len(f.completes)
	for _, want := range []string{"ctx.get_position", "ctx.get_positions", "ctx.get_position"} {
		h.press(tea.KeyTab)
		if got := m.ed.String(); got != want {
			t.Fatalf("Tab: line = %q, want %q", got, want)
		}
	}
	h.send(tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift})
	if got := m.ed.String(); got != "ctx.get_positions" {
		t.Fatalf("Shift+Tab: line = %q", got)
	}
	if len(f.completes) != asked {
		t.Error("stepping through the list asked the kernel again")
	}
	h.typeText("(")
	if m.comp != nil || strings.Contains(h.screen(), "completions") {
		t.Error("candidates still shown after typing")
	}

	h.ctrl('u')
	h.typeText("nothing")
	h.press(tea.KeyTab)
	h.waitScreen("no completions")
}

func TestCtrlC(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{})

	// Idle: Ctrl+C clears the line; again on the empty line it does nothing harmful.
	h.typeText("def g(")
	h.press(tea.KeyEnter)
	h.typeText("a")
	h.ctrl('c')
	if !m.ed.empty() || len(m.block) > 0 {
		t.Fatalf("Ctrl+C left %q / %q", m.block, m.ed.String())
	}
	h.ctrl('c')
	h.ctrl('c')
	if h.quit || m.quitting {
		t.Fatal("Ctrl+C on an empty line quit")
	}
	if !strings.Contains(h.screen(), "Ctrl+D on an empty line detaches") {
		t.Errorf("no hint after Ctrl+C:\n%s", h.screen())
	}

	// Busy: Ctrl+C interrupts, and keeps the line.
	f.updates <- kernel.Update{Status: &kernel.Status{Name: "k", State: kernel.StateRunning,
		Busy: true, Queued: 2}}
	h.waitScreen("busy, 2 queued")
	h.typeText("keep")
	h.ctrl('c')
	h.waitFor("interrupt", func() bool { _, n, _, _ := f.calls(); return n == 1 })
	if m.ed.String() != "keep" {
		t.Errorf("line = %q after interrupting", m.ed.String())
	}
	if _, _, d, _ := f.calls(); d != 0 {
		t.Error("Ctrl+C detached")
	}
}

func TestCtrlDDetaches(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{})

	h.typeText("x")
	h.ctrl('d') // not empty: deletes forward (nothing here), does not detach
	if m.quitting {
		t.Fatal("Ctrl+D on a non-empty line detached")
	}
	h.ctrl('u')
	h.ctrl('d')
	h.waitFor("quit", func() bool { return h.quit })
	h.waitFor("subscription closed", func() bool { _, _, _, c := f.calls(); return c == 1 })
	if _, _, detaches, _ := f.calls(); detaches != 1 {
		t.Errorf("detached %d times, want 1", detaches)
	}
	m.Close()
	if _, _, detaches, _ := f.calls(); detaches != 1 {
		t.Errorf("Close after detaching detached again (%d)", detaches)
	}
}

func TestContextEndDetaches(t *testing.T) {
	f := newFake("alice", keys.Operator)
	ctx, cancel := context.WithCancel(context.Background())
	h, _ := startModel(t, f, Options{Context: ctx})
	cancel()
	h.waitFor("detach", func() bool { _, _, d, _ := f.calls(); return d == 1 })
}

func TestViewerCannotType(t *testing.T) {
	f := newFake("vera", keys.Viewer)
	f.execErr = kernel.ErrReadOnly
	h, m := startModel(t, f, Options{})

	h.typeText("x = 1")
	h.press(tea.KeyEnter)
	screen := h.screen()
	if strings.Contains(screen, "x = 1") {
		t.Errorf("a viewer's typing shows:\n%s", screen)
	}
	for _, want := range []string{"read-only", readOnlyHint} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if m.View().Cursor != nil {
		t.Error("a viewer gets a cursor")
	}
	if e, _, _, _ := f.calls(); len(e) != 0 {
		t.Errorf("a viewer's input reached Exec: %q", e)
	}

	// A refused input (here forced through the queue) is a dim line, not a crash.
	h.send(execDoneMsg{code: "y", err: kernel.ErrReadOnly})
	h.waitScreen("read-only: viewers cannot run input")

	// Help works for viewers, and Ctrl+D still detaches.
	h.typeText("?")
	h.waitScreen("Keys")
	h.press(tea.KeyEscape)
	h.ctrl('d')
	h.waitFor("quit", func() bool { return h.quit })
}

func TestHeader(t *testing.T) {
	f := newFake("alice", keys.Operator)
	f.status = kernel.Status{Name: "sma_cross", Strategy: "sma_cross.star",
		State: kernel.StateRunning}
	h, _ := startModel(t, f, Options{Width: 120, Height: 20})
	h.waitScreen("sma_cross.star")

	mt := time.Date(2024, 3, 1, 12, 30, 0, 0, time.UTC)
	for i, eq := range []float64{10000, 10100, 10050, 10234.5} {
		f.updates <- kernel.Update{Status: &kernel.Status{
			Name: "sma_cross", Strategy: "sma_cross.star", State: kernel.StatePaused,
			Account: strategy.Snapshot{Equity: eq, PnL: eq - 10000,
				MarketTime: mt.Add(time.Duration(i) * time.Minute)},
			Attached: []kernel.Attachment{{Name: "alice", Role: "operator"},
				{Name: "bob", Role: "viewer"}, {Name: "alice", Role: "operator"}},
		}}
	}
	h.waitScreen("10,234.50")
	screen := h.screen()
	for _, want := range []string{"sma_cross", "paused", "2024-03-01 12:33:00 UTC",
		"+234.50 (+2.34%)", "alice×2", "bob (viewer)", "▁"} {
		if !strings.Contains(screen, want) {
			t.Errorf("header lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, "read-only") {
		t.Error("an operator's header says read-only")
	}
}

func TestStoppedAndMissed(t *testing.T) {
	f := newFake("alice", keys.Operator)
	f.updates <- kernel.Update{Missed: 3,
		Entries: []kernel.Entry{entry(9, kernel.KindStdout, "bob", "late")}}
	h, m := startModel(t, f, Options{})
	h.waitScreen("… 3 entries skipped (you fell behind)")

	close(f.updates)
	h.waitScreen("kernel stopped")
	h.typeText("x")
	h.press(tea.KeyEnter)
	if e, _, _, _ := f.calls(); len(e) != 0 || !m.ed.empty() {
		t.Errorf("input after stop: execs %q, line %q", e, m.ed.String())
	}
	if !strings.Contains(h.screen(), "stopped") {
		t.Error("header does not say stopped")
	}
}

func TestExecErrorIsALine(t *testing.T) {
	f := newFake("alice", keys.Operator)
	f.execErr = kernel.ErrStopped
	h, _ := startModel(t, f, Options{})
	h.typeText("x = 1")
	h.press(tea.KeyEnter)
	h.waitScreen("kernel stopped")
}

func TestScrollAndFollow(t *testing.T) {
	f := newFake("alice", keys.Operator)
	var es []kernel.Entry
	for i := range 100 {
		es = append(es, entry(uint64(i+1), kernel.KindStdout, "bob", fmt.Sprintf("line %03d", i)))
	}
	f.updates <- kernel.Update{Entries: es}
	h, m := startModel(t, f, Options{Width: 60, Height: 12})
	h.waitScreen("line 099")

	h.press(tea.KeyPgUp)
	if strings.Contains(h.screen(), "line 099") || !strings.Contains(h.screen(), "scrolled up") {
		t.Fatalf("PgUp did not scroll:\n%s", h.screen())
	}
	f.updates <- kernel.Update{Entries: []kernel.Entry{entry(101, kernel.KindStdout, "b", "new")}}
	h.waitScreen("↓ 1 new line")
	top := strings.Split(h.screen(), "\n")[2]

	for range 50 {
		h.press(tea.KeyPgUp)
	}
	if !strings.Contains(h.screen(), "line 000") {
		t.Errorf("cannot scroll to the top:\n%s", h.screen())
	}
	for range 50 {
		h.press(tea.KeyPgDown)
	}
	if m.tr.offset != 0 || !strings.Contains(h.screen(), "new") {
		t.Errorf("PgDn did not return to the bottom (offset %d, top was %q)", m.tr.offset, top)
	}
}

func TestTranscriptIsBounded(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{MaxEntries: 10})
	for i := range 50 {
		f.updates <- kernel.Update{Entries: []kernel.Entry{
			entry(uint64(i+1), kernel.KindStdout, "bob", fmt.Sprint("n", i))}}
	}
	h.waitScreen("n49")
	if n := len(m.tr.items); n > 13 {
		t.Errorf("transcript keeps %d items, want about 10", n)
	}
}

func TestHelpAndPanel(t *testing.T) {
	f := newFake("alice", keys.Operator)
	f.status = kernel.Status{Name: "k", State: kernel.StateRunning, Account: strategy.Snapshot{
		Equity: 1000, Cash: 500,
		Positions: []strategy.Position{{Symbol: "BTCUSDT", Quantity: 0.5, AvgPrice: 42000,
			LastPrice: 42100, UnrealizedPnL: 50}},
		OpenOrders: []strategy.Order{{ID: "o7", Symbol: "ETHUSDT", Side: "buy",
			Quantity: 2, Price: 2000}},
		Quotes: []strategy.Quote{{Symbol: "ETHUSDT", Bid: 2001, Ask: 2002, Last: 2001.5}},
	}}
	h, _ := startModel(t, f, Options{Width: 110, Height: 30})
	h.waitScreen(" k  running ")

	h.typeText("?")
	h.waitScreen("walk your input history")
	h.typeText("?")
	if strings.Contains(h.screen(), "walk your input history") {
		t.Error("? did not hide the help")
	}

	h.press(tea.KeyF2)
	screen := h.screen()
	for _, want := range []string{"Positions", "BTCUSDT", "42100.00", "+50.00", "o7", "2001.50"} {
		if !strings.Contains(screen, want) {
			t.Errorf("panel lacks %q:\n%s", want, screen)
		}
	}
	h.ctrl('p')
	if strings.Contains(h.screen(), "Positions") {
		t.Error("Ctrl+P did not hide the panel")
	}
}

func TestViewFitsAfterResize(t *testing.T) {
	f := newFake("alice", keys.Operator)
	long := strings.Repeat("wide 文字 text ", 30)
	f.updates <- kernel.Update{Entries: []kernel.Entry{
		entry(1, kernel.KindInput, "a-very-long-person-name", long),
		entry(2, kernel.KindStdout, "a", long+"\n"+long),
		entry(3, kernel.KindError, "a", long),
		entry(4, kernel.KindOrder, "a", long),
	}, Status: &kernel.Status{Name: strings.Repeat("k", 50), Strategy: "s", State: "running",
		Account:  strategy.Snapshot{Equity: 1e9, PnL: -1e6},
		Attached: []kernel.Attachment{{Name: "a"}, {Name: "b"}, {Name: "c"}}}}
	h, m := startModel(t, f, Options{})
	h.waitScreen("wide")
	h.typeText("def f():")
	h.press(tea.KeyEnter)
	h.typeText(long)

	sizes := [][2]int{{80, 24}, {200, 60}, {40, 10}, {20, 5}, {10, 3}, {5, 2}, {1, 1},
		{120, 4}, {64, 30}, {33, 7}}
	for _, panel := range []bool{false, true} {
		for _, help := range []bool{false, true} {
			m.panelSet, m.panelOpen, m.help = true, panel, help
			for _, s := range sizes {
				h.send(tea.WindowSizeMsg{Width: s[0], Height: s[1]})
				v := m.View()
				checkFits(t, v, s[0], s[1])
				if c := v.Cursor; c != nil && (c.X >= s[0] || c.Y >= s[1] || c.X < 0) {
					t.Errorf("%v: cursor at %d,%d", s, c.X, c.Y)
				}
			}
		}
	}

	// Before any size is known the view is empty rather than wrong.
	m2 := New(newFake("x", keys.Operator), Options{})
	defer m2.Close()
	if c := m2.View().Content; c != "" {
		t.Errorf("view before a size: %q", c)
	}
	if !m2.View().AltScreen {
		t.Error("AltScreen is off")
	}
}

func TestPasteRunsBlockAsOneInput(t *testing.T) {
	f := newFake("alice", keys.Operator)
	h, m := startModel(t, f, Options{})

	// A block ending in a line break runs at once, as one input, blank lines and
	// all; tabs become spaces.
	h.send(tea.PasteMsg{Content: "a = 1\r\ndef f():\n\treturn a\n\nprint(f())\n"})
	h.waitFor("exec", func() bool { e, _, _, _ := f.calls(); return len(e) == 1 })
	e, _, _, _ := f.calls()
	if want := "a = 1\ndef f():\n    return a\n\nprint(f())"; e[0] != want {
		t.Errorf("pasted block ran as %q, want %q", e[0], want)
	}
	if !m.ed.empty() || len(m.block) > 0 {
		t.Errorf("input after running a paste: %q / %q", m.block, m.ed.String())
	}
	h.press(tea.KeyUp)
	if m.draft() != "a = 1\ndef f():\n    return a\n\nprint(f())" {
		t.Errorf("Up recalls %q, not the pasted block", m.draft())
	}
	h.ctrl('c')

	// Without a final line break the block waits in the input, joined to what was
	// typed, and Enter runs it like a typed block.
	h.typeText("x = ")
	h.send(tea.PasteMsg{Content: "[1,\n2]"})
	if len(m.block) != 1 || m.block[0] != "x = [1," || m.ed.String() != "2]" {
		t.Fatalf("paste without a final break: %q / %q", m.block, m.ed.String())
	}
	screen := h.screen()
	if !strings.Contains(screen, ">>> x = [1,") || !strings.Contains(screen, "... 2]") {
		t.Errorf("pasted block not shown in the input:\n%s", screen)
	}
	h.press(tea.KeyEnter)
	h.waitFor("exec", func() bool { e, _, _, _ := f.calls(); return len(e) == 2 })
	if e, _, _, _ := f.calls(); e[1] != "x = [1,\n2]" {
		t.Errorf("Enter ran %q", e[1])
	}

	// A paste on one line is typed where the cursor is.
	h.typeText("print()")
	h.press(tea.KeyLeft)
	h.send(tea.PasteMsg{Content: "'héllo'"})
	if got := m.ed.String(); got != "print('héllo')" {
		t.Errorf("one-line paste: %q", got)
	}
}
