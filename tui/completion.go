package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// maxCompletionRows bounds the completion list drawn above the input.
const maxCompletionRows = 6

// completion is a list of Tab completions shown above the input. Tab and Shift+Tab
// put each candidate in the line in turn; any other key puts the list away.
type completion struct {
	base   string   // the text before the cursor when the list appeared
	after  string   // the text after the cursor, kept as it is
	cands  []string // whole-line candidates, as the kernel gave them
	labels []string // what the list shows: the word each candidate completes to
	sel    int      // the candidate in the line; -1 while base is
}

func newCompletion(base, after string, cands, labels []string) *completion {
	return &completion{base: base, after: after, cands: cands, labels: labels, sel: -1}
}

// current is the text before the cursor the list expects.
func (c *completion) current() string {
	if c.sel < 0 {
		return c.base
	}
	return c.cands[c.sel]
}

// step moves the selection forward (dir 1) or back (dir -1), wrapping around.
func (c *completion) step(dir int) {
	n := len(c.cands)
	switch {
	case c.sel < 0 && dir < 0:
		c.sel = n - 1
	case c.sel < 0:
		c.sel = 0
	default:
		c.sel = ((c.sel+dir)%n + n) % n
	}
}

// layout returns the column width and the number of columns and rows the labels
// take across width.
func (c *completion) layout(width int) (colW, cols, rows int) {
	for _, l := range c.labels {
		colW = max(colW, ansi.StringWidth(l))
	}
	colW = max(1, min(colW+2, width))
	cols = max(1, width/colW)
	return colW, cols, (len(c.labels) + cols - 1) / cols
}

// rows lays the labels out in columns across width, in at most maxRows rows; the
// selected label is highlighted. When they do not all fit, the last cell says how
// many more there are, and the rows shown are those holding the selection.
func (c *completion) rows(width, maxRows int) []string {
	if width <= 0 || maxRows <= 0 || len(c.labels) == 0 {
		return nil
	}
	colW, cols, total := c.layout(width)

	// Fill row by row, so that Tab moves along the line being read.
	first := 0
	if total > maxRows && c.sel >= 0 {
		first = min(c.sel/cols, total-maxRows)
	}
	shown := min(total, maxRows)
	out := make([]string, 0, shown)
	for r := first; r < first+shown; r++ {
		var b strings.Builder
		for col := range cols {
			i := r*cols + col
			if i >= len(c.labels) {
				break
			}
			if r == first+shown-1 && col == cols-1 && i < len(c.labels)-1 {
				more := fmt.Sprintf("… +%d more", len(c.labels)-1-i)
				b.WriteString(styleDim.Render(fit(more, colW)))
				break
			}
			label := pad(c.labels[i], colW-2)
			if i == c.sel {
				label = styleSelected.Render(label)
			} else {
				label = styleCompletion.Render(label)
			}
			b.WriteString(label + "  ")
		}
		out = append(out, strings.TrimRight(b.String(), " "))
	}
	return out
}
