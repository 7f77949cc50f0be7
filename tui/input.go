package tui

import (
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
)

// indent is what Tab inserts at the start of a line.
const indent = "    "

// onKey handles a key press: keys that work for everyone first, then editing keys
// for people who may type.
func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	key := k.String()
	m.flash = ""
	if key != "tab" && key != "shift+tab" {
		m.comp = nil
	}
	if key != "ctrl+d" {
		m.quitAsked = false
	}
	empty := m.ed.empty() && len(m.block) == 0

	switch key {
	case "ctrl+c":
		return m.ctrlC()
	case "ctrl+d":
		if empty {
			return m.leave()
		}
		if m.canType() {
			m.ed.deleteForward()
		}
		return nil
	case "pgup", "pgdown", "shift+up", "shift+down":
		l := m.layout()
		step := max(1, l.body-1)
		if strings.HasPrefix(key, "shift+") {
			step = 1
		}
		if key == "pgdown" || key == "shift+down" {
			step = -step
		}
		m.tr.scroll(step, l.textW, l.body)
		return nil
	case "ctrl+end":
		m.tr.follow()
		return nil
	case "ctrl+l":
		m.help = false
		m.tr.clearView()
		return nil
	case "f2", "ctrl+p":
		m.togglePanel()
		return nil
	case "f1":
		m.help = !m.help
		return nil
	case "esc":
		m.help = false
		return nil
	case "?":
		if empty {
			m.help = !m.help
			return nil
		}
	}

	if !m.canType() {
		return nil
	}
	return m.edit(k)
}

// leave detaches on Ctrl+D. An owner's leaving stops the kernel, so while other
// people are attached the first Ctrl+D only asks for a second one.
func (m *Model) leave() tea.Cmd {
	if m.owner && !m.stopped && !m.quitAsked {
		if others := m.othersAttached(); len(others) > 0 {
			m.quitAsked = true
			m.flash = strings.Join(others, ", ") + " attached: Ctrl+D again stops the " +
				"kernel for everyone"
			return nil
		}
	}
	return m.detach()
}

// leaveHint says what Ctrl+D on an empty line does.
func (m *Model) leaveHint() string {
	if m.owner {
		return "Ctrl+D on an empty line quits and stops the kernel"
	}
	return "Ctrl+D on an empty line detaches (the kernel keeps running)"
}

// ctrlC interrupts the running input; with nothing running it clears what is typed,
// and on an empty line it only says how to leave. It never quits.
func (m *Model) ctrlC() tea.Cmd {
	if m.status.Busy && !m.stopped {
		if m.readOnly() {
			m.flash = readOnlyHint
			return nil
		}
		m.flash = "interrupt sent"
		m.interrupting = true
		return m.link.interrupt()
	}
	if !m.ed.empty() || len(m.block) > 0 {
		m.ed.set("")
		m.block = nil
		m.hist.reset()
		return nil
	}
	m.flash = m.leaveHint()
	return nil
}

// edit handles the keys of the input line.
func (m *Model) edit(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		return m.enter()
	case "tab":
		return m.tab()
	case "shift+tab":
		m.cycle(-1)
	case "up":
		if s, ok := m.hist.prev(m.draft()); ok {
			m.load(s)
		}
	case "down":
		if s, ok := m.hist.next(); ok {
			m.load(s)
		}
	case "left", "ctrl+b":
		m.ed.left()
	case "right", "ctrl+f":
		m.ed.right()
	case "home", "ctrl+a":
		m.ed.home()
	case "end", "ctrl+e":
		m.ed.end()
	case "alt+b", "ctrl+left":
		m.ed.wordLeft()
	case "alt+f", "ctrl+right":
		m.ed.wordRight()
	case "backspace", "ctrl+h":
		m.ed.dedentOrBackspace()
	case "delete":
		m.ed.deleteForward()
	case "ctrl+u":
		m.ed.killToStart()
	case "ctrl+k":
		m.ed.killToEnd()
	case "ctrl+w", "alt+backspace":
		m.ed.killWord()
	default:
		if k.Text != "" && k.Mod&^(tea.ModShift|tea.ModCapsLock) == 0 {
			m.ed.insert(cleanLine(k.Text))
		}
	}
	return nil
}

// enter runs the line, or adds it to the block being typed.
func (m *Model) enter() tea.Cmd {
	line := m.ed.String()
	code, more := nextBlock(m.block, line)
	m.ed.set("")
	m.hist.reset()
	if more {
		m.block = append(m.block, line)
		m.ed.set(autoIndent(m.block))
		return nil
	}
	m.block = nil
	if code == "" {
		return nil
	}
	return m.run(code)
}

// run sends code typed here to the kernel and follows the transcript again.
func (m *Model) run(code string) tea.Cmd {
	m.hist.add(code)
	m.echo = append(m.echo, code)
	m.tr.follow()
	return m.queueExec(code)
}

// tab indents at the start of a line, steps through the completions listed, or
// asks the kernel for completions.
func (m *Model) tab() tea.Cmd {
	before := m.ed.beforeCursor()
	if strings.TrimSpace(before) == "" && m.comp == nil {
		m.ed.insert(indent)
		return nil
	}
	if m.cycle(1) {
		return nil
	}
	m.completeID++
	return m.link.complete(m.completeID, before)
}

// cycle puts the next (dir 1) or previous (dir -1) completion listed in the line;
// false when no list is shown for what is typed.
func (m *Model) cycle(dir int) bool {
	c := m.comp
	if c == nil || m.ed.beforeCursor() != c.current() || m.ed.afterCursor() != c.after {
		m.comp = nil
		return false
	}
	c.step(dir)
	m.ed.setSplit(c.current(), c.after)
	return true
}

// onComplete applies completions: one replaces the text before the cursor; several
// extend it by their longest common prefix and are listed above the input, where
// Tab and Shift+Tab step through them.
func (m *Model) onComplete(msg completeMsg) {
	if msg.id != m.completeID || !m.canType() || m.ed.beforeCursor() != msg.text {
		return // the line changed while the kernel was answering
	}
	cands := unique(msg.cands)
	after := m.ed.afterCursor()
	switch len(cands) {
	case 0:
		m.flash = "no completions"
	case 1:
		m.ed.setSplit(cands[0], after)
	default:
		base := msg.text
		if p := commonPrefix(cands); len(p) > len(base) && strings.HasPrefix(p, base) {
			base = p
		}
		m.ed.setSplit(base, after)
		m.comp = newCompletion(base, after, cands, candidateLabels(msg.text, cands))
	}
}

// onPaste takes pasted text. Text without a line break is typed into the line. A
// block is one input: it joins what is typed, and runs at once when it ends with
// a line break and nothing in it is left open; otherwise it waits in the input
// area, to be finished and run with Enter like a typed block.
func (m *Model) onPaste(text string) tea.Cmd {
	if !m.canType() {
		return nil
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	if !strings.Contains(text, "\n") {
		m.ed.insert(cleanLine(text))
		return nil
	}

	m.hist.reset()
	after := m.ed.afterCursor()
	lines := append(append([]string(nil), m.block...), m.ed.beforeCursor())
	for i, line := range strings.Split(text, "\n") {
		if i == 0 {
			lines[len(lines)-1] += cleanLine(line)
		} else {
			lines = append(lines, cleanLine(line))
		}
	}
	// A final line break leaves an empty last line: the paste asked to run.
	run := lines[len(lines)-1] == "" && after == "" && !scanCode(lines).open
	if !run {
		m.block = lines[:len(lines)-1]
		m.ed.setSplit(lines[len(lines)-1], after)
		return nil
	}

	m.block = nil
	m.ed.set("")
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 {
		return nil
	}
	return m.run(strings.Join(lines, "\n"))
}

// autoIndent is the indentation the next line of a block starts with, as in
// IPython: the last line's, one level deeper after a line ending in ":". Only a
// line left blank (spaces alone count as blank) ends the block.
func autoIndent(block []string) string {
	if len(block) == 0 {
		return ""
	}
	last := block[len(block)-1]
	lead := last[:len(last)-len(strings.TrimLeft(last, " "))]
	depth, quote, escape := 0, "", false
	for _, l := range block {
		_, _ = scanLine(l, &depth, &quote, &escape)
	}
	if quote != "" {
		return "" // inside a triple-quoted string, spaces are text
	}
	code, _ := scanLine(last, new(int), new(string), new(bool))
	if strings.HasSuffix(strings.TrimSpace(code), ":") {
		lead += indent
	}
	return lead
}

// cleanLine removes what cannot be part of one line of code.
func cleanLine(s string) string {
	return strings.ReplaceAll(sanitize(s), "\n", "")
}

func unique(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// commonPrefix is the longest prefix shared by every string.
func commonPrefix(ss []string) string {
	p := ss[0]
	for _, s := range ss[1:] {
		n := 0
		for n < len(p) && n < len(s) && p[n] == s[n] {
			n++
		}
		p = p[:n]
	}
	// Do not end in the middle of a UTF-8 sequence.
	for len(p) > 0 && !utf8.ValidString(p) {
		p = p[:len(p)-1]
	}
	return p
}

// candidateLabels shortens whole-line candidates for display to the word being
// completed: for "x = ctx.ge" the candidate "x = ctx.get_position" shows as
// "ctx.get_position".
func candidateLabels(text string, cands []string) []string {
	start := len(text)
	for start > 0 && isCompletionByte(text[start-1]) {
		start--
	}
	out := make([]string, len(cands))
	for i, c := range cands {
		if strings.HasPrefix(c, text[:start]) {
			c = c[start:]
		}
		out[i] = sanitize(c)
	}
	return out
}

func isCompletionByte(b byte) bool {
	return b == '_' || b == '.' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' ||
		b >= 'A' && b <= 'Z' || b >= 0x80
}
