package strategy

import (
	"slices"
	"strings"

	"go.starlark.net/starlark"
)

// keywords are the Starlark keywords worth completing.
var keywords = []string{
	"and", "break", "continue", "def", "elif", "else", "for", "if", "in", "lambda",
	"not", "or", "pass", "return", "while",
}

// Complete returns completions for the identifier or member being typed at the end of
// text, the current line up to the cursor. Each candidate is the whole line with the
// word completed, e.g. "x = ctx.get_p" gives "x = ctx.get_position" and
// "x = ctx.get_positions". Candidates are sorted and unique; nil means none.
func (r *Runtime) Complete(text string) []string {
	start := len(text)
	for start > 0 && isWordByte(text[start-1]) {
		start--
	}
	word := text[start:]
	if word == "" || (word[0] >= '0' && word[0] <= '9') || inString(text[:start]) {
		return nil
	}

	var names []string
	head, partial := "", word
	if dot := strings.LastIndexByte(word, '.'); dot >= 0 {
		head, partial = word[:dot+1], word[dot+1:]
		names = r.attrNames(word[:dot])
	} else if partial != "" {
		names = append(names, keywords...)
		names = append(names, r.globals.Keys()...)
		names = append(names, starlark.Universe.Keys()...)
	}

	var out []string
	for _, name := range names {
		if !strings.HasPrefix(name, partial) {
			continue
		}
		if strings.HasPrefix(name, "_") && !strings.HasPrefix(partial, "_") {
			continue
		}
		out = append(out, text[:start]+head+name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// attrNames returns the attributes of the value a dotted path like "ctx" or
// "ctx.params" names in the globals, or nil. It only reads attributes; it calls nothing.
func (r *Runtime) attrNames(path string) []string {
	parts := strings.Split(path, ".")
	v, ok := r.globals[parts[0]]
	if !ok {
		v, ok = starlark.Universe[parts[0]]
	}
	if !ok {
		return nil
	}
	for _, name := range parts[1:] {
		obj, ok := v.(starlark.HasAttrs)
		if !ok {
			return nil
		}
		next, err := obj.Attr(name)
		if err != nil || next == nil {
			return nil
		}
		v = next
	}
	if obj, ok := v.(starlark.HasAttrs); ok {
		return obj.AttrNames()
	}
	return nil
}

func isWordByte(c byte) bool {
	return c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
		c >= '0' && c <= '9'
}

// inString reports whether s ends inside a string literal, by counting unescaped quotes.
func inString(s string) bool {
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '#':
			return true // a comment
		}
	}
	return quote != 0
}
