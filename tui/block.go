package tui

import "strings"

// codeState is what scanning a block of Starlark source says about it.
type codeState struct {
	open     bool // a bracket or triple-quoted string is unclosed, or a line ends in "\"
	compound bool // some statement opens an indented suite (def, if, for, @decorator...)
}

// scanCode reads lines the way a Python-like REPL does to decide whether the input
// is complete. It understands quoted and triple-quoted strings, escapes and comments
// well enough that a ":" or bracket inside them is not mistaken for code.
func scanCode(lines []string) codeState {
	var (
		st     codeState
		depth  int
		quote  string // the open triple quote, if any
		escape bool
	)
	for i, line := range lines {
		code, cont := scanLine(line, &depth, &quote, &escape)
		if quote != "" {
			continue
		}
		trimmed := strings.TrimSpace(code)
		if depth == 0 && (strings.HasSuffix(trimmed, ":") || strings.HasPrefix(trimmed, "@")) {
			st.compound = true
		}
		if i == len(lines)-1 && cont {
			st.open = true
		}
	}
	if depth > 0 || quote != "" {
		st.open = true
	}
	return st
}

// scanLine scans one line, carrying bracket depth and an open triple quote across
// lines. It returns the line's code with strings blanked and the comment removed,
// and whether the line ends in a backslash continuation.
func scanLine(line string, depth *int, quote *string, escape *bool) (string, bool) {
	var code strings.Builder
	single := "" // an open single-line string's quote
	for i := 0; i < len(line); i++ {
		c := line[i]
		inString := *quote != "" || single != ""
		switch {
		case inString && *escape:
			*escape = false
		case inString && c == '\\':
			*escape = true
		case *quote != "":
			if strings.HasPrefix(line[i:], *quote) {
				i += len(*quote) - 1
				*quote = ""
			}
		case single != "":
			if line[i:i+1] == single {
				single = ""
			}
		case c == '#':
			return code.String(), false
		case c == '\\' && i == len(line)-1:
			return code.String(), true
		case c == '"' || c == '\'':
			triple := strings.Repeat(string(c), 3)
			if strings.HasPrefix(line[i:], triple) {
				*quote = triple
				i += 2
			} else {
				single = string(c)
			}
			code.WriteByte('_')
		case c == '(' || c == '[' || c == '{':
			*depth++
			code.WriteByte(c)
		case c == ')' || c == ']' || c == '}':
			if *depth > 0 {
				*depth--
			}
			code.WriteByte(c)
		default:
			code.WriteByte(c)
		}
	}

	// A backslash ending a line inside a one-line string continues the string onto
	// the next line; otherwise such a string cannot span lines and ends here.
	cont := single != "" && *escape
	if *quote == "" {
		*escape = false
	}
	return code.String(), cont
}

// nextBlock decides what Enter does with line, given the block lines already typed.
// It returns the code to send (empty when nothing is sent) and whether the block
// continues, in which case line joins the block.
//
// A line ending in ":" starts a block that runs after a blank line, as in Python's
// REPL. An unclosed bracket, triple quote or trailing backslash continues the input
// until it closes; a plain statement that closes runs at once.
func nextBlock(block []string, line string) (send string, more bool) {
	if len(block) == 0 && strings.TrimSpace(line) == "" {
		return "", false
	}
	lines := append(append([]string(nil), block...), line)
	st := scanCode(lines)
	switch {
	case st.open:
		return "", true
	case st.compound && strings.TrimSpace(line) != "":
		return "", true
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n"), false
}
