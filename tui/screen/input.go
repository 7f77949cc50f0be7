package screen

import (
	"io"
	"reflect"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	uv "github.com/charmbracelet/ultraviolet"
	"github.com/charmbracelet/x/ansi"
)

// maxPending bounds the bytes kept waiting for the end of a sequence, and
// maxPaste the text of one bracketed paste: a client cannot make the daemon hold
// more for it than this, whatever it sends. A longer paste keeps its first
// maxPaste bytes: a megabyte of code is more than anyone pastes on purpose.
const (
	maxPending = 64 << 10
	maxPaste   = 1 << 20
)

// escTimeout is how long a lone ESC, or the start of a sequence, waits for the
// rest before it counts as typed as it is: the same as Bubble Tea's reader.
const escTimeout = uv.DefaultEscTimeout

// ReadInput reads what the person types from r, the terminal's side of a
// connection, and hands every key, paste, mouse event and report to send
// (tea.Program.Send) until r ends or fails, as it does when the connection goes.
// Run it on a goroutine of its own, with the program made with
// tea.WithInput(nil).
//
// Bubble Tea's own reader does the same work, but builds a table of some 1,500
// escape sequences of older terminals for every program it runs: 170 KB per
// session, the largest thing an idle session kept. This reader decodes with
// ultraviolet's EventDecoder alone, which knows what xterm-compatible terminals
// and the kitty keyboard protocol send; a sequence only the table knew (rxvt's
// shifted arrows, say) arrives as an unknown sequence and does nothing.
func ReadInput(r io.Reader, send func(tea.Msg)) {
	in := &input{send: send}
	// A sequence cut short waits for its rest on a timer, not on a goroutine:
	// a session keeps only the one blocked in Read.
	in.wait = time.AfterFunc(escTimeout, func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		in.scan(true)
	})
	in.wait.Stop()

	b := make([]byte, 512)
	for {
		n, err := r.Read(b)
		in.mu.Lock()
		in.wait.Stop()
		if in.feed(b[:n], err != nil) {
			in.wait.Reset(escTimeout)
		}
		in.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// input decodes one terminal's input.
type input struct {
	mu    sync.Mutex // held while decoding: by the reader, or the timer
	wait  *time.Timer
	dec   uv.EventDecoder
	send  func(tea.Msg)
	buf   []byte // read and not decoded yet
	paste []byte // a bracketed paste so far; nil outside one
}

// feed decodes what was read, and all that is left when the input has ended. It
// reports whether bytes are kept waiting for the rest of a sequence. in.mu must be
// held.
func (in *input) feed(b []byte, ended bool) bool {
	in.buf = append(in.buf, b...)
	// A sequence that never ends is taken as it is rather than kept growing.
	in.scan(ended || len(in.buf) > maxPending)
	return len(in.buf) > 0
}

// scan decodes and sends the events in buf, keeping what may be the start of a
// longer sequence unless expired says no more is coming for it.
func (in *input) scan(expired bool) {
	buf := in.buf
	defer func() { in.buf = append(in.buf[:0], buf...) }()
	for len(buf) > 0 {
		n, ev := in.dec.Decode(buf)
		if n == 0 {
			if !expired {
				return
			}
			buf = nil // nothing to make of it
			return
		}
		// A lone ESC or a two-byte sequence may be the start of a longer one.
		short := buf[0] == ansi.ESC && n <= 2 && !expired

		if in.paste != nil {
			switch ev := ev.(type) {
			case uv.PasteEndEvent:
				in.send(uv.PasteEvent{Content: strings.ToValidUTF8(string(in.paste), "")})
				in.send(ev)
				in.paste = nil
			case uv.KeyPressEvent:
				switch {
				case len(ev.Text) > 0:
					in.keep(ev.Text)
				case short:
					return
				default:
					in.keep(string(buf[:n]))
				}
			case uv.UnknownEvent:
				if !expired {
					return
				}
			}
			buf = buf[n:]
			continue
		}

		switch ev := ev.(type) {
		case uv.UnknownEvent:
			if !expired {
				return // perhaps the rest has not arrived
			}
			in.send(ev)
		case uv.PasteStartEvent:
			in.paste = []byte{}
			in.send(ev)
		case uv.MultiEvent:
			if short {
				return
			}
			for _, e := range ev {
				in.send(e)
			}
		case nil:
		default:
			if short {
				return
			}
			if !ignored(ev) {
				in.send(ev)
			}
		}
		buf = buf[n:]
	}
}

// keep adds text to the paste under way, up to maxPaste bytes in all.
func (in *input) keep(text string) {
	if room := maxPaste - len(in.paste); room > 0 {
		in.paste = append(in.paste, text[:min(len(text), room)]...)
	}
}

// ignored reports whether the decoder marked ev as a sequence to drop; its type
// for that is not exported.
func ignored(ev uv.Event) bool {
	return reflect.TypeOf(ev).Name() == "ignoredEvent"
}
