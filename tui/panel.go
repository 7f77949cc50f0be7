package tui

import (
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
)

// Panel sizes: the side panel takes a third of the terminal within these bounds,
// and is not drawn when the transcript would be left narrower than minTextWidth.
const (
	minPanelWidth = 30
	maxPanelWidth = 56
	minTextWidth  = 32
)

// cell is one table cell: its text and an optional style.
type cell struct {
	text  string
	style *lipgloss.Style
	right bool // right-aligned (numbers)
}

// num is a quantity: as many decimals as it has.
func num(v float64) cell { return cell{text: fmtNum(v), right: true} }

// price is a price with a fixed number of decimals, so a column of them lines up
// on the decimal point.
func price(v float64) cell { return cell{text: fmtPrice(v), right: true} }

// sideCell is a side ("buy", "sell", "long", "short") in its colour.
func sideCell(text string) cell {
	s := lipgloss.NewStyle()
	switch text {
	case "buy", "long":
		s = styleBuy
	case "sell", "short":
		s = styleSell
	}
	return cell{text: sanitize(text), style: &s}
}

// qty is a position's quantity, green when long and red when short.
func qty(v float64) cell {
	c := num(v)
	s := styleBuy
	if v < 0 {
		s = styleSell
	}
	c.style = &s
	return c
}

func signed(v float64) cell {
	s := pnlStyle(v)
	text := strconv.FormatFloat(v, 'f', 2, 64)
	if v > 0 {
		text = "+" + text
	}
	return cell{text: text, style: &s, right: true}
}

// panelLines renders positions, open orders and quotes as small tables, each line
// at most width cells; it returns at most height lines.
func panelLines(st kernel.Status, width, height int) []string {
	acct := st.Account
	var lines []string

	lines = append(lines, styleHeading.Render("Positions"))
	rows := [][]cell{{{text: "SYM"}, {text: "SIDE"}, {text: "QTY", right: true},
		{text: "AVG", right: true}, {text: "LAST", right: true}, {text: "UPNL", right: true}}}
	for _, p := range acct.Positions {
		if p.Quantity == 0 {
			continue
		}
		dir := "long"
		if p.Quantity < 0 {
			dir = "short"
		}
		rows = append(rows, []cell{{text: sanitize(p.Symbol)}, sideCell(dir), qty(p.Quantity),
			price(p.AvgPrice), price(p.LastPrice), signed(p.UnrealizedPnL)})
	}
	// Narrow panels drop the columns a person can best do without: the side is in
	// the quantity's colour and sign, the average price is in portfolio().
	room := width - 1 // the margin after the rule
	lines = append(lines, table(narrow(rows, room, 1, 3), "no positions")...)

	lines = append(lines, "", styleHeading.Render("Open orders"))
	rows = [][]cell{{{text: "ID"}, {text: "SIDE"}, {text: "SYM"}, {text: "QTY", right: true},
		{text: "PRICE", right: true}}}
	for _, o := range acct.OpenOrders {
		at := price(o.Price)
		if o.Price == 0 {
			at = cell{text: "mkt", right: true}
		}
		rows = append(rows, []cell{{text: sanitize(o.ID)}, sideCell(o.Side),
			{text: sanitize(o.Symbol)}, num(o.Quantity), at})
	}
	lines = append(lines, table(narrow(rows, room, 0), "no open orders")...)

	lines = append(lines, "", styleHeading.Render("Quotes"))
	rows = [][]cell{{{text: "SYM"}, {text: "BID", right: true}, {text: "ASK", right: true},
		{text: "LAST", right: true}}}
	for _, q := range acct.Quotes {
		rows = append(rows, []cell{{text: sanitize(q.Symbol)}, price(q.Bid), price(q.Ask),
			price(q.Last)})
	}
	lines = append(lines, table(narrow(rows, room, 1, 2), "no quotes yet")...)

	lines = append(lines, "", styleDim.Render("cash ")+fmtMoney(acct.Cash)+
		styleDim.Render("  fees ")+fmtMoney(acct.Fees))

	if len(lines) > height {
		lines = lines[:max(0, height)]
	}
	// One column of margin after the panel's rule.
	for i, l := range lines {
		lines[i] = fit(" "+l, width)
	}
	return lines
}

// narrow removes columns, in the order given, until the table fits in width.
func narrow(rows [][]cell, width int, drop ...int) [][]cell {
	for _, col := range drop {
		if tableWidth(rows) <= width {
			break
		}
		for i, row := range rows {
			rows[i] = append(row[:col:col], row[col+1:]...)
		}
		// Later indexes refer to the table before this column went.
		for j := range drop {
			if drop[j] > col {
				drop[j]--
			}
		}
	}
	return rows
}

// tableWidth is how wide table would lay rows out.
func tableWidth(rows [][]cell) int {
	if len(rows) == 0 {
		return 0
	}
	total := len(rows[0]) - 1
	for i := range rows[0] {
		w := 0
		for _, row := range rows {
			w = max(w, ansi.StringWidth(row[i].text))
		}
		total += w
	}
	return total
}

// table lays rows out in columns one space apart; the first row is the heading.
// With no data rows it shows empty instead.
func table(rows [][]cell, empty string) []string {
	if len(rows) < 2 {
		return []string{styleDim.Render(empty)}
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], ansi.StringWidth(c.text))
		}
	}
	out := make([]string, 0, len(rows))
	for r, row := range rows {
		parts := make([]string, len(row))
		for i, c := range row {
			gap := strings.Repeat(" ", widths[i]-ansi.StringWidth(c.text))
			text := c.text
			switch {
			case r == 0:
				text = styleDim.Render(text)
			case c.style != nil:
				text = c.style.Render(text)
			}
			if c.right {
				parts[i] = gap + text
			} else {
				parts[i] = text + gap
			}
		}
		out = append(out, strings.TrimRight(strings.Join(parts, " "), " "))
	}
	return out
}
