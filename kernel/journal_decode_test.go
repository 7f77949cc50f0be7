package kernel

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDecodeEntryMatchesEncodingJSON: the fast journal reader must read back exactly
// what json.Marshal wrote, escapes and odd text included.
func TestDecodeEntryMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 3, 15, 4, 5, 123456789, time.UTC)
	texts := []string{
		"", "plain", `say "hi"`, `back\slash`, "two\nlines\ttab", "<html> & co",
		"unicode: é ü 日本 🚀", "\u2028 line sep", "bad utf8: \xff\xfe", "ctl \x01\x1f",
		strings.Repeat("x", 70000), `\u0041 literal`,
	}
	for i, text := range texts {
		for _, origin := range []string{"alice", `o"dd`, "strategy", ""} {
			want := Entry{Seq: uint64(i*7 + 1), Time: at.Add(time.Duration(i) * time.Second),
				Kind: KindStdout, Origin: origin, Text: text}
			line, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var ref Entry
			if err := json.Unmarshal(line, &ref); err != nil {
				t.Fatal(err)
			}
			got, err := decodeEntry(append(line, '\n'))
			if err != nil {
				t.Fatalf("decode %s: %v", line, err)
			}
			if got.Seq != ref.Seq || !got.Time.Equal(ref.Time) || got.Kind != ref.Kind ||
				got.Origin != ref.Origin || got.Text != ref.Text {
				t.Fatalf("decode %q\n got %+v\nwant %+v", line, got, ref)
			}
		}
	}
}

func TestDecodeEntryFallsBackOrFails(t *testing.T) {
	// Another field order is still JSON: encoding/json reads it.
	e, err := decodeEntry([]byte(`{"kind":"log","seq":3,"origin":"a","text":"t",` +
		`"time":"2024-01-01T00:00:00Z"}`))
	if err != nil || e.Seq != 3 || e.Kind != KindLog || e.Text != "t" {
		t.Fatalf("reordered fields: %+v, %v", e, err)
	}
	for _, bad := range []string{`{"seq":1,"time":"2024-01-01T00:00:00Z","ki`, `not json`,
		`{"seq":1,"time":"yesterday","kind":"log","origin":"a","text":"t"}`} {
		if _, err := decodeEntry([]byte(bad)); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}
