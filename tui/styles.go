package tui

import (
	"hash/fnv"
	"image/color"
	"math"
	"strconv"
	"strings"
	"unicode"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/strategy"
	"github.com/stratd/stratd/tui/screen"
)

// Colours use the 16 basic ANSI colours so they read on light and dark terminals
// alike; Bubble Tea downsamples them further when the terminal has fewer.
var (
	colorRed     = lipgloss.Color("1")
	colorGreen   = lipgloss.Color("2")
	colorYellow  = lipgloss.Color("3")
	colorBlue    = lipgloss.Color("4")
	colorMagenta = lipgloss.Color("5")
	colorCyan    = lipgloss.Color("6")
)

var (
	styleTitle    = lipgloss.NewStyle().Reverse(true).Bold(true)
	styleTitleRO  = lipgloss.NewStyle().Reverse(true).Bold(true).Foreground(colorYellow)
	styleDim      = lipgloss.NewStyle().Faint(true)
	styleSystem   = lipgloss.NewStyle().Faint(true).Italic(true)
	styleError    = lipgloss.NewStyle().Foreground(colorRed)
	styleStopped  = lipgloss.NewStyle().Foreground(colorRed).Bold(true)
	styleWarn     = lipgloss.NewStyle().Foreground(colorYellow)
	styleOrder    = lipgloss.NewStyle().Foreground(colorYellow).Bold(true)
	styleFill     = lipgloss.NewStyle().Foreground(colorCyan).Bold(true)
	styleGain     = lipgloss.NewStyle().Foreground(colorGreen)
	styleLoss     = lipgloss.NewStyle().Foreground(colorRed)
	stylePrompt   = lipgloss.NewStyle().Foreground(colorBlue).Bold(true)
	styleHeading  = lipgloss.NewStyle().Bold(true).Underline(true)
	styleSelected = lipgloss.NewStyle().Reverse(true)

	// Sides of orders, fills and positions: buying and long green, selling and
	// short red, as on trading screens.
	styleBuy  = lipgloss.NewStyle().Foreground(colorGreen)
	styleSell = lipgloss.NewStyle().Foreground(colorRed)

	styleCompletion = lipgloss.NewStyle().Foreground(colorCyan)
)

// paint is a style as the escape sequences around its text. lipgloss renders a
// style by looking at every property a style can have, about a microsecond a
// call; the header, the hint and the input line are drawn for every frame of
// every session, and their styles only colour and weigh single lines, so these
// are rendered once into paints and applied by joining strings. A paint gives
// what lipgloss gives for one line without tabs, for a style without underline,
// borders, padding or width (TestPaintMatchesLipgloss).
type paint struct{ open, close string }

func paintOf(s lipgloss.Style) paint {
	r := s.Render("x")
	i := strings.IndexByte(r, 'x')
	return paint{open: r[:i], close: r[i+1:]}
}

// Render styles one line of text.
func (p paint) Render(text string) string {
	if text == "" {
		return ""
	}
	return p.open + text + p.close
}

var (
	paintTitle   = paintOf(styleTitle)
	paintDim     = paintOf(styleDim)
	paintWarn    = paintOf(styleWarn)
	paintStopped = paintOf(styleStopped)
	paintPrompt  = paintOf(stylePrompt)
	paintGain    = paintOf(styleGain)
	paintLoss    = paintOf(styleLoss)
	paintPlain   = paint{}

	statePaints = map[string]paint{}
)

func init() {
	for _, st := range []string{"running", "paused", "starting", "read-only", "stopped",
		"interrupted", ""} {
		statePaints[st] = paintOf(stateStyle(st))
	}
}

// statePaint is stateStyle as a paint.
func statePaint(state string) paint {
	if p, ok := statePaints[state]; ok {
		return p
	}
	return statePaints[""]
}

// pnlPaint is pnlStyle as a paint.
func pnlPaint(v float64) paint {
	switch {
	case v > 0:
		return paintGain
	case v < 0:
		return paintLoss
	}
	return paintPlain
}

// stateStyle is the header badge of a kernel state: green while it runs, yellow
// when paused or busy elsewhere, red when stopped or interrupted. The badge is
// reversed like the title bar, so the colour shows as its background.
func stateStyle(state string) lipgloss.Style {
	base := styleTitle
	switch state {
	case "running":
		return base.Foreground(colorGreen)
	case "paused", "starting", "read-only":
		return base.Foreground(colorYellow)
	case "stopped", "interrupted":
		return base.Foreground(colorRed)
	}
	return base
}

// originColors colour people's names so a shared transcript reads like a chat.
// Green and red are left for buying and selling, yellow for warnings; the two
// 256-colour entries fall back to the nearest basic colour on older terminals.
var originColors = []color.Color{
	colorBlue, colorMagenta, colorCyan,
	lipgloss.Color("12"), lipgloss.Color("13"), lipgloss.Color("14"),
	lipgloss.Color("208"), lipgloss.Color("141"),
}

// styleStrategy marks what the strategy itself did, apart from every person.
var styleStrategy = lipgloss.NewStyle().Bold(true).Italic(true)

// originStyle returns the style for a person's name; the same name always gets the
// same colour, in every session.
func originStyle(name string) lipgloss.Style {
	if name == strategy.OriginStrategy || name == kernel.OriginSystem {
		return styleStrategy
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	c := originColors[h.Sum32()%uint32(len(originColors))]
	return lipgloss.NewStyle().Foreground(c).Bold(true)
}

// pnlStyle colours a profit green and a loss red.
func pnlStyle(v float64) lipgloss.Style {
	switch {
	case v > 0:
		return styleGain
	case v < 0:
		return styleLoss
	}
	return lipgloss.NewStyle()
}

// sanitize makes kernel text safe to draw: anyone attached can print, so escape
// sequences and control characters are removed rather than sent to every terminal.
// Tabs become four spaces and line ends are normalised to "\n".
func sanitize(s string) string {
	if !needsSanitizing(s) {
		return s
	}
	s = ansi.Strip(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\t", "    ")
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

func needsSanitizing(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// fit cuts a styled line to at most width cells.
func fit(line string, width int) string {
	if width <= 0 {
		return ""
	}
	if cellWidth(line) <= width {
		return line
	}
	return ansi.Truncate(line, width, "…")
}

// cellWidth is how many columns a styled line takes (screen.Width: quick on
// ASCII, which every line of every frame mostly is).
func cellWidth(s string) int { return screen.Width(s) }

// pad cuts or fills a styled line to exactly width cells.
func pad(line string, width int) string {
	if width <= 0 {
		return ""
	}
	w := cellWidth(line)
	if w > width {
		line = ansi.Truncate(line, width, "…")
		w = cellWidth(line)
	}
	if n := width - w; n > 0 {
		line += spaces(n)
	}
	return line
}

// blanks is a run of spaces that pad slices instead of allocating.
var blanks = strings.Repeat(" ", 256)

func spaces(n int) string {
	if n <= len(blanks) {
		return blanks[:n]
	}
	return strings.Repeat(" ", n)
}

// fmtMoney formats an amount with thousands separators and two decimals.
func fmtMoney(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if sign == "-" && strings.Trim(whole+frac, "0") == "" {
		sign = "" // no "-0.00"
	}
	return sign + b.String() + "." + frac
}

// fmtSigned is fmtMoney with an explicit "+" on gains.
func fmtSigned(v float64) string {
	s := fmtMoney(v)
	if !strings.HasPrefix(s, "-") && s != "0.00" {
		s = "+" + s
	}
	return s
}

// fmtPrice formats a price: two decimals from 1 up, six significant digits below.
func fmtPrice(v float64) string {
	if math.Abs(v) >= 1 || v == 0 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// fmtNum formats a price or quantity compactly: two decimals from 1 up, six below,
// without trailing zeros.
func fmtNum(v float64) string {
	decimals := 2
	if v > -1 && v < 1 {
		decimals = 6
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
