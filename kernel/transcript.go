package kernel

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"charm.land/log/v2"
)

// MaxEntryText is the most text one entry holds; longer output keeps its beginning
// and its end, and a marker between them says how much was dropped. It keeps one
// 10 MB print from flooding every client and the journal.
const MaxEntryText = 64 << 10

// maxUpdateEntries bounds one Update so a late joiner's replay arrives in pieces a UI
// can render between keystrokes.
const maxUpdateEntries = 512

// maxUpdateBytes bounds the text one Update holds (at least one entry goes out). An
// Update keeps its entries alive after the ring has dropped them, so this is what a
// subscriber that stopped reading can hold on to, whatever the entries' size.
const maxUpdateBytes = 1 << 20

// The journal inside a kernel's state folder is two files of JSON lines: the one
// appended to, and the one before it. When the first holds as many entries as the
// ring, it becomes the second, replacing the older one. So the journal never holds
// more than twice the ring, always holds at least the ring, and turning over costs a
// rename, never a copy on the kernel loop.
const (
	journalName    = "journal.jsonl"
	oldJournalName = "journal.1.jsonl"
)

// transcript is a kernel's history: a ring of the newest entries in memory, a
// journal on disk, and the subscribers reading it. Appending never blocks on a
// subscriber: each one pulls from the ring at its own pace and is woken through a
// channel of capacity one.
type transcript struct {
	log *log.Logger

	mu      sync.Mutex // protects the fields below
	ring    []Entry    // circular, len(ring) == capacity
	start   int        // index of the oldest entry in ring
	count   int        // entries held in ring
	lastSeq uint64
	journal *os.File // nil when the transcript lives in memory only
	path    string   // of the journal file appended to
	oldPath string   // of the one before it
	lines   int      // entries in the journal file appended to
	subs    map[*subscription]struct{}
	status  Status
	closed  bool

	holding bool   // wakes are held back until release (see hold)
	held    bool   // a wake was held back
	holdGen uint64 // numbers holds, so a late release cannot end a newer one
}

// openTranscript returns a transcript holding up to capacity entries. With a state
// folder, it first replays the journal found there, so seq numbers continue.
func openTranscript(dir string, capacity int, logger *log.Logger) (*transcript, error) {
	if capacity <= 0 {
		capacity = 1000
	}
	t := &transcript{
		log:  logger,
		ring: make([]Entry, capacity),
		subs: make(map[*subscription]struct{}),
	}
	if dir == "" {
		return t, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	t.path = filepath.Join(dir, journalName)
	t.oldPath = filepath.Join(dir, oldJournalName)
	if _, err := t.replay(t.oldPath); err != nil {
		return nil, err
	}
	n, err := t.replay(t.path)
	if err != nil {
		return nil, err
	}
	t.lines = n
	f, err := os.OpenFile(t.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	t.journal = f
	return t, nil
}

// replay loads one journal file into the ring and returns how many entries it held.
// A line that does not parse is skipped with a log line, never fatal. A last line
// without its newline (a write cut short by a kill) is cut off the file, so the next
// append starts on a line of its own.
func (t *transcript) replay(path string) (int, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()

	r := bufio.NewReaderSize(f, 64<<10)
	var offset int64 // where the line being read starts
	entries := 0
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF && len(line) > 0 {
			t.logf("dropping a torn last journal line", "journal", path, "line", n)
			if terr := f.Truncate(offset); terr != nil {
				return 0, fmt.Errorf("cut the torn end of the journal: %w", terr)
			}
			break
		}
		offset += int64(len(line))
		if len(bytes.TrimSpace(line)) > 0 {
			e, jerr := decodeEntry(line)
			if jerr != nil || e.Seq <= t.lastSeq {
				t.logf("skipping unreadable journal line", "journal", path, "line", n)
			} else {
				t.push(e)
				entries++
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read journal: %w", err)
		}
	}
	return entries, nil
}

func (t *transcript) logf(msg string, kv ...any) {
	if t.log != nil {
		t.log.Warn(msg, kv...)
	}
}

// push adds e to the ring. The caller holds mu (or owns t exclusively).
func (t *transcript) push(e Entry) {
	if t.count < len(t.ring) {
		t.ring[(t.start+t.count)%len(t.ring)] = e
		t.count++
	} else {
		t.ring[t.start] = e
		t.start = (t.start + 1) % len(t.ring)
	}
	t.lastSeq = e.Seq
}

// append records a new entry: journal first, then the ring, then it wakes every
// subscriber. It returns the entry with its seq and time.
func (t *transcript) append(kind Kind, origin, text string) Entry {
	t.mu.Lock()
	defer t.mu.Unlock()

	e := Entry{
		Seq:    t.lastSeq + 1,
		Time:   time.Now().UTC(),
		Kind:   kind,
		Origin: origin,
		Text:   truncate(text, MaxEntryText),
	}
	if t.journal != nil {
		t.writeJournal(e)
	}
	t.push(e)
	t.wakeLocked()
	return e
}

func (t *transcript) writeJournal(e Entry) {
	b, err := json.Marshal(e)
	if err != nil {
		t.logf("encode journal entry", "err", err)
		return
	}
	if _, err := t.journal.Write(append(b, '\n')); err != nil {
		t.logf("write journal", "journal", t.path, "err", err)
		return
	}
	t.lines++
	if t.lines >= len(t.ring) {
		if err := t.turnOverLocked(); err != nil {
			t.logf("turn over journal", "journal", t.path, "err", err)
		}
	}
}

// turnOverLocked makes the journal file appended to the older one and starts a new
// one. A crash between the rename and the open leaves no file to append to, which
// replay takes as an empty one.
func (t *transcript) turnOverLocked() error {
	t.lines = 0 // a failure retries only after another ring's worth
	if err := t.journal.Close(); err != nil {
		t.logf("close journal", "journal", t.path, "err", err)
	}
	renameErr := os.Rename(t.path, t.oldPath)
	f, err := os.OpenFile(t.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.journal = nil
		return fmt.Errorf("reopen journal, entries are no longer saved: %w", err)
	}
	t.journal = f
	return renameErr
}

// after returns up to limit entries with seq > since and how many entries after
// since have already left the ring.
func (t *transcript) afterLocked(since uint64, limit int) ([]Entry, uint64) {
	if t.count == 0 || since >= t.lastSeq {
		return nil, 0
	}
	oldest := t.ring[t.start].Seq
	var missed uint64
	if since+1 < oldest {
		missed = oldest - since - 1
		since = oldest - 1
	}
	skip := int(since + 1 - oldest)
	n := t.count - skip
	if limit > 0 && n > limit {
		n = limit
	}
	out := make([]Entry, 0, n)
	size := 0
	for i := range n {
		e := t.ring[(t.start+skip+i)%len(t.ring)]
		size += len(e.Text)
		if limit > 0 && len(out) > 0 && size > maxUpdateBytes {
			break
		}
		out = append(out, e)
	}
	return out, missed
}

// tail returns the last n entries in the ring (all of them when n <= 0).
func (t *transcript) tail(n int) []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n <= 0 || n > t.count {
		n = t.count
	}
	since := t.lastSeq - uint64(n)
	out, _ := t.afterLocked(since, 0)
	return out
}

func (t *transcript) last() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastSeq
}

// statusVersions numbers every status published in the process (Status.Version).
var statusVersions atomic.Uint64

// publish replaces the status subscribers see and wakes them.
func (t *transcript) publish(s Status) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.LastSeq = t.lastSeq
	s.Version = statusVersions.Add(1)
	t.status = s
	t.wakeLocked()
}

func (t *transcript) currentStatus() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// hold holds back waking subscribers until release(gen) with the gen it returns.
// The kernel holds while it runs one input, so a quick input's entry, output and
// status reach every subscriber as one update: with hundreds of attached screens,
// each update is a frame drawn per screen.
func (t *transcript) hold() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.holdGen++
	t.holding = true
	return t.holdGen
}

// release ends hold number gen and wakes the subscribers if anything was held
// back. Releasing an older hold, or releasing twice, does nothing.
func (t *transcript) release(gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.holding || gen != t.holdGen {
		return
	}
	t.holding = false
	if t.held {
		t.held = false
		t.wakeLocked()
	}
}

func (t *transcript) wakeLocked() {
	if t.holding && !t.closed {
		t.held = true
		return
	}
	for s := range t.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// close ends every subscription once its remaining entries are read, and closes
// the journal.
func (t *transcript) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	t.wakeLocked()
	if t.journal != nil {
		if err := t.journal.Sync(); err != nil {
			t.logf("sync journal", "journal", t.path, "err", err)
		}
		t.journal.Close()
		t.journal = nil
	}
}

// subscribe starts a subscription after since. Because a subscription is only a
// cursor into the ring, the backlog and the live stream cannot overlap or leave a
// gap: both are read from the same sequence.
func (t *transcript) subscribe(since uint64) *subscription {
	s := &subscription{t: t, next: since + 1, wake: make(chan struct{}, 1)}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	t.mu.Unlock()
	return s
}

// subscription is one reader of a transcript. It implements Subscriber.
type subscription struct {
	t         *transcript
	wake      chan struct{}
	next      uint64 // seq of the next entry to deliver; only Next touches it
	statusVer uint64 // Version of the last status delivered
}

// Next implements Subscriber.
func (s *subscription) Next(ctx context.Context) (Update, error) {
	for {
		t := s.t
		t.mu.Lock()
		entries, missed := t.afterLocked(s.next-1, maxUpdateEntries)
		var status *Status
		if t.status.Version != s.statusVer {
			st := t.status
			status = &st
			s.statusVer = t.status.Version
		}
		closed := t.closed
		_, open := t.subs[s]
		t.mu.Unlock()

		if len(entries) > 0 {
			s.next = entries[len(entries)-1].Seq + 1
		} else if missed > 0 {
			s.next += missed
		}
		if len(entries) > 0 || missed > 0 || status != nil {
			return Update{Entries: entries, Missed: missed, Status: status}, nil
		}
		if closed || !open {
			return Update{}, ErrStopped
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return Update{}, ctx.Err()
		}
	}
}

// Close implements Subscriber.
func (s *subscription) Close() {
	s.t.mu.Lock()
	delete(s.t.subs, s)
	s.t.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// truncate cuts text longer than max bytes down to its first three quarters and its
// last quarter, on rune boundaries, with a marker between them saying how much went:
// the end of a long traceback names the error, so it stays.
func truncate(text string, max int) string {
	if len(text) <= max {
		return text
	}
	head := max * 3 / 4
	for head > 0 && !utf8.RuneStart(text[head]) {
		head--
	}
	tail := len(text) - (max - head)
	for tail < len(text) && !utf8.RuneStart(text[tail]) {
		tail++
	}
	return fmt.Sprintf("%s\n… [output truncated: %d of %d bytes cut here] …\n%s",
		text[:head], tail-head, len(text), text[tail:])
}
