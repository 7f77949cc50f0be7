package kernel

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// decodeEntry parses one journal line. Lines are written by json.Marshal of an Entry,
// so they have its five fields in order; reading those directly is several times
// faster than encoding/json's reflection, which made replaying a long history slow
// at start. Anything else goes to encoding/json, which stays the reference.
func decodeEntry(line []byte) (Entry, error) {
	if e, ok := decodeEntryFast(bytes.TrimSpace(line)); ok {
		return e, nil
	}
	var e Entry
	err := json.Unmarshal(line, &e)
	return e, err
}

// decodeEntryFast parses the exact layout json.Marshal gives an Entry; false means
// "not that layout", never "corrupt".
func decodeEntryFast(p []byte) (e Entry, ok bool) {
	if p, ok = cut(p, `{"seq":`); !ok {
		return e, false
	}
	n := 0
	for n < len(p) && n < 19 && p[n] >= '0' && p[n] <= '9' {
		e.Seq = e.Seq*10 + uint64(p[n]-'0')
		n++
	}
	if n == 0 || (n > 1 && p[0] == '0') {
		return e, false
	}
	p = p[n:]

	var ts, kind string
	if p, ok = cut(p, `,"time":`); !ok {
		return e, false
	}
	if ts, p, ok = jsonString(p); !ok {
		return e, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return e, false
	}
	e.Time = t
	if p, ok = cut(p, `,"kind":`); !ok {
		return e, false
	}
	if kind, p, ok = jsonString(p); !ok {
		return e, false
	}
	e.Kind = Kind(kind)
	if p, ok = cut(p, `,"origin":`); !ok {
		return e, false
	}
	if e.Origin, p, ok = jsonString(p); !ok {
		return e, false
	}
	if p, ok = cut(p, `,"text":`); !ok {
		return e, false
	}
	if e.Text, p, ok = jsonString(p); !ok {
		return e, false
	}
	return e, string(p) == "}"
}

func cut(p []byte, prefix string) ([]byte, bool) {
	if len(p) < len(prefix) || string(p[:len(prefix)]) != prefix {
		return p, false
	}
	return p[len(prefix):], true
}

// jsonString reads a JSON string at the start of p and returns it and the rest. A
// string with escapes is handed to encoding/json alone, which is still cheap.
func jsonString(p []byte) (string, []byte, bool) {
	if len(p) == 0 || p[0] != '"' {
		return "", p, false
	}
	escaped := false
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			escaped = true
			i++ // skip the escaped byte; \uXXXX's digits are plain bytes
		case c == '"':
			raw := p[:i+1]
			if !escaped {
				if !utf8.Valid(raw) {
					return "", p, false
				}
				return string(raw[1:i]), p[i+1:], true
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", p, false
			}
			return s, p[i+1:], true
		case c < 0x20:
			return "", p, false
		}
	}
	return "", p, false
}
