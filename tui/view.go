package tui

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// layout is how the screen's rows and columns are shared out.
type layout struct {
	header int // header lines shown: 2, or fewer on a tiny terminal
	body   int // transcript rows
	hint   int // 1 when the hint line is shown
	input  int // input rows: the block's lines and the edited line
	cands  int // completion list rows, taken from the body

	textW  int // transcript width
	panelW int // side panel width; 0 when the panel is hidden
}

func (m *Model) layout() layout {
	w, h := max(0, m.width), max(0, m.height)
	l := layout{header: 2, hint: 1, input: min(len(m.block)+1, max(1, h/3))}
	l.body = h - l.header - l.hint - l.input
	if l.body < 0 {
		// Too short for everything: give up the header's second line, the hint and
		// the title, in that order, and keep the input line to the last.
		l.body = 0
		for l.header+l.hint+l.input > h {
			switch {
			case l.header == 2:
				l.header = 1
			case l.hint == 1:
				l.hint = 0
			case l.header == 1:
				l.header = 0
			default:
				l.input--
			}
		}
	}

	if m.comp != nil && l.body > 1 {
		_, _, rows := m.comp.layout(w)
		l.cands = min(maxCompletionRows, l.body/2, rows)
		l.body -= l.cands
	}

	l.textW = w
	if m.panelShown() && w-minPanelWidth-1 >= minTextWidth {
		l.panelW = min(maxPanelWidth, max(minPanelWidth, w/3))
		l.textW = w - l.panelW - 1
	}
	return l
}

// View draws the whole screen: exactly Height lines, none wider than Width.
func (m *Model) View() tea.View {
	lines, v := m.Frame()
	v.Content = strings.Join(lines, "\n")
	return v
}

// Frame is View with the screen's lines apart rather than joined, for a
// renderer that works line by line (screen.Framer); the view has no Content.
func (m *Model) Frame() ([]string, tea.View) {
	lines, cursor := m.render()
	var v tea.View
	v.AltScreen = true
	v.Cursor = cursor
	// Cell motion reports the wheel (and clicks) without flooding the session with
	// every move; terminals still select text with Shift held.
	v.MouseMode = tea.MouseModeCellMotion
	if m.status.Name != "" {
		v.WindowTitle = "stratd · " + sanitize(m.status.Name)
	}
	return lines, v
}

func (m *Model) render() ([]string, *tea.Cursor) {
	if m.width <= 0 || m.height <= 0 {
		return nil, nil
	}
	l := m.layout()
	lines := make([]string, 0, m.height)
	lines = append(lines, m.headerLines()[:l.header]...) // fitted already
	lines = m.body(l, lines)                             // likewise
	fitFrom := len(lines)
	if l.cands > 0 {
		rows := m.comp.rows(m.width, l.cands)
		for len(rows) < l.cands {
			rows = append(rows, "")
		}
		lines = append(lines, rows...)
	}
	if l.hint == 1 {
		lines = append(lines, m.cachedHint())
	}
	input, cursorX := m.inputLines(l.input)
	cursorY := len(lines) + len(input) - 1
	lines = append(lines, input...)
	for i, line := range lines[fitFrom:] {
		lines[fitFrom+i] = fit(line, m.width)
	}

	var cursor *tea.Cursor
	if m.canType() && len(input) > 0 {
		cursor = tea.NewCursor(min(cursorX, m.width-1), cursorY)
	}
	return lines, cursor
}

// body appends exactly l.body lines to dst, none wider than the screen: the transcript
// (or the help) and the panel. Transcript lines are wrapped to l.textW when they
// are rendered, so only the help needs cutting here.
func (m *Model) body(l layout, dst []string) []string {
	if l.body == 0 {
		return dst
	}
	var left, right []string
	if m.help {
		left = m.helpLines()
		for i, line := range left {
			left[i] = fit(line, l.textW)
		}
	} else {
		left = m.tr.window(l.textW, l.body)
	}
	if l.panelW > 0 {
		right = m.panel(l.panelW, l.body)
	}

	for i := range l.body {
		var s string
		if i < len(left) {
			s = left[i]
		}
		if l.panelW > 0 {
			var r string
			if i < len(right) {
				r = right[i]
			}
			s = sharedRow(rowKey{s, r, l.textW})
		}
		dst = append(dst, s)
	}
	return dst
}

// besides is the line left padded (or cut) to width cells, then the rule and
// right: a row of the body with the panel open, made in one allocation.
func besides(k rowKey) string {
	left, width, rule, right := k.left, k.width, panelRule, k.right
	w := cellWidth(left)
	if w > width {
		left = ansi.Truncate(left, width, "…")
		w = cellWidth(left)
	}
	fill := max(0, width-w)
	var b strings.Builder
	b.Grow(len(left) + fill + len(rule) + len(right))
	b.WriteString(left)
	b.WriteString(spaces(fill))
	b.WriteString(rule)
	b.WriteString(right)
	return b.String()
}

// panelRule is the line between the transcript and the panel.
var panelRule = paintDim.Render("│")

// viewCache keeps the parts of the screen that change only with the kernel's
// status, so that a keystroke or a line of output does not redo them. Every
// session of a busy kernel draws a frame per update, so this is paid per
// session per update.
type viewCache struct {
	panelKey panelKey
	panel    []string

	headerKey headerKey
	header    []string

	hintKey hintKey
	hint    string
	hintSet bool
}

type panelKey struct{ status, width, height int }

type headerKey struct {
	status, width         int
	stopped, interrupting bool
	interrupted           string
}

// panel returns the side panel's lines for the current status.
func (m *Model) panel(width, height int) []string {
	k := panelKey{m.statusVer, width, height}
	if m.cache.panel == nil || m.cache.panelKey != k {
		m.cache.panel = sharedLines(&m.status, "panel", width, height, func() []string {
			lines := panelLines(m.status, width, height)
			for i, line := range lines {
				lines[i] = fit(line, width)
			}
			return lines
		})
		m.cache.panelKey = k
	}
	return m.cache.panel
}

// headerLines returns the two header lines for the current status.
func (m *Model) headerLines() []string {
	k := headerKey{status: m.statusVer, width: m.width, stopped: m.stopped,
		interrupting: m.interrupting, interrupted: m.interrupted}
	if m.cache.header == nil || m.cache.headerKey != k {
		m.cache.header, m.cache.headerKey = m.sharedHeader(), k
	}
	return m.cache.header
}

// sharedHeader draws the header, or takes it from a session that drew the same:
// it shows the status, the marks of this session and its equity history, which
// sessions that saw the same statuses share.
func (m *Model) sharedHeader() []string {
	if m.status.Version == 0 {
		return m.header(m.width)
	}
	h := fnv.New64a()
	var b [8]byte
	for _, v := range m.equity {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	k := sharedHeaderKey{version: m.status.Version, width: m.width, readOnly: m.readOnly(),
		stopped: m.stopped, interrupting: m.interrupting, interrupted: m.interrupted,
		equity: h.Sum64(), points: len(m.equity)}
	return headers.Get(k, func(sharedHeaderKey) []string { return m.header(m.width) })
}

// hintKey is everything the hint line shows.
type hintKey struct {
	scrolled                      bool
	unseen, completions           int
	flash                         string
	stopped, readOnly, block, own bool
}

// cachedHint is hintLine, kept while what it shows stays the same.
func (m *Model) cachedHint() string {
	k := hintKey{scrolled: m.tr.offset > 0, unseen: m.tr.unseen, flash: m.flash,
		stopped: m.stopped, readOnly: m.readOnly(), block: len(m.block) > 0, own: m.owner}
	if m.comp != nil {
		k.completions = len(m.comp.cands) + 1
	}
	if !m.cache.hintSet || m.cache.hintKey != k {
		m.cache.hint, m.cache.hintKey, m.cache.hintSet = m.hintLine(), k, true
	}
	return m.cache.hint
}

// hintLine is the line between the transcript and the input: completions, a
// message, or the keys to remember.
func (m *Model) hintLine() string {
	var parts []string
	if m.tr.offset > 0 {
		s := "scrolled up · PgDn to follow"
		if m.tr.unseen > 0 {
			s = fmt.Sprintf("↓ %d new %s · PgDn to follow",
				m.tr.unseen, plural(uint64(m.tr.unseen), "line", "lines"))
		}
		parts = append(parts, paintWarn.Render(s))
	}
	switch {
	case m.comp != nil:
		parts = append(parts, paintDim.Render(fmt.Sprintf(
			"%d completions · Tab / Shift+Tab choose · keep typing to narrow",
			len(m.comp.cands))))
	case m.flash != "":
		parts = append(parts, paintWarn.Render(m.flash))
	case m.stopped:
		parts = append(parts, paintStopped.Render("kernel stopped · Ctrl+D to leave"))
	case m.readOnly():
		parts = append(parts, paintWarn.Render(readOnlyHint))
	case len(m.block) > 0:
		parts = append(parts, paintDim.Render("a blank line runs the block · Ctrl+C drops it"))
	default:
		leave := "Ctrl+D detach"
		if m.owner {
			leave = "Ctrl+D quit"
		}
		parts = append(parts, paintDim.Render(
			"? help · "+leave+" · F2 panel · PgUp/PgDn scroll"))
	}
	return strings.Join(parts, paintDim.Render(" · "))
}

// inputLines renders the last n lines of the input area: the block typed so far,
// then the edited line. It returns the cursor's column on the last line.
func (m *Model) inputLines(n int) ([]string, int) {
	if n <= 0 {
		return nil, 0
	}
	prompt := func(i int) string {
		if i == 0 {
			return ">>> "
		}
		return "... "
	}
	lines := make([]string, 0, len(m.block)+1)
	for i, b := range m.block {
		lines = append(lines, paintPrompt.Render(prompt(i))+b)
	}

	p := prompt(len(m.block))
	var last string
	cursorX := 0
	if m.canType() {
		text, x := m.ed.render(m.width - len(p))
		last, cursorX = paintPrompt.Render(p)+text, len(p)+x
	} else {
		last = paintDim.Render(p)
	}
	lines = append(lines, last)
	return lines[max(0, len(lines)-n):], cursorX
}

// helpKeys are the keys the help lists; leaveKey is filled in by helpLines.
var helpKeys = [][2]string{
	{"Enter", "run the line; a block (def, if, for…) runs after a blank line"},
	{"Up / Down", "walk your input history on this kernel (kept across sessions)"},
	{"Tab", "complete names and ctx. members; Tab again steps through"},
	{"Ctrl+C", "interrupt the running input, or clear the line"},
	{"Ctrl+D", ""},
	{"PgUp / PgDn", "scroll the transcript (also the mouse wheel, Shift+Up/Down)"},
	{"Ctrl+L", "clear the view; the transcript stays (scroll up to see it)"},
	{"F2 / Ctrl+P", "show or hide positions, orders and quotes"},
	{"← → Home End", "move in the line (also Ctrl+A, Ctrl+E, Alt+B, Alt+F)"},
	{"Ctrl+U / K / W", "delete to the start, to the end, the word before"},
	{"? / F1", "show or hide this help (? on an empty line; Esc closes it)"},
}

// helpLines is the help overlay drawn over the transcript.
func (m *Model) helpLines() []string {
	lines := []string{styleHeading.Render("Keys"), ""}
	for _, k := range helpKeys {
		what := k[1]
		if k[0] == "Ctrl+D" {
			what = "on an empty line: detach (the kernel keeps running)"
			if m.owner {
				what = "on an empty line: quit, which stops the kernel"
			}
		}
		lines = append(lines, "  "+stylePrompt.Render(fmt.Sprintf("%-15s", k[0]))+" "+what)
	}
	lines = append(lines, "",
		styleDim.Render("  Pasting a block runs it as one input. Shift+drag selects text."))
	if m.readOnly() {
		lines = append(lines, styleWarn.Render("  You are a viewer: "+readOnlyHint+"."))
	}
	if m.owner {
		lines = append(lines, styleDim.Render(
			"  This terminal runs the kernel: quitting stops it for everyone."))
	} else {
		lines = append(lines, styleDim.Render(
			"  Only `kernel stop` stops a kernel; leaving never does."))
	}
	return lines
}
