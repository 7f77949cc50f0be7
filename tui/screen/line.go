package screen

import (
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// A line of a frame is a string of printable text and escape sequences, as a
// Bubble Tea view holds it. To redraw only the changed part of a line, the screen
// needs to know, at a byte offset, which cell column that offset starts and
// whether the terminal's text attributes are at their defaults there ("plain"):
// only at a plain offset can the screen start writing without repeating the
// styles that came before it, and only there can it stop writing and leave the
// rest of the line as the terminal shows it.

// cut is a plain offset in a line and the column it starts.
type cut struct {
	off, col int
}

// walk calls visit for every offset of s between two characters or escape
// sequences, in order, with its column and whether it is plain, and finally for
// len(s). It stops early when visit returns false. Text outside printable ASCII
// and escape sequences is measured a run at a time with ansi.StringWidth, and no
// offset inside such a run is visited.
func walk(s string, visit func(off, col int, plain bool) bool) {
	col, plain := 0, true
	for i := 0; i < len(s); {
		if !visit(i, col, plain) {
			return
		}
		b := s[i]
		switch {
		case b == ansi.ESC:
			n, sgr, reset := escapeLen(s[i:])
			if sgr {
				plain = reset
			} else if n > 1 && s[i+1] == ']' {
				plain = false // an OSC (a hyperlink) may stay open
			}
			i += n
		case b < utf8.RuneSelf:
			if b >= 0x20 && b != 0x7f {
				col++
			}
			i++
		default:
			j := i + 1
			for j < len(s) && s[j] >= utf8.RuneSelf {
				j++
			}
			col += ansi.StringWidth(s[i:j])
			i = j
		}
	}
	visit(len(s), col, plain)
}

// escapeLen returns the length of the escape sequence at the start of s, whether
// it is an SGR (CSI … m), and if so whether it resets every attribute. An
// unfinished sequence runs to the end of s.
func escapeLen(s string) (n int, sgr, reset bool) {
	if len(s) < 2 {
		return len(s), false, false
	}
	switch s[1] {
	case '[': // CSI: parameters and intermediates, then a final byte @–~
		for j := 2; j < len(s); j++ {
			if c := s[j]; c >= 0x40 && c <= 0x7e {
				if c == 'm' {
					params := s[2:j]
					return j + 1, true, params == "" || params == "0"
				}
				return j + 1, false, false
			}
		}
		return len(s), false, false
	case ']', 'P', '_', '^', 'X': // strings, ended by BEL or ST
		for j := 2; j < len(s); j++ {
			switch {
			case s[j] == 0x07:
				return j + 1, false, false
			case s[j] == ansi.ESC && j+1 < len(s) && s[j+1] == '\\':
				return j + 2, false, false
			}
		}
		return len(s), false, false
	}
	return 2, false, false
}

// Width returns how many columns s takes on a terminal, as ansi.StringWidth
// does, but quicker on the text views are made of: printable ASCII counts a
// column a byte and escape sequences none, and only runs of other characters go
// through grapheme segmentation. Every changed line of every frame is measured.
func Width(s string) int {
	cols := 0
	for i := 0; i < len(s); {
		switch b := s[i]; {
		case b == ansi.ESC:
			n, _, _ := escapeLen(s[i:])
			i += n
		case b < utf8.RuneSelf:
			if b >= 0x20 && b != 0x7f {
				cols++
			}
			i++
		default:
			j := i + 1
			for j < len(s) && s[j] >= utf8.RuneSelf {
				j++
			}
			cols += ansi.StringWidth(s[i:j])
			i = j
		}
	}
	return cols
}

// truncate cuts s to at most max columns, ending it plain.
func truncate(s string, max int) string {
	end := len(s)
	walk(s, func(off, col int, _ bool) bool {
		if col > max {
			return false
		}
		end = off
		return true
	})
	if end == len(s) {
		return s
	}
	// The last character that fits ends at end; whatever came after it is gone.
	return s[:end] + resetStyle
}

// commonPrefix returns the length of the bytes a and b start with alike.
func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// commonSuffix returns the length of the bytes a and b end with alike, at most
// limit.
func commonSuffix(a, b string, limit int) int {
	n := min(len(a), len(b), limit)
	for i := 1; i <= n; i++ {
		if a[len(a)-i] != b[len(b)-i] {
			return i - 1
		}
	}
	return n
}

// span is the part of a changed line to write: the bytes new[from:to], starting at
// column col. keep says the text after to is on the terminal already; otherwise
// the rest of the row must be erased when the line is narrower than the screen.
type span struct {
	from, to, col int
	keep          bool
}

// changed works out the least of line new to write over line old on the same row,
// and how many columns new takes. It skips the bytes both start with and the
// bytes both end with, each only as far as a plain offset that starts the same
// column in both, so what stays on the terminal is exactly what new would draw.
func changed(old, new string, plainCuts *[]cut) (span, int) {
	p := commonPrefix(old, new)
	q := commonSuffix(old, new, min(len(old), len(new))-p)
	startNew, startOld := len(new)-q, len(old)-q

	sp := span{to: len(new)}
	cols := 0
	cuts := (*plainCuts)[:0]
	walk(new, func(off, col int, plain bool) bool {
		cols = col
		if plain && off <= p {
			// old has the same bytes up to here: the same column and attributes.
			sp.from, sp.col = off, col
		}
		if plain && q > 0 && off >= startNew {
			cuts = append(cuts, cut{off - startNew, col})
		}
		return true
	})
	*plainCuts = cuts
	if len(cuts) == 0 {
		return sp, cols
	}

	// The first plain offset of the shared tail that is plain in old as well and
	// starts the same column there.
	i := 0
	walk(old, func(off, col int, plain bool) bool {
		if off < startOld || !plain {
			return true
		}
		rel := off - startOld
		for i < len(cuts) && cuts[i].off < rel {
			i++
		}
		if i == len(cuts) {
			return false
		}
		if cuts[i].off == rel && cuts[i].col == col {
			sp.to = startNew + rel
			sp.keep = sp.to < len(new)
			return false
		}
		return true
	})
	return sp, cols
}
