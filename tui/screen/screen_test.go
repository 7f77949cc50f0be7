package screen

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/vt"
)

// term is a terminal emulator the tests draw on.
type term struct {
	*vt.Emulator
}

func newTerm(_ *testing.T, w, h int) term {
	// The screen sends no queries, so the emulator never writes replies that
	// would have to be read.
	return term{vt.NewEmulator(w, h)}
}

// offline is a Screen whose frames the test writes itself, one at a time.
func offline(profile colorprofile.Profile) *Screen {
	s := &Screen{}
	s.color = colorprofile.Writer{Forward: &s.buf, Profile: profile}
	return s
}

// step renders f over whatever s showed and returns the bytes it wrote.
func (s *Screen) step(f *frame, repaint bool) []byte {
	s.buf.Reset()
	s.render(f, repaint)
	return bytes.Clone(s.buf.Bytes())
}

func textFrame(w, h int, lines ...string) *frame {
	f := &frame{width: w, height: h, lines: make([]string, h), alt: true, paste: true,
		kittyFlags: 1}
	copy(f.lines, lines)
	return f
}

// fresh is what a terminal shows when f is drawn on it from nothing.
func fresh(t *testing.T, f *frame) string {
	g := *f
	g.lines = append([]string(nil), f.lines...)
	tt := newTerm(t, f.width, f.height)
	tt.Write(offline(colorprofile.TrueColor).step(&g, false))
	return tt.Render()
}

var (
	styles = []string{"\x1b[m", "\x1b[31m", "\x1b[1;32m", "\x1b[2m", "\x1b[38;2;200;100;50m",
		"\x1b[4;44m", "\x1b[0m", "\x1b[7m"}
	words = []string{"a", "bc", "def", " ", "  ", "x=1", "│", "日本", "é", "·", "…", "BTC",
		"buy", "0.25", ">>>"}
)

// randomLine is a line of styled words about width columns wide (at times wider,
// which the screen must cut).
func randomLine(r *rand.Rand, width int) string {
	var b strings.Builder
	cols := 0
	limit := r.IntN(width + 1)
	if r.IntN(20) == 0 {
		limit = width + 5
	}
	for cols < limit {
		if r.IntN(4) == 0 {
			b.WriteString(styles[r.IntN(len(styles))])
		}
		w := words[r.IntN(len(words))]
		b.WriteString(w)
		cols += len([]rune(w))
		if strings.Contains(w, "日") {
			cols += 2
		}
	}
	if r.IntN(2) == 0 {
		b.WriteString("\x1b[m")
	}
	return b.String()
}

// panelLine is a transcript line padded to textW, a bar and a panel line: the
// shape of the REPL's body with its side panel open.
func panelLine(left, right string, textW int) string {
	pad := textW - plainWidth(left)
	if pad < 0 {
		pad = 0
	}
	return left + "\x1b[m" + strings.Repeat(" ", pad) + "\x1b[2m│\x1b[m" + right
}

func plainWidth(s string) int {
	return Width(s)
}

// next makes the frame after f the way a UI changes: output scrolls the body, a
// header value changes, a row is edited, or nothing happens.
func next(r *rand.Rand, f *frame) *frame {
	g := *f
	g.lines = append([]string(nil), f.lines...)
	h, w := g.height, g.width
	switch r.IntN(7) {
	case 0, 1: // output: the body (rows 2…h-3) moves up by a few rows
		k := 1 + r.IntN(4)
		top, bot := 2, h-3
		for i := top; i <= bot; i++ {
			if i+k <= bot {
				g.lines[i] = f.lines[i+k]
			} else {
				g.lines[i] = randomLine(r, w)
			}
		}
		g.lines[0] = randomLine(r, w)
	case 2: // the same with a side panel that stays put
		k := 1 + r.IntN(3)
		textW := w * 2 / 3
		for i := 2; i <= h-3; i++ {
			g.lines[i] = panelLine(randomLine(r, textW-4), "pos "+fmt.Sprint(i), textW)
		}
		for i := 2; i <= h-3-k; i++ {
			if j := i + k; j < len(f.lines) {
				g.lines[i] = panelLine(randomLine(r, textW-4), "pos "+fmt.Sprint(i), textW)
			}
		}
	case 3: // a few rows change
		for range 1 + r.IntN(3) {
			g.lines[r.IntN(h)] = randomLine(r, w)
		}
	case 4: // a row changes at its end only
		i := r.IntN(h)
		g.lines[i] = f.lines[i] + words[r.IntN(len(words))]
	case 5: // the cursor moves, the title changes
		g.cursor = !f.cursor
		g.cursorX, g.cursorY = r.IntN(w), r.IntN(h)
		g.title = fmt.Sprint("stratd ", r.IntN(3))
	case 6: // nothing
	}
	if r.IntN(10) == 0 {
		g.mouse = tea.MouseMode(r.IntN(3))
	}
	return &g
}

// TestFramesMatchAFreshDraw draws long random sequences of frames a change at a
// time and checks after each that the terminal shows, cell for cell and style for
// style, what drawing that frame on an empty terminal shows.
func TestFramesMatchAFreshDraw(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 40}, {20, 6}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", w, h), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
			// A second screen shows the same frames, as another session of
			// the same kernel does: it gets its bytes from the first's work.
			s, s2 := offline(colorprofile.TrueColor), offline(colorprofile.TrueColor)
			tt, tt2 := newTerm(t, w, h), newTerm(t, w, h)
			f := textFrame(w, h)
			for i := range f.lines {
				f.lines[i] = randomLine(r, w)
			}
			for step := range 300 {
				f2 := *f
				f2.lines = append([]string(nil), f.lines...)
				tt.Write(s.step(f, false))
				tt2.Write(s2.step(&f2, false))
				want := fresh(t, f)
				if got := tt.Render(); got != want {
					t.Fatalf("step %d: the terminal shows\n%s\nwant\n%s", step, got, want)
				}
				if got := tt2.Render(); got != want {
					t.Fatalf("step %d: the second terminal shows\n%s\nwant\n%s", step, got,
						want)
				}
				if f.cursor {
					if p := tt.CursorPosition(); p.X != f.cursorX || p.Y != f.cursorY {
						t.Fatalf("step %d: cursor at %v, want %d,%d", step, p, f.cursorX,
							f.cursorY)
					}
				}
				f = next(r, f)
			}
		})
	}
}

// TestOutputScrollsInsteadOfRedrawing checks that new output at the bottom of a
// full transcript costs a scroll and the new rows, not a redraw of every row.
func TestOutputScrollsInsteadOfRedrawing(t *testing.T) {
	const w, h = 80, 24
	s := offline(colorprofile.TrueColor)
	lines := make([]string, h)
	for i := range lines {
		lines[i] = fmt.Sprintf("\x1b[32mline %d\x1b[m of the transcript, long enough to matter", i)
	}
	s.step(textFrame(w, h, lines...), false)

	moved := append(append([]string(nil), lines[2:]...), "new one", "new two")
	out := s.step(textFrame(w, h, moved...), false)
	if !bytes.Contains(out, []byte("\x1b[2S")) {
		t.Errorf("no scroll by two rows in %q", out)
	}
	if len(out) > 200 {
		t.Errorf("wrote %d bytes for two new lines: %q", len(out), out)
	}
}

// TestChangeInsideALineWritesOnlyIt checks that a value changing in the middle of
// a styled line is written alone.
func TestChangeInsideALineWritesOnlyIt(t *testing.T) {
	const w, h = 80, 3
	s := offline(colorprofile.TrueColor)
	s.step(textFrame(w, h, "\x1b[1mequity\x1b[m 10000.00 \x1b[2m│\x1b[m idle"), false)
	out := s.step(textFrame(w, h, "\x1b[1mequity\x1b[m 10012.50 \x1b[2m│\x1b[m idle"), false)
	if strings.Contains(string(out), "equity") || strings.Contains(string(out), "idle") {
		t.Errorf("rewrote the unchanged parts: %q", out)
	}
	// "100" and "0 │ idle" are on the terminal already.
	if !strings.Contains(string(out), "\x1b[1;11H12.5\x1b") {
		t.Errorf("did not write just the changed digits: %q", out)
	}
}

// TestColoursDownsampled checks that a 256-colour terminal gets no 24-bit colours.
func TestColoursDownsampled(t *testing.T) {
	s := offline(colorprofile.ANSI256)
	out := s.step(textFrame(20, 2, "\x1b[38;2;200;100;50mhot\x1b[m"), false)
	if bytes.Contains(out, []byte("38;2;")) || !bytes.Contains(out, []byte("38;5;")) {
		t.Errorf("colours not brought down to 256: %q", out)
	}
}

// TestColoursDownsampledOnlyWhenNeeded checks each profile against what it must
// change: a 16-colour terminal gets no 256-colour codes, a colourless one none.
func TestColoursDownsampledOnlyWhenNeeded(t *testing.T) {
	line := "\x1b[38;5;208mname\x1b[m \x1b[31mred\x1b[m \x1b[1mbold\x1b[m"
	for _, c := range []struct {
		profile colorprofile.Profile
		banned  []string
	}{
		{colorprofile.TrueColor, nil},
		{colorprofile.ANSI256, nil},
		{colorprofile.ANSI, []string{"38;5;"}},
		{colorprofile.Ascii, []string{"38;5;", "31m"}},
	} {
		out := string(offline(c.profile).step(textFrame(40, 2, line), false))
		for _, b := range c.banned {
			if strings.Contains(out, b) {
				t.Errorf("%v: %q reached the terminal: %q", c.profile, b, out)
			}
		}
		if !strings.Contains(ansi.Strip(out), "name red bold") {
			t.Errorf("%v: text lost: %q", c.profile, out)
		}
	}
}

// syncBuffer is a terminal connection the Screen's goroutine writes to.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// TestScreenWritesAndRestores drives a Screen as a program does and checks that
// the terminal ends up with the last frame and then back on its main screen.
func TestScreenWritesAndRestores(t *testing.T) {
	out := &syncBuffer{}
	s := New(out, colorprofile.TrueColor)
	for i := range 50 {
		v := tea.NewView(fmt.Sprintf("frame %d\nsecond row", i))
		v.AltScreen = true
		v.MouseMode = tea.MouseModeCellMotion
		s.Draw(v, 30, 4)
	}
	s.Close()
	s.Close()

	got := out.buf.String()
	tt := newTerm(t, 30, 4)
	i := strings.LastIndex(got, "\x1b[?1049l")
	if i < 0 {
		t.Fatalf("never left the alternate screen: %q", got)
	}
	tt.Write([]byte(got[:i]))
	if s := tt.String(); !strings.HasPrefix(s, "frame 49") {
		t.Errorf("last frame not shown: %q", s)
	}
	for _, seq := range []string{"\x1b[?1002l", "\x1b[?2004l", "\x1b[?25h"} {
		// After the last frame's end of synchronized output.
		if !strings.Contains(got[strings.LastIndex(got, "\x1b[?2026l"):], seq) {
			t.Errorf("%q not reset at the end", seq)
		}
	}
}

// TestStalledTerminalDoesNotBlock checks that Draw never waits for the terminal
// and Close gives up on one that stopped reading.
func TestStalledTerminalDoesNotBlock(t *testing.T) {
	r, w := io.Pipe() // nobody reads r
	defer r.Close()
	s := New(w, colorprofile.TrueColor)
	for i := range 1000 {
		s.Draw(tea.NewView(fmt.Sprint("frame ", i)), 20, 2)
	}
	s.Close() // returns after closeWait
	w.CloseWithError(io.ErrClosedPipe)
	<-s.done
}

// TestSameFramesShareTheirDiff checks that a screen showing what another showed
// takes the bytes the other worked out, and that a different screen does not.
func TestSameFramesShareTheirDiff(t *testing.T) {
	a, b, c := offline(colorprofile.TrueColor), offline(colorprofile.TrueColor),
		offline(colorprofile.TrueColor)
	first := func() *frame { return textFrame(40, 4, "shared", "frame", "one") }
	second := func() *frame { return textFrame(40, 4, "shared", "frame", "two") }
	a.step(first(), false)
	b.step(first(), false)
	c.step(textFrame(40, 4, "another", "frame"), false)

	fa, fb, fc := second(), second(), second()
	outA := a.step(fa, false)
	k := diffKey{from: b.shown.hash(), to: fb.hash(), profile: colorprofile.TrueColor}
	if diffs.find(k, b.shown, fb) == nil {
		t.Fatal("the second screen finds no diff to share")
	}
	if outB := b.step(fb, false); !bytes.Equal(outA, outB) {
		t.Errorf("shared diff %q, own %q", outB, outA)
	}
	kc := diffKey{from: c.shown.hash(), to: fc.hash(), profile: colorprofile.TrueColor}
	if diffs.find(kc, c.shown, fc) != nil {
		t.Error("a screen that showed something else finds a diff to share")
	}
}
