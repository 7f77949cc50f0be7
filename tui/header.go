package tui

import (
	"fmt"
	"math"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
)

// sparkLen is how many equity values the header's sparkline keeps.
const sparkLen = 40

var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values as block characters, scaled between their minimum and
// maximum; a flat series sits on the baseline.
func sparkline(values []float64) string {
	if len(values) == 0 {
		return ""
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	var b strings.Builder
	for _, v := range values {
		i := 0
		if hi > lo {
			i = int((v - lo) / (hi - lo) * float64(len(sparkBlocks)-1))
		}
		b.WriteRune(sparkBlocks[i])
	}
	return b.String()
}

// header renders the two header lines: a title bar with the kernel's name,
// strategy, state, market time and activity, then the account and who is attached.
func (m *Model) header(width int) []string {
	st := m.status
	var parts []string
	switch {
	case st.Name != "":
		parts = append(parts, sanitize(st.Name))
		if st.Strategy != "" {
			parts = append(parts, sanitize(st.Strategy))
		}
		parts = append(parts, string(m.state()))
	case m.stopped:
		parts = append(parts, string(kernel.StateStopped))
	default:
		parts = append(parts, "connecting…")
	}
	if t := st.Account.MarketTime; !t.IsZero() {
		parts = append(parts, t.UTC().Format("2006-01-02 15:04:05")+" UTC")
	}
	if st.Busy && !m.stopped {
		busy := "busy"
		if st.Queued > 0 {
			busy += fmt.Sprintf(", %d queued", st.Queued)
		}
		parts = append(parts, busy)
	}
	title := " " + strings.Join(parts, " · ") + " "
	var bar string
	if m.readOnly() {
		ro := " read-only "
		bar = styleTitle.Render(fit(title, max(0, width-len(ro)))) + styleTitleRO.Render(ro)
	} else {
		bar = styleTitle.Render(fit(title, width))
	}
	if fill := width - ansi.StringWidth(bar); fill > 0 {
		bar += styleTitle.Render(strings.Repeat(" ", fill))
	}

	return []string{fit(bar, width), fit(m.accountLine(), width)}
}

// accountLine is the second header line: equity, PnL, sparkline, attached people.
func (m *Model) accountLine() string {
	if m.status.Name == "" {
		return styleDim.Render(" waiting for the kernel's status…")
	}
	acct := m.status.Account
	var b strings.Builder
	b.WriteString(" equity ")
	b.WriteString(fmtMoney(acct.Equity))
	b.WriteString("  pnl ")
	pnl := fmtSigned(acct.PnL)
	if base := acct.Equity - acct.PnL; base > 0 {
		pnl += fmt.Sprintf(" (%+.2f%%)", acct.PnL/base*100)
	}
	b.WriteString(pnlStyle(acct.PnL).Render(pnl))
	if len(m.equity) > 1 {
		b.WriteString("  ")
		b.WriteString(pnlStyle(m.equity[len(m.equity)-1] - m.equity[0]).
			Render(sparkline(m.equity)))
	}

	names := m.attachedNames()
	if len(names) > 0 {
		b.WriteString(styleDim.Render("  · attached: "))
		b.WriteString(strings.Join(names, ", "))
	}
	return b.String()
}

// attachedNames lists the people attached, once each, with a count for someone
// attached more than once and a mark for viewers.
func (m *Model) attachedNames() []string {
	count := map[string]int{}
	viewer := map[string]bool{}
	var order []string
	for _, a := range m.status.Attached {
		name := sanitize(a.Name)
		if count[name] == 0 {
			order = append(order, name)
		}
		count[name]++
		viewer[name] = a.Role == "viewer"
	}
	out := make([]string, 0, len(order))
	for _, name := range order {
		s := name
		if count[name] > 1 {
			s += fmt.Sprintf("×%d", count[name])
		}
		if viewer[name] {
			s += styleDim.Render(" (viewer)")
		}
		out = append(out, s)
	}
	return out
}

// state is the kernel's state as this session knows it.
func (m *Model) state() kernel.State {
	if m.stopped {
		return kernel.StateStopped
	}
	return m.status.State
}
