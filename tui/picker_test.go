package tui

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
)

func TestPickerAttachesChosenKernel(t *testing.T) {
	clients := map[string]*fakeClient{}
	for _, name := range []string{"alpha", "beta"} {
		f := newFake("alice", keys.Operator)
		f.status = kernel.Status{Name: name, Strategy: name + ".star", State: kernel.StateRunning}
		clients[name] = f
	}
	var mu sync.Mutex
	var asked []string
	attach := func(name string) (kernel.Client, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, name)
		if name == "broken" {
			return nil, errors.New("no such kernel")
		}
		return clients[name], nil
	}
	items := []PickerItem{
		{Name: "beta", Strategy: "beta.star", State: kernel.StatePaused, Equity: 9000,
			PnL: -1000, Attached: 1},
		PickerItemFromStatus(kernel.Status{Name: "alpha", Strategy: "alpha.star",
			State: kernel.StateRunning, Attached: []kernel.Attachment{{Name: "x"}, {Name: "y"}}}),
		{Name: "broken", State: kernel.StateRunning},
	}
	p := NewPicker(items, attach, Options{})
	t.Cleanup(p.Close)
	h := newHarness(t, p)
	h.send(tea.WindowSizeMsg{Width: 90, Height: 12})

	screen := h.screen()
	for _, want := range []string{"pick a kernel", "alpha", "alpha.star", "beta.star",
		"paused", "9,000.00", "-1,000.00", "Enter attach"} {
		if !strings.Contains(screen, want) {
			t.Errorf("picker lacks %q:\n%s", want, screen)
		}
	}
	checkFits(t, p.View(), 90, 12)
	if !strings.Contains(screen, "▸ alpha") {
		t.Errorf("cursor not on the first kernel (sorted by name):\n%s", screen)
	}

	// A failing attach is reported and the list stays.
	h.press(tea.KeyDown)
	h.press(tea.KeyDown)
	h.press(tea.KeyEnter)
	h.waitScreen("attach broken: no such kernel")

	h.press(tea.KeyUp)
	h.press(tea.KeyEnter)
	h.waitScreen("beta.star  running")
	if p.Model() == nil {
		t.Fatal("no REPL after attaching")
	}
	checkFits(t, p.View(), 90, 12)

	// Keys now reach the REPL: q types, it does not quit.
	h.typeText("q = 1")
	h.press(tea.KeyEnter)
	beta := clients["beta"]
	h.poke = beta.poke
	h.waitFor("exec", func() bool { e, _, _, _ := beta.calls(); return len(e) == 1 })
	if h.quit {
		t.Error("q quit the REPL")
	}

	h.send(tea.WindowSizeMsg{Width: 50, Height: 8})
	checkFits(t, p.View(), 50, 8)

	p.Close()
	if _, _, d, _ := beta.calls(); d != 1 {
		t.Errorf("Close detached %d times, want 1", d)
	}
	if _, _, d, _ := clients["alpha"].calls(); d != 0 {
		t.Error("alpha was detached but never attached")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(asked, ",") != "broken,beta" {
		t.Errorf("attach calls %q", asked)
	}
}

func TestPickerQuits(t *testing.T) {
	for _, key := range []tea.KeyPressMsg{
		{Code: 'd', Mod: tea.ModCtrl}, {Code: 'c', Mod: tea.ModCtrl}, {Code: tea.KeyEscape},
	} {
		p := NewPicker([]PickerItem{{Name: "a"}}, nil, Options{Width: 40, Height: 6})
		h := newHarness(t, p)
		h.send(key)
		h.waitFor(key.String()+" to quit", func() bool { return h.quit })
		p.Close()
	}
}

func TestPickerEmptyAndTiny(t *testing.T) {
	p := NewPicker(nil, nil, Options{Width: 40, Height: 6})
	if s := p.View().Content; !strings.Contains(s, "no kernels are running") {
		t.Errorf("empty picker:\n%s", s)
	}
	var items []PickerItem
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		items = append(items, PickerItem{Name: "kernel_" + n, Strategy: "s"})
	}
	p = NewPicker(items, nil, Options{})
	h := newHarness(t, p)
	for _, size := range [][2]int{{40, 7}, {10, 2}, {1, 1}, {100, 30}} {
		h.send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		checkFits(t, p.View(), size[0], size[1])
	}
	h.send(tea.WindowSizeMsg{Width: 40, Height: 7})
	h.press(tea.KeyEnd)
	if !strings.Contains(h.screen(), "▸ kernel_h") {
		t.Errorf("the cursor's row scrolled out of view:\n%s", h.screen())
	}
}

func TestPickerSessionEndsMidAttach(t *testing.T) {
	f := newFake("alice", keys.Operator)
	release := make(chan struct{})
	attach := func(string) (kernel.Client, error) {
		<-release
		return f, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := NewPicker([]PickerItem{{Name: "a"}}, attach, Options{Context: ctx, Width: 40, Height: 8})
	h := newHarness(t, p)
	h.poke = f.poke
	h.press(tea.KeyEnter)
	h.waitScreen("attaching to a")
	cancel()
	close(release)
	h.waitFor("detach", func() bool { _, _, d, _ := f.calls(); return d == 1 })
	if p.Model() != nil {
		t.Error("a REPL was made for a session that had ended")
	}
}

func TestPickerFilters(t *testing.T) {
	items := []PickerItem{
		{Name: "btc_trend", Strategy: "trend.star", State: kernel.StateRunning, Equity: 12000,
			PnL: 2000, Attached: 3},
		{Name: "eth_mean", Strategy: "mean.star", State: kernel.StatePaused, Equity: 9000},
		{Name: "btc_grid", Strategy: "grid.star", State: kernel.StateRunning, Equity: 10000},
	}
	var asked []string
	attach := func(name string) (kernel.Client, error) {
		asked = append(asked, name)
		return nil, errors.New("refused")
	}
	p := NewPicker(items, attach, Options{Width: 80, Height: 12})
	t.Cleanup(p.Close)
	h := newHarness(t, p)

	screen := h.screen()
	for _, want := range []string{"12,000.00", "+2,000.00", "paused", "3 running"} {
		if !strings.Contains(screen, want) {
			t.Errorf("picker lacks %q:\n%s", want, screen)
		}
	}
	if c := p.View().Cursor; c == nil || c.Y != 1 {
		t.Errorf("cursor %+v, want on the filter line", c)
	}

	// Typing narrows by name or strategy; the cursor stays on a kernel shown.
	h.typeText("BTC")
	screen = h.screen()
	if strings.Contains(screen, "eth_mean") || !strings.Contains(screen, "btc_grid") ||
		!strings.Contains(screen, "filter: BTC") {
		t.Fatalf("filter BTC:\n%s", screen)
	}
	h.press(tea.KeyDown)
	if !strings.Contains(h.screen(), "▸ btc_trend") {
		t.Fatalf("Down did not move to btc_trend:\n%s", h.screen())
	}
	h.typeText("_t")
	if !strings.Contains(h.screen(), "▸ btc_trend") || strings.Contains(h.screen(), "btc_grid") {
		t.Fatalf("filter btc_t:\n%s", h.screen())
	}
	h.press(tea.KeyEnter)
	h.waitScreen("attach btc_trend: refused")

	h.typeText("zzz")
	h.waitScreen("no kernel matches")
	h.press(tea.KeyEnter) // nothing to attach to
	h.press(tea.KeyEscape)
	if h.quit || strings.Contains(h.screen(), "no kernel matches") ||
		!strings.Contains(h.screen(), "eth_mean") {
		t.Fatalf("Esc did not clear the filter:\n%s", h.screen())
	}
	h.typeText("mean.st")
	h.press(tea.KeyBackspace)
	h.press(tea.KeyBackspace)
	h.press(tea.KeyEnter)
	h.waitScreen("attach eth_mean: refused")
	if strings.Join(asked, ",") != "btc_trend,eth_mean" {
		t.Errorf("attach calls %q", asked)
	}
	h.press(tea.KeyEscape)
	h.press(tea.KeyEscape)
	h.waitFor("quit", func() bool { return h.quit })
}
