package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	var s samples
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	got := summarize(s)
	want := summary{n: 100, median: 50 * time.Millisecond, p99: 99 * time.Millisecond,
		max: 100 * time.Millisecond}
	if got != want {
		t.Fatalf("summarize(1..100ms) = %+v, want %+v", got, want)
	}
	if one := summarize(samples{time.Second}); one.p99 != time.Second || one.median != time.Second {
		t.Fatalf("summarize of one sample = %+v", one)
	}
}

// The terminal UI redraws only changed cells, so consecutive markers must differ
// in every position, and markers must not repeat within a run.
func TestMarkersDifferEverywhere(t *testing.T) {
	seen := make(map[string]bool)
	prev := nextMarker()
	for range 100_000 {
		m := nextMarker()
		if len(m) != markerLen {
			t.Fatalf("marker %q has length %d, want %d", m, len(m), markerLen)
		}
		for i := range m {
			if m[i] == prev[i] {
				t.Fatalf("markers %q and %q share letter %d", prev, m, i)
			}
			if i > 0 && i < 8 && m[i] == m[i-1] {
				t.Fatalf("marker %q repeats a letter", m)
			}
		}
		if seen[m] {
			t.Fatalf("marker %q came twice", m)
		}
		seen[m] = true
		prev = m
	}
	if code := printMarker("ABCDEFGHIJKLMN"); strings.Contains(code, "ABCDEFGHIJKLMN") {
		t.Fatalf("the code %q contains its own marker", code)
	}
}

// TestQuickRun runs the tool end to end with tiny sizes against a freshly built
// stratd: a smoke test of the tool, not a measurement.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs stratd")
	}
	stderr = testWriter{t}
	opts, err := parseFlags([]string{"-quick", "-only", "exec,attach,fanout",
		"-clients", "2", "-rounds", "2"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(opts, &out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	for _, want := range []string{"exec `1+1`", "attach: dial", "all 2 PTY clients"} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
}

// testWriter sends the tool's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
