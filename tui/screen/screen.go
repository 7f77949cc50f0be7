// Package screen draws a Bubble Tea program's views on a terminal at the far end
// of a connection (an SSH channel, a browser's socket) a line at a time, and
// reads what is typed there.
//
// Bubble Tea's own renderer keeps two grids of cells per program and writes on
// the ticks of a 60 Hz clock, and its input reader builds a table of key
// sequences per program. A daemon with hundreds of attached sessions pays for
// all of it: over a megabyte per session, a frame's delay before anything shows,
// and every session ticking while nobody types. A Screen keeps the lines it last
// drew instead, writes a frame as soon as the program has one (while a write is
// under way, newer frames replace the waiting one, so a slow terminal gets fewer
// frames, never a queue), and redraws only what changed: the rows that differ,
// each from its first changed cell to its last, and a transcript that moved up
// is scrolled by the terminal rather than drawn again. Screens that show the
// same frames share that work (see shared.go).
//
// NewProgram makes a program that runs this way:
//
//	p, scr := screen.NewProgram(model, conn, conn, profile, tea.WithWindowSize(w, h))
//	defer scr.Close()
//	p.Run()
//
// The program then never touches the terminal itself: everything it shows goes
// through the Screen (Wrap hands it every view), a frame at a time, and
// everything typed comes through ReadInput.
package screen

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
)

// resetStyle turns every text attribute off.
const resetStyle = "\x1b[m"

// closeWait bounds how long Close waits for the terminal to take the last frame
// and the sequences that restore it: a terminal that stopped reading must not
// hold up the session's end.
const closeWait = time.Second

// Screen draws frames on one terminal. Draw and Repaint may be called from any
// goroutine and never block. A goroutine of the Screen's own does the writing
// while there is something to write, and none while the terminal is idle.
type Screen struct {
	out io.Writer

	mu      sync.Mutex // protects the fields below
	pending *frame     // the newest frame not written yet
	repaint bool       // the next frame redraws everything
	closing bool
	writing bool          // a writer goroutine runs
	wake    chan struct{} // capacity 1: tells a waiting writer there is work
	done    chan struct{} // closed when the writer has put the terminal back

	// Only the writer goroutine touches the rest; writers run one at a time.
	shown  *frame // what the terminal shows; nil before the first frame
	failed bool   // a write failed: the terminal is gone
	buf    bytes.Buffer
	color  colorprofile.Writer // downsamples the colours of text into buf
	cuts   []cut
	rows   []string // the rows on the terminal while a frame is being worked out
}

// frame is one view laid out for the terminal's size.
type frame struct {
	width, height int
	lines         []string // exactly height of them

	cursor     bool // shown, at cursorX, cursorY
	cursorX    int
	cursorY    int
	alt        bool
	paste      bool
	focus      bool
	mouse      tea.MouseMode
	title      string
	kittyFlags int

	sum uint64 // hash of all of the above; 0 until worked out
}

// New returns a Screen that writes to out, the terminal, with colours brought
// down to what profile says the terminal shows.
func New(out io.Writer, profile colorprofile.Profile) *Screen {
	if profile <= colorprofile.NoTTY {
		// It is a terminal: keep the cursor motions, drop only the colours.
		profile = colorprofile.Ascii
	}
	s := &Screen{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s.color = colorprofile.Writer{Forward: &s.buf, Profile: profile}
	return s
}

// Draw hands the Screen the view to show on a terminal of width×height cells. It
// returns at once; the view is written as soon as the terminal has taken the
// frames before it, unless a newer one replaces it first.
func (s *Screen) Draw(v tea.View, width, height int) {
	if width <= 0 || height <= 0 {
		return
	}
	s.draw(splitLines(v.Content, height), v, width, height)
}

// DrawLines is Draw with the view's lines given apart (see Framer); v.Content is
// ignored. The Screen keeps lines when there are exactly height of them.
func (s *Screen) DrawLines(lines []string, v tea.View, width, height int) {
	if width <= 0 || height <= 0 {
		return
	}
	if len(lines) != height {
		fitted := make([]string, height)
		copy(fitted, lines)
		lines = fitted
	}
	s.draw(lines, v, width, height)
}

func (s *Screen) draw(lines []string, v tea.View, width, height int) {
	f := &frame{
		width:      width,
		height:     height,
		lines:      lines,
		alt:        v.AltScreen,
		paste:      !v.DisableBracketedPasteMode,
		focus:      v.ReportFocus,
		mouse:      v.MouseMode,
		title:      v.WindowTitle,
		kittyFlags: kittyFlags(v.KeyboardEnhancements),
	}
	if c := v.Cursor; c != nil {
		f.cursor = true
		f.cursorX = min(max(0, c.X), width-1)
		f.cursorY = min(max(0, c.Y), height-1)
	}
	s.mu.Lock()
	if !s.closing {
		s.pending = f
		s.startWriter()
	}
	s.mu.Unlock()
}

// Repaint makes the next frame redraw the whole terminal, as after a resize, when
// whatever the terminal did with the old frame is unknown.
func (s *Screen) Repaint() {
	s.mu.Lock()
	s.repaint = true
	s.mu.Unlock()
}

// Close writes the last frame drawn, then puts the terminal back as it was (main
// screen, cursor shown, mouse and paste reporting off) and stops. It waits for
// that at most a second: a terminal that stopped reading is left to the
// connection's end. Close is safe to call more than once.
func (s *Screen) Close() {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.startWriter()
	}
	s.mu.Unlock()

	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
}

// startWriter starts the writer goroutine, or wakes it if it waits for work.
// s.mu must be held.
func (s *Screen) startWriter() {
	if !s.writing {
		s.writing = true
		go s.write()
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// linger is how long the writer waits for the next frame before it ends: long
// enough that a busy session keeps one writer (a goroutine's stack grows anew
// each time one starts), short enough that an idle session keeps none.
const linger = 2 * time.Second

// write is the writer goroutine: it writes the newest frame until there is none
// left for a while, and on Close puts the terminal back.
func (s *Screen) write() {
	var idle *time.Timer
	for {
		s.mu.Lock()
		f, repaint, closing := s.pending, s.repaint, s.closing
		s.pending = nil
		if f != nil {
			s.repaint = false
		}
		s.mu.Unlock()

		if f == nil && !closing {
			if idle == nil {
				idle = time.NewTimer(linger)
				defer idle.Stop()
			} else {
				idle.Reset(linger)
			}
			select {
			case <-s.wake:
				continue
			case <-idle.C:
			}
			s.mu.Lock()
			if s.pending == nil && !s.closing {
				s.writing = false
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
			continue
		}

		if f != nil {
			if !s.failed {
				s.buf.Reset()
				s.render(f, repaint)
				s.flush()
			}
			continue
		}
		// Closing, and the last frame is out. The writer stays marked as
		// running: nothing is written after this.
		if s.shown != nil && !s.failed {
			s.buf.Reset()
			s.restore()
			s.flush()
		}
		close(s.done)
		return
	}
}

func (s *Screen) flush() {
	if s.buf.Len() == 0 {
		return
	}
	if _, err := s.out.Write(s.buf.Bytes()); err != nil {
		s.failed = true
	}
}

// render writes what it takes to turn the terminal from s.shown into f.
func (s *Screen) render(f *frame, repaint bool) {
	old := s.shown
	full := old == nil || repaint || old.width != f.width || old.height != f.height ||
		old.alt != f.alt
	if !full && sameFrame(old, f) {
		return
	}
	if !full {
		// Screens showing the same frames share the bytes between them.
		k := diffKey{from: old.hash(), to: f.hash(), profile: s.color.Profile}
		if d := diffs.find(k, old, f); d != nil {
			s.buf.Write(d.out)
			f.lines = d.to.lines // as cut to the width, if they were
			s.shown = f
			return
		}
		start := s.buf.Len()
		s.update(old, f, false)
		diffs.add(k, old, f, s.buf.Bytes()[start:])
		return
	}
	s.update(old, f, true)
}

// update writes what turns the terminal from old into f, redrawing all of it
// when full is set.
func (s *Screen) update(old, f *frame, full bool) {
	b := &s.buf
	b.WriteString(ansi.SetModeSynchronizedOutput)
	if old == nil || old.cursor {
		b.WriteString(ansi.HideCursor)
	}
	s.modes(old, f)

	if full {
		b.WriteString("\x1b[r" + ansi.CursorHomePosition + ansi.EraseEntireScreen)
		for r, line := range f.lines {
			if line == "" {
				continue
			}
			if Width(line) > f.width {
				line = truncate(line, f.width)
				f.lines[r] = line
			}
			moveTo(b, r, 0)
			s.text(line)
			b.WriteString(resetStyle)
		}
	} else {
		s.rows = append(s.rows[:0], old.lines...)
		s.scroll(f)
		for r, line := range f.lines {
			if line != s.rows[r] {
				s.line(f, r)
			}
		}
	}

	if f.cursor {
		moveTo(b, f.cursorY, f.cursorX)
		b.WriteString(ansi.ShowCursor)
	}
	b.WriteString(ansi.ResetModeSynchronizedOutput)
	s.shown = f
}

// line redraws row r, which shows s.rows[r], as f.lines[r].
func (s *Screen) line(f *frame, r int) {
	old, new := s.rows[r], f.lines[r]
	sp, cols := changed(old, new, &s.cuts)
	if cols > f.width {
		new = truncate(new, f.width)
		f.lines[r] = new
		sp, cols = changed(old, new, &s.cuts)
	}
	b := &s.buf
	moveTo(b, r, sp.col)
	s.text(new[sp.from:sp.to])
	if !sp.keep {
		b.WriteString(resetStyle)
		if cols < f.width {
			b.WriteString(ansi.EraseLineRight)
		}
	}
}

// text writes a piece of a line with its colours brought down to the terminal's.
func (s *Screen) text(t string) {
	if !needsDownsampling(t, s.color.Profile) {
		s.buf.WriteString(t)
		return
	}
	_, _ = s.color.WriteString(t)
}

// needsDownsampling reports whether t may hold colours the profile cannot show.
// Taking a line apart to find out costs more than drawing it, and a 256-colour
// terminal (the usual TERM) only needs help with 24-bit colours, so that case is
// decided by looking for their parameters, "8;2;" (or "8:2:") as in 38;2;R;G;B.
func needsDownsampling(t string, p colorprofile.Profile) bool {
	switch p {
	case colorprofile.TrueColor:
		return false
	case colorprofile.ANSI256:
		return strings.Contains(t, "8;2;") || strings.Contains(t, "8:2:")
	case colorprofile.ANSI:
		return strings.Contains(t, "8;2;") || strings.Contains(t, "8:2:") ||
			strings.Contains(t, "8;5;") || strings.Contains(t, "8:5:")
	}
	return strings.IndexByte(t, ansi.ESC) >= 0
}

// scroll finds the block of rows of f that the terminal shows already, a few rows
// further down, and moves it up with a scroll region. That is what a transcript
// does when output arrives: every row moves up, and only the new rows at the
// bottom must be written. It updates s.rows to what the terminal shows after.
func (s *Screen) scroll(f *frame) {
	rows, lines := s.rows, f.lines
	changedRows := 0
	for r := range lines {
		if lines[r] != rows[r] {
			changedRows++
		}
	}
	if changedRows < 3 {
		return
	}

	// For each distance k, the runs of rows r with lines[r] == rows[r+k]; a run
	// is worth as many rows as it saves writing, less the rows under it that the
	// scroll would blank although they are right already.
	bestGain, bestK, bestTop, bestBot := 1, 0, 0, 0
	for k := 1; k <= len(lines)/2; k++ {
		top, gain := -1, 0
		for r := 0; r <= len(lines)-k; r++ {
			if r < len(lines)-k && lines[r] == rows[r+k] {
				if top < 0 {
					top, gain = r, 0
				}
				if lines[r] != rows[r] {
					gain++
				}
				continue
			}
			if top >= 0 {
				bot := r - 1
				g := gain
				for i := bot + 1; i <= bot+k; i++ {
					if lines[i] == rows[i] && lines[i] != "" {
						g--
					}
				}
				if g > bestGain {
					bestGain, bestK, bestTop, bestBot = g, k, top, bot
				}
				top = -1
			}
		}
	}
	if bestK == 0 {
		return
	}

	// Rows bestTop…bestBot+k scroll up by k: the region's top k rows go, k blank
	// rows come in at its bottom.
	b := &s.buf
	b.WriteString("\x1b[")
	b.WriteString(strconv.Itoa(bestTop + 1))
	b.WriteByte(';')
	b.WriteString(strconv.Itoa(bestBot + bestK + 1))
	b.WriteString("r\x1b[")
	b.WriteString(strconv.Itoa(bestK))
	b.WriteString("S\x1b[r")
	copy(rows[bestTop:], rows[bestTop+bestK:bestBot+bestK+1])
	for i := bestBot + 1; i <= bestBot+bestK; i++ {
		rows[i] = ""
	}
}

// modes sets the terminal modes f asks for that differ from old's.
func (s *Screen) modes(old, f *frame) {
	b := &s.buf
	first := old == nil
	var was frame // the terminal's defaults, before the first frame
	if !first {
		was = *old
	}
	toggle := func(before, after bool, set, reset string) {
		switch {
		case after && (first || !before):
			b.WriteString(set)
		case !after && before:
			b.WriteString(reset)
		}
	}
	toggle(was.alt, f.alt, ansi.SetModeAltScreenSaveCursor, ansi.ResetModeAltScreenSaveCursor)
	toggle(was.paste, f.paste, ansi.SetModeBracketedPaste, ansi.ResetModeBracketedPaste)
	toggle(was.focus, f.focus, ansi.SetModeFocusEvent, ansi.ResetModeFocusEvent)
	if first || old.mouse != f.mouse {
		if !first {
			b.WriteString(mouseOff(old.mouse))
		}
		switch f.mouse {
		case tea.MouseModeCellMotion:
			b.WriteString(ansi.SetModeMouseButtonEvent + ansi.SetModeMouseExtSgr)
		case tea.MouseModeAllMotion:
			b.WriteString(ansi.SetModeMouseAnyEvent + ansi.SetModeMouseExtSgr)
		}
	}
	if (first && f.title != "") || (!first && old.title != f.title) {
		b.WriteString(ansi.SetWindowTitle(f.title))
	}
	switch {
	case first:
		// Keys with modifiers as escape codes, as Bubble Tea's renderer asks.
		b.WriteString(ansi.SetModifyOtherKeys2)
		b.WriteString(ansi.PushKittyKeyboard(f.kittyFlags))
	case old.kittyFlags != f.kittyFlags:
		b.WriteString(ansi.KittyKeyboard(f.kittyFlags, 1))
	}
}

// restore undoes the modes of the last frame and leaves the cursor at the
// bottom, so the shell the person returns to starts on a clean line.
func (s *Screen) restore() {
	f, b := s.shown, &s.buf
	b.WriteString(resetStyle + "\x1b[r")
	b.WriteString(ansi.ResetModifyOtherKeys)
	b.WriteString(ansi.PopKittyKeyboard(1))
	b.WriteString(mouseOff(f.mouse))
	if f.focus {
		b.WriteString(ansi.ResetModeFocusEvent)
	}
	if f.paste {
		b.WriteString(ansi.ResetModeBracketedPaste)
	}
	if f.alt {
		b.WriteString(ansi.ResetModeAltScreenSaveCursor)
	} else {
		moveTo(b, f.height-1, 0)
		b.WriteString("\r\n")
	}
	b.WriteString(ansi.ShowCursor)
}

func mouseOff(m tea.MouseMode) string {
	switch m {
	case tea.MouseModeCellMotion:
		return ansi.ResetModeMouseButtonEvent + ansi.ResetModeMouseExtSgr
	case tea.MouseModeAllMotion:
		return ansi.ResetModeMouseAnyEvent + ansi.ResetModeMouseExtSgr
	}
	return ""
}

// moveTo puts the cursor on row r, column c (both from 0).
func moveTo(b *bytes.Buffer, r, c int) {
	b.WriteString("\x1b[")
	b.WriteString(strconv.Itoa(r + 1))
	if c > 0 {
		b.WriteByte(';')
		b.WriteString(strconv.Itoa(c + 1))
	}
	b.WriteByte('H')
}

// sameFrame reports whether b would draw nothing new over a.
func sameFrame(a, b *frame) bool {
	if a.cursor != b.cursor || a.cursorX != b.cursorX || a.cursorY != b.cursorY ||
		a.paste != b.paste || a.focus != b.focus || a.mouse != b.mouse ||
		a.title != b.title || a.kittyFlags != b.kittyFlags {
		return false
	}
	for i := range a.lines {
		if a.lines[i] != b.lines[i] {
			return false
		}
	}
	return true
}

// splitLines cuts content into exactly n lines, dropping any beyond and adding
// empty ones.
func splitLines(content string, n int) []string {
	lines := make([]string, n)
	for i := 0; i < n && content != ""; i++ {
		line, rest, found := strings.Cut(content, "\n")
		lines[i] = strings.TrimSuffix(line, "\r")
		if !found {
			break
		}
		content = rest
	}
	return lines
}

// kittyFlags are the Kitty keyboard protocol flags for e, with the
// disambiguation Bubble Tea always asks for.
func kittyFlags(e tea.KeyboardEnhancements) int {
	flags := ansi.KittyDisambiguateEscapeCodes
	if e.ReportEventTypes {
		flags |= ansi.KittyReportEventTypes
	}
	if e.ReportAlternateKeys {
		flags |= ansi.KittyReportAlternateKeys
	}
	if e.ReportAllKeysAsEscapeCodes {
		flags |= ansi.KittyReportAllKeysAsEscapeCodes
	}
	if e.ReportAssociatedText {
		flags |= ansi.KittyReportAssociatedKeys
	}
	return flags
}
