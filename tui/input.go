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
	if key != "tab" {
		m.cands = nil
	}
	empty := m.ed.empty() && len(m.block) == 0

	switch key {
	case "ctrl+c":
		return m.ctrlC()
	case "ctrl+d":
		if empty {
			return m.detach()
		}
		if m.canType() {
			m.ed.deleteForward()
		}
		return nil
	case "pgup", "pgdown":
		l := m.layout()
		step := max(1, l.body-1)
		if key == "pgdown" {
			step = -step
		}
		m.tr.scroll(step, l.textW, l.body)
		return nil
	case "f2", "ctrl+p":
		m.panel = !m.panel
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

// ctrlC interrupts the running input; with nothing running it clears what is typed,
// and on an empty line it only says how to leave. It never quits.
func (m *Model) ctrlC() tea.Cmd {
	if m.status.Busy && !m.stopped {
		if m.readOnly() {
			m.flash = readOnlyHint
			return nil
		}
		m.flash = "interrupt sent"
		return m.link.interrupt()
	}
	if !m.ed.empty() || len(m.block) > 0 {
		m.ed.set("")
		m.block = nil
		m.hist.reset()
		return nil
	}
	m.flash = "Ctrl+D on an empty line detaches (the kernel keeps running)"
	return nil
}

// edit handles the keys of the input line.
func (m *Model) edit(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		return m.enter()
	case "tab":
		return m.tab()
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
		m.ed.backspace()
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
		return nil
	}
	m.block = nil
	if code == "" {
		return nil
	}

	m.hist.add(code)
	m.echo = append(m.echo, code)
	m.tr.follow()
	return m.queueExec(code)
}

// tab indents at the start of a line and completes anywhere else.
func (m *Model) tab() tea.Cmd {
	before := m.ed.beforeCursor()
	if strings.TrimSpace(before) == "" {
		m.ed.insert(indent)
		return nil
	}
	m.completeID++
	return m.link.complete(m.completeID, before)
}

// onComplete applies completions: one replaces the text before the cursor; several
// extend it by their longest common prefix and are listed under the input.
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
		if p := commonPrefix(cands); len(p) > len(msg.text) && strings.HasPrefix(p, msg.text) {
			m.ed.setSplit(p, after)
		}
		m.cands = candidateLabels(msg.text, cands)
	}
}

// onPaste types pasted text; each line break acts as Enter.
func (m *Model) onPaste(text string) tea.Cmd {
	if !m.canType() {
		return nil
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	lines := strings.Split(text, "\n")
	var cmds []tea.Cmd
	for i, line := range lines {
		m.ed.insert(cleanLine(line))
		if i < len(lines)-1 {
			cmds = append(cmds, m.enter())
		}
	}
	return tea.Batch(cmds...)
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
