package tui

import (
	"fmt"
	"math"
	"strings"

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

// header renders the two header lines: a title bar with the kernel's name and
// strategy, a badge with its state, market time and activity, then the account and
// who is attached.
func (m *Model) header(width int) []string {
	st := m.status
	var names, after []string
	state := ""
	switch {
	case st.Name != "":
		names = append(names, sanitize(st.Name))
		if st.Strategy != "" {
			names = append(names, sanitize(st.Strategy))
		}
		state = string(m.state())
	case m.stopped:
		state = string(kernel.StateStopped)
	default:
		names = append(names, "connecting…")
	}
	if t := st.Account.MarketTime; !t.IsZero() {
		after = append(after, t.UTC().Format("2006-01-02 15:04:05")+" UTC")
	}
	if st.Account.FeedDone {
		after = append(after, "feed ended")
	} else if st.Account.HooksPaused {
		after = append(after, "hooks paused")
	}
	after = append(after, m.activity()...)

	bar := paintTitle.Render(" " + strings.Join(names, " · ") + " ")
	if state != "" {
		bar += statePaint(state).Render(" " + state + " ")
	}
	if len(after) > 0 {
		bar += paintTitle.Render(" " + strings.Join(after, " · ") + " ")
	}
	if m.interrupted != "" && !m.stopped {
		bar += statePaint("interrupted").Render(" "+m.interrupted+" ") + paintTitle.Render(" ")
	}
	// A viewer's read-only badge keeps the right end, however narrow the bar.
	ro := ""
	if m.readOnly() {
		ro = statePaint("read-only").Render(" read-only ")
	}
	room := max(0, width-cellWidth(ro))
	bar = fit(bar, room)
	if fill := room - cellWidth(bar); fill > 0 {
		bar += paintTitle.Render(spaces(fill))
	}
	return []string{fit(bar+ro, width), fit(m.accountLine(width), width)}
}

// activity describes the input running, if any: busy, queued, being interrupted.
func (m *Model) activity() []string {
	st := m.status
	if !st.Busy || m.stopped {
		return nil
	}
	busy := "busy"
	if st.Queued > 0 {
		busy += fmt.Sprintf(", %d queued", st.Queued)
	}
	if m.interrupting {
		busy += " · interrupting…"
	}
	return []string{busy}
}

// accountLine is the second header line: equity, PnL, who is attached, and the
// sparkline in the room left (at most sparkLen cells), so that a narrow terminal
// loses history before names.
func (m *Model) accountLine(width int) string {
	if m.status.Name == "" {
		return paintDim.Render(" waiting for the kernel's status…")
	}
	acct := m.status.Account
	pnl := fmtSigned(acct.PnL)
	if base := acct.Equity - acct.PnL; base > 0 {
		pnl += fmt.Sprintf(" (%+.2f%%)", acct.PnL/base*100)
	}
	left := " equity " + fmtMoney(acct.Equity) + "  pnl " + pnlPaint(acct.PnL).Render(pnl)

	right := ""
	if names := m.attachedNames(); len(names) > 0 {
		right = paintDim.Render("  · attached: ") + strings.Join(names, ", ")
	}

	room := width - cellWidth(left) - cellWidth(right) - 2
	if n := min(len(m.equity), room); n > 1 {
		values := m.equity[len(m.equity)-n:]
		left += "  " + pnlPaint(values[n-1]-values[0]).Render(sparkline(values))
	}
	return left + right
}

// attachedNames lists the people attached, once each, with a count for someone
// attached more than once and a mark for viewers.
func (m *Model) attachedNames() []string {
	return sharedLines(&m.status, "attached", 0, 0, m.listAttached)
}

func (m *Model) listAttached() []string {
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
			s += paintDim.Render(" (viewer)")
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
