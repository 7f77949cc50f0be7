package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
)

// fakeClient is a kernel.Client backed by a channel of updates; closing the
// channel stops the kernel. It records every call.
type fakeClient struct {
	person  kernel.Person
	updates chan kernel.Update
	poke    chan struct{} // signalled after every call, so tests can wait for one

	mu         sync.Mutex // protects the fields below
	status     kernel.Status
	execs      []string
	execErr    error
	interrupts int
	detaches   int
	subCloses  int
	subscribes int
	completes  []string
	complete   func(text string) []string
}

func newFake(name string, role keys.Role) *fakeClient {
	return &fakeClient{
		person:  kernel.Person{Name: name, Role: role},
		updates: make(chan kernel.Update, 100),
		poke:    make(chan struct{}, 1),
	}
}

// called records that a call happened; f.mu must be held.
func (f *fakeClient) called() {
	select {
	case f.poke <- struct{}{}:
	default:
	}
}

func (f *fakeClient) Person() kernel.Person { return f.person }

func (f *fakeClient) Exec(code string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called()
	f.execs = append(f.execs, code)
	return f.execErr
}

func (f *fakeClient) Interrupt() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called()
	f.interrupts++
	return nil
}

func (f *fakeClient) Subscribe(since uint64) kernel.Subscriber {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called()
	f.subscribes++
	return &fakeSub{f}
}

// subscribed reports how many times Subscribe was called.
func (f *fakeClient) subscribed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subscribes
}

func (f *fakeClient) Complete(ctx context.Context, text string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called()
	f.completes = append(f.completes, text)
	if f.complete == nil {
		return nil
	}
	return f.complete(text)
}

func (f *fakeClient) Status() kernel.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeClient) Detach() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.called()
	f.detaches++
}

// calls returns a copy of the counters and inputs, for assertions.
func (f *fakeClient) calls() (execs []string, interrupts, detaches, subCloses int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.execs...), f.interrupts, f.detaches, f.subCloses
}

type fakeSub struct{ f *fakeClient }

func (s *fakeSub) Next(ctx context.Context) (kernel.Update, error) {
	select {
	case <-ctx.Done():
		return kernel.Update{}, ctx.Err()
	case u, ok := <-s.f.updates:
		if !ok {
			return kernel.Update{}, kernel.ErrStopped
		}
		return u, nil
	}
}

func (s *fakeSub) Close() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.called()
	s.f.subCloses++
}

// harness drives a tea.Model the way a Program does, on the test's goroutine: it
// runs each Cmd on its own goroutine and feeds the resulting messages back into
// Update only when the test waits for something.
type harness struct {
	t     *testing.T
	model tea.Model
	msgs  chan tea.Msg
	poke  <-chan struct{} // a fake client's call signal, if any
	done  chan struct{}
	quit  bool
}

func newHarness(t *testing.T, model tea.Model) *harness {
	t.Helper()
	h := &harness{t: t, model: model, msgs: make(chan tea.Msg, 64), done: make(chan struct{})}
	t.Cleanup(func() { close(h.done) })
	h.run(model.Init())
	return h
}

// startModel builds a Model on f with an 80×24 terminal and runs Init.
func startModel(t *testing.T, f *fakeClient, opts Options) (*harness, *Model) {
	t.Helper()
	if opts.Width == 0 {
		opts.Width, opts.Height = 80, 24
	}
	m := New(f, opts)
	t.Cleanup(m.Close)
	h := newHarness(t, m)
	h.poke = f.poke
	return h, m
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() {
		msg := cmd()
		select {
		case h.msgs <- msg:
		case <-h.done:
		}
	}()
}

func (h *harness) send(msg tea.Msg) {
	switch msg := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			h.run(c)
		}
	case tea.QuitMsg:
		h.quit = true
	default:
		var cmd tea.Cmd
		h.model, cmd = h.model.Update(msg)
		h.run(cmd)
	}
}

// waitFor handles messages until cond holds, failing after a few seconds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	for !cond() {
		select {
		case msg := <-h.msgs:
			h.send(msg)
		case <-h.poke:
		case <-timeout.C:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, h.screen())
		}
	}
}

// waitScreen waits until the screen shows want.
func (h *harness) waitScreen(want string) {
	h.t.Helper()
	h.waitFor("screen to show "+want, func() bool { return strings.Contains(h.screen(), want) })
}

func (h *harness) screen() string { return ansi.Strip(h.model.View().Content) }

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func (h *harness) press(code rune) { h.send(tea.KeyPressMsg{Code: code}) }

func (h *harness) ctrl(r rune) { h.send(tea.KeyPressMsg{Code: r, Mod: tea.ModCtrl}) }

// lastLine is the bottom line of the screen: the input line.
func (h *harness) lastLine() string {
	lines := strings.Split(h.screen(), "\n")
	return lines[len(lines)-1]
}

// checkFits fails unless the view is exactly width×height or narrower.
func checkFits(t *testing.T, v tea.View, width, height int) {
	t.Helper()
	lines := strings.Split(v.Content, "\n")
	if len(lines) != height {
		t.Fatalf("%dx%d: view has %d lines:\n%s", width, height, len(lines),
			ansi.Strip(v.Content))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w > width {
			t.Fatalf("%dx%d: line %d is %d wide: %q", width, height, i, w, ansi.Strip(l))
		}
	}
}

func entry(seq uint64, kind kernel.Kind, origin, text string) kernel.Entry {
	return kernel.Entry{Seq: seq, Time: time.Unix(1700000000, 0), Kind: kind,
		Origin: origin, Text: text}
}
