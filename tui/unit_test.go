package tui

import (
	"charm.land/lipgloss/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

func TestNextBlock(t *testing.T) {
	tests := []struct {
		block []string
		line  string
		send  string
		more  bool
	}{
		{nil, "x = 1", "x = 1", false},
		{nil, "   ", "", false},
		{nil, "def f():", "", true},
		{nil, "if x:  # a comment", "", true},
		{nil, "@decorator", "", true},
		{[]string{"def f():"}, "    return 1", "", true},
		{[]string{"def f():", "    return 1"}, "", "def f():\n    return 1", false},
		{[]string{"def f():", "    return 1"}, "  ", "def f():\n    return 1", false},
		{nil, "x = [1,", "", true},
		{[]string{"x = [1,"}, "", "", true},
		{[]string{"x = [1,", ""}, "2]", "x = [1,\n\n2]", false},
		{nil, "d = {'a': 1}", "d = {'a': 1}", false},
		{nil, "print('a:')", "print('a:')", false},
		{nil, "print(':')  # ends in:", "print(':')  # ends in:", false},
		{nil, "s = '('", "s = '('", false},
		{nil, "s = \"\\\"(\"", "s = \"\\\"(\"", false},
		{nil, "s = \"\"\"doc", "", true},
		{[]string{"s = \"\"\"doc"}, "more) \"\"\"", "s = \"\"\"doc\nmore) \"\"\"", false},
		{nil, "x = 1 + \\", "", true},
		{[]string{"x = 1 + \\"}, "2", "x = 1 + \\\n2", false},
		{nil, "f(x[1:", "", true},
		{nil, "for k, v in {1: 2}.items():", "", true},
		{nil, "x = d[1:]", "x = d[1:]", false},
	}
	for _, tt := range tests {
		send, more := nextBlock(tt.block, tt.line)
		if send != tt.send || more != tt.more {
			t.Errorf("nextBlock(%q, %q) = %q, %v; want %q, %v",
				tt.block, tt.line, send, more, tt.send, tt.more)
		}
	}
}

func TestEditor(t *testing.T) {
	var e editor
	e.insert("hello world")
	e.wordLeft()
	e.insert("big ")
	if got := e.String(); got != "hello big world" {
		t.Fatalf("insert = %q", got)
	}
	e.killWord()
	if got := e.String(); got != "hello world" || e.pos != 6 {
		t.Fatalf("killWord = %q at %d", got, e.pos)
	}
	e.killToEnd()
	e.backspace()
	e.home()
	e.deleteForward()
	e.end()
	e.left()
	e.right()
	e.insert("ö")
	if got := e.String(); got != "elloö" {
		t.Fatalf("editing = %q", got)
	}
	e.left()
	e.killToStart()
	if got := e.String(); got != "ö" || e.pos != 0 {
		t.Fatalf("killToStart = %q at %d", got, e.pos)
	}
	e.wordRight()
	if e.pos != 1 {
		t.Fatalf("wordRight at %d", e.pos)
	}
}

func TestEditorRenderKeepsCursorVisible(t *testing.T) {
	var e editor
	e.set(strings.Repeat("ab文", 20))
	for _, pos := range []int{0, 10, 30, 60} {
		e.pos = pos
		for _, w := range []int{1, 5, 12, 80} {
			text, x := e.render(w)
			if tw := ansi.StringWidth(text); tw > w {
				t.Errorf("pos %d width %d: text %d wide", pos, w, tw)
			}
			if x < 0 || x > w-1 {
				t.Errorf("pos %d width %d: cursor at %d", pos, w, x)
			}
		}
	}
}

func TestSparkline(t *testing.T) {
	if got := sparkline([]float64{1, 2, 3, 4, 5, 6, 7, 8}); got != "▁▂▃▄▅▆▇█" {
		t.Errorf("sparkline = %q", got)
	}
	if got := sparkline([]float64{5, 5, 5}); got != "▁▁▁" {
		t.Errorf("flat sparkline = %q", got)
	}
	if got := sparkline(nil); got != "" {
		t.Errorf("empty sparkline = %q", got)
	}
}

func TestFormatting(t *testing.T) {
	money := map[float64]string{0: "0.00", 1234.5: "1,234.50", -1234567.891: "-1,234,567.89",
		999.999: "1,000.00", -0.001: "0.00", 12: "12.00"}
	for v, want := range money {
		if got := fmtMoney(v); got != want {
			t.Errorf("fmtMoney(%v) = %q, want %q", v, got, want)
		}
	}
	if got := fmtSigned(2.5); got != "+2.50" {
		t.Errorf("fmtSigned = %q", got)
	}
	nums := map[float64]string{0.5: "0.5", 42000: "42000", 2001.25: "2001.25",
		0.1234567: "0.123457", -0.0000001: "0"}
	for v, want := range nums {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestCompletionHelpers(t *testing.T) {
	if got := commonPrefix([]string{"ctx.get_a", "ctx.get_b", "ctx.gx"}); got != "ctx.g" {
		t.Errorf("commonPrefix = %q", got)
	}
	if got := commonPrefix([]string{"é", "è"}); !utf8.ValidString(got) {
		t.Errorf("commonPrefix split a rune: %q", got)
	}
	got := candidateLabels("x = ctx.ge", []string{"x = ctx.get_position", "x = ctx.get_orders"})
	if strings.Join(got, " ") != "ctx.get_position ctx.get_orders" {
		t.Errorf("candidateLabels = %q", got)
	}
}

func TestSanitize(t *testing.T) {
	got := sanitize("a\x1b[31mred\x1b[0m\tb\r\nc\x07\x1b]0;title\x07")
	if got != "ared    b\nc" {
		t.Errorf("sanitize = %q", got)
	}
}

// TestCellWidthAgreesWithAnsi checks the quick width against the full one on the
// kinds of text a view holds.
func TestCellWidthAgreesWithAnsi(t *testing.T) {
	for _, s := range []string{
		"", "plain", "\x1b[1;32mgreen\x1b[m text", "a │ b", "日本語 wide", "e\u0301 accent",
		"▁▂▃█ spark", "\x1b]8;;http://x\x07link\x1b]8;;\x07", "tab\there", "\x1b[38;2;1;2;3m·\x1b[m",
		"👍🏽 emoji", "mixed \x1b[2m…\x1b[m end", "\x1bc reset", "unterminated \x1b[",
	} {
		if got, want := cellWidth(s), ansi.StringWidth(s); got != want {
			t.Errorf("cellWidth(%q) = %d, ansi.StringWidth = %d", s, got, want)
		}
	}
}

// TestPaintMatchesLipgloss checks that every paint draws a line as its style does.
func TestPaintMatchesLipgloss(t *testing.T) {
	styles := map[string][2]any{
		"title": {paintTitle, styleTitle}, "dim": {paintDim, styleDim},
		"warn": {paintWarn, styleWarn}, "stopped": {paintStopped, styleStopped},
		"prompt": {paintPrompt, stylePrompt}, "gain": {paintGain, styleGain},
		"loss": {paintLoss, styleLoss}, "plain": {paintPlain, pnlStyle(0)},
	}
	for state := range statePaints {
		styles["state "+state] = [2]any{statePaint(state), stateStyle(state)}
	}
	for name, pair := range styles {
		p, s := pair[0].(paint), pair[1].(lipgloss.Style)
		for _, text := range []string{" plain · kernel ", "x", "  two  spaces ", "日本 │ ▁█",
			"\x1b[1minner\x1b[m"} {
			if got, want := p.Render(text), s.Render(text); got != want {
				t.Errorf("%s: paint draws %q, lipgloss %q", name, got, want)
			}
		}
	}
}
