package tui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// editor is a one-line text editor with readline-like keys. Multi-line blocks are
// kept by the Model as finished lines above the editor.
type editor struct {
	buf []rune
	pos int // cursor, in runes, 0..len(buf)
}

func (e *editor) String() string { return string(e.buf) }

func (e *editor) empty() bool { return len(e.buf) == 0 }

// beforeCursor is the text left of the cursor.
func (e *editor) beforeCursor() string { return string(e.buf[:e.pos]) }

// afterCursor is the text right of the cursor.
func (e *editor) afterCursor() string { return string(e.buf[e.pos:]) }

// set replaces the text and puts the cursor at its end.
func (e *editor) set(s string) {
	e.buf = []rune(s)
	e.pos = len(e.buf)
}

// setSplit replaces the text with before+after and puts the cursor between them.
func (e *editor) setSplit(before, after string) {
	e.set(before + after)
	e.pos = len([]rune(before))
}

func (e *editor) insert(s string) {
	r := []rune(s)
	tail := append(r, e.buf[e.pos:]...)
	e.buf = append(e.buf[:e.pos], tail...)
	e.pos += len(r)
}

func (e *editor) left() {
	if e.pos > 0 {
		e.pos--
	}
}

func (e *editor) right() {
	if e.pos < len(e.buf) {
		e.pos++
	}
}

func (e *editor) home() { e.pos = 0 }

func (e *editor) end() { e.pos = len(e.buf) }

func (e *editor) backspace() {
	if e.pos > 0 {
		e.buf = append(e.buf[:e.pos-1], e.buf[e.pos:]...)
		e.pos--
	}
}

// dedentOrBackspace deletes back to the previous indentation level when only
// spaces are before the cursor, and one character otherwise.
func (e *editor) dedentOrBackspace() {
	n := 0
	for n < e.pos && e.buf[n] == ' ' {
		n++
	}
	if n == 0 || n < e.pos {
		e.backspace()
		return
	}
	to := (n - 1) / len(indent) * len(indent)
	e.buf = append(e.buf[:to], e.buf[e.pos:]...)
	e.pos = to
}

func (e *editor) deleteForward() {
	if e.pos < len(e.buf) {
		e.buf = append(e.buf[:e.pos], e.buf[e.pos+1:]...)
	}
}

// killToStart deletes from the start of the line to the cursor (Ctrl+U).
func (e *editor) killToStart() {
	e.buf = append([]rune(nil), e.buf[e.pos:]...)
	e.pos = 0
}

// killToEnd deletes from the cursor to the end of the line (Ctrl+K).
func (e *editor) killToEnd() { e.buf = e.buf[:e.pos] }

// killWord deletes the word before the cursor and the spaces after it (Ctrl+W).
func (e *editor) killWord() {
	start := e.wordStartBefore(e.pos)
	e.buf = append(e.buf[:start], e.buf[e.pos:]...)
	e.pos = start
}

func (e *editor) wordLeft() { e.pos = e.wordStartBefore(e.pos) }

func (e *editor) wordRight() {
	i := e.pos
	for i < len(e.buf) && !isWordRune(e.buf[i]) {
		i++
	}
	for i < len(e.buf) && isWordRune(e.buf[i]) {
		i++
	}
	e.pos = i
}

func (e *editor) wordStartBefore(i int) int {
	for i > 0 && !isWordRune(e.buf[i-1]) {
		i--
	}
	for i > 0 && isWordRune(e.buf[i-1]) {
		i--
	}
	return i
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// render returns the part of the line that fits in width cells, scrolled so the
// cursor is visible, and the cursor's column within it.
func (e *editor) render(width int) (string, int) {
	if width <= 0 {
		return "", 0
	}
	widths := make([]int, len(e.buf))
	for i, r := range e.buf {
		widths[i] = ansi.StringWidth(string(r))
	}

	// Scroll just far enough that the text before the cursor, plus a cell for the
	// cursor itself, fits.
	start, before := 0, 0
	for _, w := range widths[:e.pos] {
		before += w
	}
	for before > width-1 && start < e.pos {
		before -= widths[start]
		start++
	}

	var b strings.Builder
	used := 0
	for i := start; i < len(e.buf) && used+widths[i] <= width; i++ {
		b.WriteRune(e.buf[i])
		used += widths[i]
	}
	return b.String(), before
}
