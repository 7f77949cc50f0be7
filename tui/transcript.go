package tui

import (
	"strings"
	"sync/atomic"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
)

// defaultMaxEntries bounds the transcript a Model keeps: older lines are dropped
// (they stay in the kernel's history and journal).
const defaultMaxEntries = 5000

// noteKind is the kind of a line the TUI writes itself. Notes are local to one
// session and never part of the kernel's transcript.
type noteKind int

const (
	noteNone    noteKind = iota // the item is a kernel entry
	noteInfo                    // dim: exec errors, hints
	noteSkipped                 // dim: entries missed by a slow subscriber
	noteStopped                 // red: the kernel has stopped
)

// item is one entry of the transcript, or a note, with its drawing for the
// width it was last drawn at. A session keeps one per entry of the kernel's
// history (a thousand by default) and a daemon hundreds of sessions, so the items
// of entries are shared: every session that receives an entry within moments of
// the others holds the same item (entryItem), and keeps only a pointer to it.
// Apart from drawn, an item never changes once made.
type item struct {
	seq          uint64
	kind         kernel.Kind
	origin, text string
	note         noteKind

	drawn atomic.Pointer[drawing] // the last drawing; nil until drawn
}

// drawing is an item drawn at a width: styled lines, each at most width cells.
// Drawings of entries are shared between sessions; nobody changes one.
type drawing struct {
	width int
	lines []string
}

// entryItem returns the item of e, the same one for every session.
func entryItem(e kernel.Entry) *item {
	if e.Seq == 0 {
		return &item{kind: e.Kind, origin: e.Origin, text: e.Text}
	}
	k := entryKey{seq: e.Seq, kind: e.Kind, origin: e.Origin, text: e.Text}
	return entryItems.Get(k, func(k entryKey) *item {
		return &item{seq: k.seq, kind: k.kind, origin: k.origin, text: k.text}
	})
}

func noteItem(kind noteKind, text string) *item {
	return &item{note: kind, text: text}
}

// render returns the item's lines for width, drawing only when the width changed.
// Sessions of several widths may share the item: each keeps the drawing for its
// width at hand through the shared cache of drawings.
func (it *item) render(width int) []string {
	d := it.drawn.Load()
	if d == nil || d.width != width {
		if it.note == noteNone {
			d = sharedEntryLines(it, width, func() *drawing {
				return &drawing{width, renderItem(it, width)}
			})
		} else {
			d = &drawing{width, renderItem(it, width)}
		}
		it.drawn.Store(d)
	}
	return d.lines
}

// transcript is the scrollable body: a bounded list of items, viewed from the
// bottom. Rendering walks back from the newest item only as far as the view needs,
// so a keystroke never re-renders the history.
type transcript struct {
	items []*item
	max   int

	offset int // lines scrolled up from the bottom; 0 follows new output
	unseen int // lines that arrived below the view while scrolled up

	win []string // the last window's lines, reused

	// cleared is the index of the first item a view cleared with Ctrl+L shows
	// while it follows new output; 0 when the view was not cleared. Scrolling up
	// still reaches the items above it, as in a terminal's scrollback.
	cleared int
}

// add appends an item. When the view is scrolled up it stays where it is.
func (t *transcript) add(it *item, width int) {
	t.items = append(t.items, it)
	if t.offset > 0 {
		n := len(it.render(width))
		t.offset += n
		t.unseen += n
	}
	if limit := t.limit(); len(t.items) > limit+limit/4 {
		// Trim in batches so appending stays amortised O(1).
		drop := len(t.items) - limit
		clear(t.items[:drop])
		t.items = append([]*item(nil), t.items[drop:]...)
		t.cleared = max(0, t.cleared-drop)
	}
}

// clearView empties the view, as Ctrl+L does in a shell: new items show from the
// top, and the items before stay reachable by scrolling up.
func (t *transcript) clearView() {
	t.follow()
	t.cleared = len(t.items)
}

func (t *transcript) limit() int {
	if t.max > 0 {
		return t.max
	}
	return defaultMaxEntries
}

// window returns the lines to show in a body of width×height, top-aligned when the
// transcript is shorter than the body. It clamps the scroll offset as a side effect.
func (t *transcript) window(width, height int) []string {
	if height <= 0 || width <= 0 {
		return nil
	}
	if t.offset == 0 && t.cleared > 0 {
		if lines, ok := t.sinceCleared(width, height); ok {
			return lines
		}
	}

	// Walk back from the newest item only as far as the view needs, filling the
	// window from its bottom; lines scrolled past below are skipped.
	skip := t.offset
	win := t.win
	if cap(win) < height {
		win = make([]string, height)
	}
	win = win[:height]
	clear(win)
	row := height // win[row:] is filled
	have := 0     // lines seen, scrolled past included
	for i := len(t.items) - 1; i >= 0 && row > 0; i-- {
		lines := t.items[i].render(width)
		have += len(lines)
		for j := len(lines) - 1; j >= 0 && row > 0; j-- {
			if skip > 0 {
				skip--
				continue
			}
			row--
			win[row] = lines[j]
		}
	}
	t.win = win
	switch {
	case row == 0:
		return win
	case t.offset > 0:
		// Scrolled up past the top: clamp, and draw again from there.
		if t.offset = max(0, have-height); t.offset == 0 {
			t.unseen = 0
		}
		return t.window(width, height)
	}
	// Shorter than the body: top-aligned.
	t.unseen = 0
	return win[row:]
}

// sinceCleared returns the lines of the items after a Ctrl+L, when they do not
// fill the view yet. Once they do, the view is an ordinary one again.
func (t *transcript) sinceCleared(width, height int) ([]string, bool) {
	var lines []string
	for _, it := range t.items[min(t.cleared, len(t.items)):] {
		lines = append(lines, it.render(width)...)
		if len(lines) >= height {
			t.cleared = 0
			return nil, false
		}
	}
	return lines, true
}

// scroll moves the view by delta lines (positive is up, into the past).
func (t *transcript) scroll(delta, width, height int) {
	if delta > 0 && t.offset == 0 && t.cleared > 0 {
		// Leaving a cleared view: as in a terminal, what was cleared sits right
		// above the lines shown, and scrolling up by the blank rows reaches it.
		if lines, ok := t.sinceCleared(width, height); ok {
			delta = max(0, delta-(height-len(lines)))
		}
		t.cleared = 0
	}
	t.offset = max(0, t.offset+delta)
	t.window(width, height) // clamps at the top
	if t.offset == 0 {
		t.unseen = 0
	}
}

// follow returns to the bottom, following new output again.
func (t *transcript) follow() {
	t.offset = 0
	t.unseen = 0
}

// renderItem renders an entry or note as styled lines at most width cells wide.
func renderItem(it *item, width int) []string {
	if width <= 0 {
		return []string{""}
	}
	if it.note != noteNone {
		return renderNote(it.note, it.text, width)
	}

	text := strings.TrimSuffix(sanitize(it.text), "\n")
	origin := sanitize(it.origin)
	switch it.kind {
	case kernel.KindInput:
		return renderInput(origin, text, width)
	case kernel.KindResult, kernel.KindStdout:
		return wrapStyled(text, width, lipgloss.NewStyle())
	case kernel.KindError:
		return wrapStyled(text, width, styleError)
	case kernel.KindLog:
		return wrapStyled("["+origin+"] "+text, width, styleDim)
	case kernel.KindOrder:
		return renderTrade("order", origin, text, width)
	case kernel.KindFill:
		return renderTrade("fill", origin, text, width)
	case kernel.KindSystem:
		if origin != "" && origin != kernel.OriginSystem && !strings.Contains(text, origin) {
			text += " (" + origin + ")"
		}
		return wrapStyled("· "+text, width, styleSystem)
	}
	return wrapStyled(string(it.kind)+" "+origin+": "+text, width, styleDim)
}

func renderNote(kind noteKind, text string, width int) []string {
	switch kind {
	case noteStopped:
		return wrapStyled(text, width, styleStopped)
	case noteSkipped:
		return wrapStyled(text, width, styleWarn.Faint(true))
	}
	return wrapStyled(text, width, styleDim)
}

// renderInput shows who typed what: "alice >>> code", then "alice ... more" for
// each further line of a block.
func renderInput(origin, code string, width int) []string {
	name := originStyle(origin)
	var out []string
	for i, line := range strings.Split(code, "\n") {
		prompt := ">>> "
		if i > 0 {
			prompt = "... "
		}
		head := origin + " " + prompt
		for j, piece := range wrapPlain(head+line, width) {
			if j == 0 && strings.HasPrefix(piece, head) {
				piece = name.Render(origin) + " " + stylePrompt.Render(prompt) + piece[len(head):]
			}
			out = append(out, piece)
		}
	}
	return out
}

// renderTrade renders orders and fills: "order alice: buy 1 BTCUSDT @ market". The
// label and text take the colour of the side (buy green, sell red; a cancelled
// order is dim) and the name its person's colour, so every trade can be traced to
// whoever caused it.
func renderTrade(label, origin, text string, width int) []string {
	style := tradeStyle(label, text)
	head := label + " " + origin + ":"
	var out []string
	for i, piece := range wrapPlain(head+" "+text, width) {
		if i == 0 && strings.HasPrefix(piece, head) {
			piece = style.Bold(true).Render(label) + " " + originStyle(origin).Render(origin) +
				style.Render(":"+piece[len(head):])
		} else {
			piece = style.Render(piece)
		}
		out = append(out, piece)
	}
	return out
}

// tradeStyle colours an order or fill by its side.
func tradeStyle(label, text string) lipgloss.Style {
	if label == "order" && strings.HasPrefix(text, "cancelled") {
		return styleDim
	}
	switch side(text) {
	case "buy":
		return styleBuy
	case "sell":
		return styleSell
	}
	if label == "fill" {
		return styleFill
	}
	return styleOrder
}

// side finds the side of an order or fill in its text: the first word that is
// "buy" or "sell" ("filled o3: sell 0.5 BTCUSDT @ 30012.50").
func side(text string) string {
	for _, w := range strings.Fields(text) {
		switch w = strings.ToLower(strings.Trim(w, ":,()")); w {
		case "buy", "sell":
			return w
		}
	}
	return ""
}

// wrapStyled wraps plain text to width and styles each line on its own, so no
// escape sequence spans a line break.
func wrapStyled(text string, width int, style lipgloss.Style) []string {
	lines := wrapPlain(text, width)
	for i, l := range lines {
		if l != "" {
			lines[i] = style.Render(l)
		}
	}
	return lines
}

// wrapPlain splits text into lines and hard-wraps each to width cells.
func wrapPlain(text string, width int) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if ansi.StringWidth(line) <= width {
			out = append(out, line)
			continue
		}
		out = append(out, strings.Split(ansi.Hardwrap(line, width, true), "\n")...)
	}
	return out
}
