package kernel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSubscribeNoGapNoDuplicate(t *testing.T) {
	tr, err := openTranscript("", 64, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		tr.append(KindStdout, "a", fmt.Sprint(i))
	}
	const total = 5000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 10; i < total; i++ {
			tr.append(KindStdout, "a", fmt.Sprint(i))
		}
		tr.close()
	})

	// A subscriber that keeps up sees every seq once, in order, or is told exactly
	// how many it missed: delivered + missed always accounts for every entry.
	sub := tr.subscribe(3)
	next := uint64(4)
	for {
		u, err := sub.Next(context.Background())
		if err == ErrStopped {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		next += u.Missed
		for _, e := range u.Entries {
			if e.Seq != next {
				t.Fatalf("got seq %d, want %d", e.Seq, next)
			}
			next++
		}
	}
	wg.Wait()
	if next != total+1 {
		t.Fatalf("accounted for entries up to %d, want %d", next-1, total)
	}
}

func TestSlowSubscriberIsToldWhatItMissed(t *testing.T) {
	tr, _ := openTranscript("", 10, nil)
	sub := tr.subscribe(0)
	for i := 0; i < 25; i++ {
		tr.append(KindStdout, "a", fmt.Sprint(i))
	}
	u, err := sub.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u.Missed != 15 || len(u.Entries) != 10 || u.Entries[0].Seq != 16 {
		t.Fatalf("missed %d, got %d entries from seq %d; want 15 missed, 10 from 16",
			u.Missed, len(u.Entries), u.Entries[0].Seq)
	}
}

func TestJournalReplaySkipsTornLine(t *testing.T) {
	dir := t.TempDir()
	tr, err := openTranscript(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		tr.append(KindStdout, "a", fmt.Sprint(i))
	}
	tr.close()

	// A daemon killed mid-write leaves half a line.
	f, _ := os.OpenFile(filepath.Join(dir, journalName), os.O_APPEND|os.O_WRONLY, 0o600)
	f.WriteString(`{"seq":6,"time":"2024-01-01T00:00:00Z","ki`)
	f.Close()

	tr, err = openTranscript(dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.tail(0); len(got) != 5 || got[4].Text != "4" {
		t.Fatalf("replayed %v, want the 5 whole entries", got)
	}
	if e := tr.append(KindStdout, "a", "next"); e.Seq != 6 {
		t.Fatalf("seq after replay = %d, want 6", e.Seq)
	}
	tr.close()

	tr, _ = openTranscript(dir, 100, nil)
	defer tr.close()
	if got := tr.tail(1); len(got) != 1 || got[0].Text != "next" {
		t.Fatalf("after second replay last entry = %v, want the one appended after the tear", got)
	}
}

func TestJournalStaysWithinTwoRings(t *testing.T) {
	dir := t.TempDir()
	tr, _ := openTranscript(dir, 10, nil)
	for i := 0; i < 105; i++ {
		tr.append(KindStdout, "a", fmt.Sprint(i))
	}
	tr.close()
	lines := 0
	for _, name := range []string{journalName, oldJournalName} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		lines += strings.Count(string(b), "\n")
	}
	if lines < 10 || lines > 20 {
		t.Fatalf("the journal holds %d lines for a ring of 10; want 10 to 20", lines)
	}
	tr, _ = openTranscript(dir, 10, nil)
	got := tr.tail(0)
	if len(got) != 10 || got[0].Seq != 96 || got[9].Seq != 105 {
		t.Fatalf("after turning over, replay = %d entries from %d to %d", len(got),
			got[0].Seq, got[len(got)-1].Seq)
	}
	if e := tr.append(KindStdout, "a", "next"); e.Seq != 106 {
		t.Fatalf("seq after replay = %d, want 106", e.Seq)
	}
	tr.close()
}

func TestHugeTextIsTruncated(t *testing.T) {
	tr, _ := openTranscript("", 10, nil)
	e := tr.append(KindStdout, "a", strings.Repeat("x", 10<<20))
	if len(e.Text) > MaxEntryText+100 || !strings.Contains(e.Text, "truncated") {
		t.Fatalf("entry text is %d bytes; want it cut at %d with a marker", len(e.Text),
			MaxEntryText)
	}
}

func TestNextReturnsWhenContextEnds(t *testing.T) {
	tr, _ := openTranscript("", 10, nil)
	sub := tr.subscribe(0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := sub.Next(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Next on an idle transcript = %v, want the context's error", err)
	}
}

func TestUpdateIsBoundedInBytes(t *testing.T) {
	tr, _ := openTranscript("", 100, nil)
	sub := tr.subscribe(0)
	big := strings.Repeat("x", 60<<10)
	for i := 0; i < 50; i++ {
		tr.append(KindStdout, "a", big)
	}
	next, total := uint64(1), 0
	for total < 50 {
		u, err := sub.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, e := range u.Entries {
			if e.Seq != next {
				t.Fatalf("got seq %d, want %d", e.Seq, next)
			}
			next++
			size += len(e.Text)
		}
		if size > maxUpdateBytes {
			t.Fatalf("one update holds %d bytes of text, cap %d", size, maxUpdateBytes)
		}
		total += len(u.Entries)
	}
}
