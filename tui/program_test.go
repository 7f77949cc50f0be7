package tui

import (
	"io"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
)

// TestProgram runs the Model in a real Bubble Tea program with its terminal on
// pipes, as the SSH server does: typed bytes reach Exec, Ctrl+D detaches and ends
// the program, and the kernel (the fake) is never stopped.
func TestProgram(t *testing.T) {
	f := newFake("alice", keys.Operator)
	f.updates <- kernel.Update{Entries: []kernel.Entry{
		entry(1, kernel.KindSystem, kernel.OriginSystem, "kernel started")}}
	m := New(f, Options{})
	defer m.Close()

	in, typing := io.Pipe()
	p := tea.NewProgram(m, tea.WithInput(in), tea.WithOutput(io.Discard),
		tea.WithWindowSize(80, 24), tea.WithoutSignalHandler())
	done := make(chan error, 1)
	go func() {
		_, err := p.Run()
		done <- err
	}()
	defer typing.Close()

	wait := func(what string, cond func() bool) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for !cond() {
			select {
			case <-f.poke:
			case <-timeout:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	// The subscription is open before anything is typed: a program that ends
	// before its Init commands run has none to close.
	wait("subscribe", func() bool { return f.subscribed() > 0 })

	// "2" is typed and rubbed out with DEL, as a terminal's backspace sends it.
	if _, err := typing.Write([]byte("x = 12\x7f\r")); err != nil {
		t.Fatal(err)
	}
	wait("exec", func() bool { e, _, _, _ := f.calls(); return len(e) == 1 })
	if e, _, _, _ := f.calls(); e[0] != "x = 1" {
		t.Errorf("Exec(%q)", e[0])
	}

	if _, err := typing.Write([]byte{0x04}); err != nil { // Ctrl+D
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("program: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ctrl+D did not end the program")
	}
	// The subscription may be closed by the goroutine that opened it, just after.
	wait("subscription closed", func() bool { _, _, _, c := f.calls(); return c == 1 })
	if _, _, d, _ := f.calls(); d != 1 {
		t.Errorf("detached %d times, want 1", d)
	}
}
