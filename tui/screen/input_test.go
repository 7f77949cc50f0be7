package screen

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
)

// typed is what a person types in one test, as the reads that bring it.
var typed = map[string][]string{
	"text":          {"abc 日本 ü"},
	"keys":          {"\x1b[A\x1b[B\x1b[1;5C\x1bOP\x1b[15~\t\x7f\r\x04\x03\x0c"},
	"alt":           {"\x1bb\x1bf"},
	"split csi":     {"\x1b[", "1;2", "A"},
	"split utf8":    {"\xe6\x97", "\xa5"},
	"lone escape":   {"\x1b"},
	"paste":         {"\x1b[200~for i in range(2):\r    print(i)\r\r\x1b[201~"},
	"split paste":   {"\x1b[200~a\rb", "c\x1b[2", "01~z"},
	"mouse wheel":   {"\x1b[<64;10;5M\x1b[<65;10;5M"},
	"kitty keys":    {"\x1b[13;2u\x1b[97;5u"},
	"focus":         {"\x1b[I\x1b[O"},
	"unknown":       {"\x1b[999;999;999X"},
	"many at once":  {"x = 1\r", "\x1b[A\r", "\x1b[200~p\x1b[201~"},
	"kitty reports": {"\x1b[?1u"},
}

// events runs reads through a reader and collects what it sends until the input
// ends, which makes both readers take whatever is left as it is.
func events(t *testing.T, reads []string, read func(io.Reader, chan<- uv.Event)) []uv.Event {
	t.Helper()
	r, w := io.Pipe()
	ch := make(chan uv.Event, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		read(r, ch)
	}()
	for _, s := range reads {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	<-done
	close(ch)
	var out []uv.Event
	for e := range ch {
		out = append(out, e)
	}
	return out
}

// TestInputDecodesAsBubbleTeaDoes checks that ReadInput turns what terminals
// send into the same events as Bubble Tea's own reader.
func TestInputDecodesAsBubbleTeaDoes(t *testing.T) {
	for name, reads := range typed {
		t.Run(name, func(t *testing.T) {
			want := events(t, reads, func(r io.Reader, ch chan<- uv.Event) {
				tr := uv.NewTerminalReader(r, "xterm-256color")
				_ = tr.StreamEvents(context.Background(), ch)
			})
			got := events(t, reads, func(r io.Reader, ch chan<- uv.Event) {
				ReadInput(r, func(m tea.Msg) { ch <- m.(uv.Event) })
			})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ReadInput sent\n%s\nBubble Tea's reader\n%s", list(got), list(want))
			}
			if len(want) == 0 {
				t.Error("no events at all: the comparison proves nothing")
			}
		})
	}
}

func list(evs []uv.Event) string {
	s := ""
	for _, e := range evs {
		s += fmt.Sprintf("  %T %+v\n", e, e)
	}
	return s
}

// TestLoneEscapeIsAKey checks that Esc pressed alone arrives while the
// connection stays open, once no more of a sequence follows it.
func TestLoneEscapeIsAKey(t *testing.T) {
	r, w := io.Pipe()
	defer w.Close()
	ch := make(chan tea.Msg, 1)
	go ReadInput(r, func(m tea.Msg) { ch <- m })
	if _, err := w.Write([]byte("\x1b")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-ch:
		if k, ok := m.(uv.KeyPressEvent); !ok || k.Code != uv.KeyEscape {
			t.Fatalf("got %T %+v, want Esc", m, m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Esc never arrived")
	}
}

// TestInputBoundsWhatItHolds checks that a paste too long is cut at maxPaste
// (and what is typed after it still arrives), and that a sequence that never ends
// is given up on rather than held while it grows.
func TestInputBoundsWhatItHolds(t *testing.T) {
	r, w := io.Pipe()
	var pasted []string
	gotQ := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		ReadInput(r, func(m tea.Msg) {
			switch m := m.(type) {
			case uv.PasteEvent:
				pasted = append(pasted, m.Content)
			case uv.KeyPressEvent:
				gotQ = gotQ || m.Text == "q"
			}
		})
	}()
	chunk := []byte(strings.Repeat("x", 64<<10))
	w.Write([]byte("\x1b[200~"))
	for range 2 * maxPaste / len(chunk) {
		w.Write(chunk)
	}
	w.Write([]byte("\x1b[201~"))
	w.Write([]byte("q"))
	w.Close()
	<-done
	if len(pasted) != 1 || len(pasted[0]) != maxPaste {
		t.Errorf("pastes of %d bytes, want one of maxPaste", lens(pasted))
	}
	if !gotQ {
		t.Error("the key typed after the paste never arrived")
	}

	// A CSI sequence whose parameters go on and on.
	in := &input{send: func(tea.Msg) {}}
	in.feed([]byte("\x1b["), false)
	for range 8 {
		in.feed([]byte(strings.Repeat("1", maxPending/2)), false)
		if len(in.buf) > maxPending {
			t.Fatalf("%d bytes held waiting for a sequence to end", len(in.buf))
		}
	}
}

func lens(ss []string) []int {
	var n []int
	for _, s := range ss {
		n = append(n, len(s))
	}
	return n
}
