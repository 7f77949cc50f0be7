package kernel

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/strategy"
)

var (
	alice = Person{Name: "alice", Role: keys.Operator}
	bob   = Person{Name: "bob", Role: keys.Admin}
	vera  = Person{Name: "vera", Role: keys.Viewer}
)

// writeStrategy writes a config and strategy into a temp folder and returns the
// config's path.
func writeStrategy(t *testing.T, name, interval, star string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := "name: " + name + "\nstrategy: s.star\ninstruments: [BTCUSDT]\n" +
		"feed: {kind: synthetic, interval: " + interval + ", seed: 7}\n"
	if err := os.WriteFile(filepath.Join(dir, "k.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s.star"), []byte(star), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "k.yml")
}

func startKernel(t *testing.T, interval, star string) *Kernel {
	t.Helper()
	cfg, err := strategy.LoadConfig(writeStrategy(t, "k", interval, star))
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(cfg, Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Stop("test") })
	return k
}

func run(t *testing.T, k *Kernel, p Person, code string) ExecResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := k.Exec(ctx, p, code)
	if err != nil {
		t.Fatalf("exec %q: %v", code, err)
	}
	return r
}

func texts(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(string(e.Kind) + ":" + e.Text + "\n")
	}
	return b.String()
}

func TestOneInterpreterSharedByEveryone(t *testing.T) {
	k := startKernel(t, "1h", "")
	run(t, k, alice, "x = 40")
	r := run(t, k, bob, "x + 2")
	if r.Failed || len(r.Entries) != 1 || r.Entries[0].Text != "42" {
		t.Fatalf("x + 2 by another person gave %q, want 42", texts(r.Entries))
	}
	r = run(t, k, alice, "print('hi')\n1/0")
	if !r.Failed || !strings.Contains(texts(r.Entries), "stdout:hi") {
		t.Fatalf("print then raise gave %q (failed=%v)", texts(r.Entries), r.Failed)
	}
}

func TestViewerCannotRunInput(t *testing.T) {
	k := startKernel(t, "1h", "")
	if _, err := k.Exec(context.Background(), vera, "1"); err != ErrReadOnly {
		t.Fatalf("viewer exec err = %v, want ErrReadOnly", err)
	}
	c := k.Attach(vera, "ssh")
	defer c.Detach()
	if err := c.Interrupt(); err != ErrReadOnly {
		t.Fatalf("viewer interrupt err = %v, want ErrReadOnly", err)
	}
}

func TestInterruptStopsARunawayInput(t *testing.T) {
	k := startKernel(t, "10ms", "def on_bar(ctx, bar):\n    pass\n")
	sub := k.Subscribe(k.tr.last())
	defer sub.Close()

	res := make(chan ExecResult, 1)
	go func() {
		r, _ := k.Exec(context.Background(), alice, "while True:\n    pass\n")
		res <- r
	}()
	waitFor(t, sub, func(e Entry) bool { return e.Kind == KindInput })
	for !k.Interrupt(bob) {
		// The input entry is written just before the input starts running.
		waitFor(t, sub, func(Entry) bool { return true })
	}
	r := <-res
	if !r.Failed || !strings.Contains(texts(r.Entries), "interrupted by bob") {
		t.Fatalf("interrupted input gave %q", texts(r.Entries))
	}
	// The kernel goes on: later input runs.
	if r := run(t, k, alice, "1 + 1"); r.Entries[0].Text != "2" {
		t.Fatalf("after interrupt 1 + 1 gave %q", texts(r.Entries))
	}
}

// waitFor reads sub until an entry matches. Entries that arrived in the same update
// after the match are kept for the next call.
func waitFor(t *testing.T, sub Subscriber, match func(Entry) bool) Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if len(pending[sub]) == 0 {
			u, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("waiting for an entry: %v", err)
			}
			pending[sub] = u.Entries
		}
		for len(pending[sub]) > 0 {
			e := pending[sub][0]
			pending[sub] = pending[sub][1:]
			if match(e) {
				return e
			}
		}
	}
}

// pending holds entries read but not yet matched, per subscriber; tests using
// waitFor do not run in parallel.
var pending = map[Subscriber][]Entry{}

func TestInputEntryPrecedesItsOutputAndQueueKeepsOrder(t *testing.T) {
	k := startKernel(t, "1h", "")
	sub := k.Subscribe(k.tr.last())
	defer sub.Close()
	for _, code := range []string{"print('a')", "print('b')", "print('c')"} {
		if _, err := k.submit(alice, code); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 6 {
		e := waitFor(t, sub, func(e Entry) bool {
			return e.Kind == KindInput || e.Kind == KindStdout
		})
		got = append(got, string(e.Kind)+":"+e.Text)
	}
	want := "input:print('a') stdout:a input:print('b') stdout:b input:print('c') stdout:c"
	if strings.Join(got, " ") != want {
		t.Fatalf("transcript order = %v, want %s", got, want)
	}
}

func TestDisconnectedClientDoesNotCancelInput(t *testing.T) {
	k := startKernel(t, "1h", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k.Exec(ctx, alice, "y = 5")
	if r := run(t, k, bob, "y"); r.Entries[0].Text != "5" {
		t.Fatalf("input of a vanished client did not run: y = %q", texts(r.Entries))
	}
}

func TestAttachDetachAndStatus(t *testing.T) {
	k := startKernel(t, "10ms", "")
	a := k.Attach(alice, "ssh")
	b := k.Attach(vera, "ssh")
	if who := k.Who(); len(who) != 2 || who[0].Name != "alice" || who[1].Role != "viewer" {
		t.Fatalf("who = %+v", who)
	}
	sub := a.Subscribe(0)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		u, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if u.Status != nil && len(u.Status.Attached) == 2 && u.Status.Account.Bars > 0 {
			if u.Status.Name != "k" || u.Status.State != StateRunning {
				t.Fatalf("status = %+v", u.Status)
			}
			break
		}
	}
	b.Detach()
	b.Detach() // twice is harmless
	if who := k.Who(); len(who) != 1 {
		t.Fatalf("after detach who = %+v", who)
	}
	if k.currentState() != StateRunning {
		t.Fatal("detaching stopped the kernel")
	}
	a.Detach()
}

func TestTranscriptSurvivesRestartOfTheDaemon(t *testing.T) {
	path := writeStrategy(t, "k", "1h", "")
	state := t.TempDir()
	cfg, err := strategy.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(cfg, Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	run(t, k, alice, "print('before')")
	last := k.tr.last()
	k.Stop("test")

	k, err = New(cfg, Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Stop("test")
	h := texts(k.History(0))
	if !strings.Contains(h, "stdout:before") {
		t.Fatalf("history after restart lacks the earlier output:\n%s", h)
	}
	if e := k.History(1)[0]; e.Seq <= last {
		t.Fatalf("seq went back to %d after restart (was %d)", e.Seq, last)
	}
}

func TestStopEndsSubscribersAndRejectsInput(t *testing.T) {
	k := startKernel(t, "1h", "")
	sub := k.Subscribe(0)
	k.Stop("bob")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last Entry
	for {
		u, err := sub.Next(ctx)
		if err == ErrStopped {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n := len(u.Entries); n > 0 {
			last = u.Entries[n-1]
		}
	}
	if last.Text != "kernel stopped by bob" {
		t.Fatalf("last entry = %q", last.Text)
	}
	if _, err := k.Exec(ctx, alice, "1"); err != ErrStopped {
		t.Fatalf("exec after stop = %v", err)
	}
}

// TestQuickInputIsOneUpdate checks that a subscriber gets a quick input's entry,
// its output and the idle status together: each update is a frame on every
// attached screen. A slow input's entry still shows while it runs.
func TestQuickInputIsOneUpdate(t *testing.T) {
	k := startKernel(t, "1h", "")
	sub := k.Subscribe(k.tr.last())
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := sub.Next(ctx); err != nil { // the status as it was
		t.Fatal(err)
	}

	run(t, k, alice, `print("hi")`)
	u, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(u.Entries); got != "input:print(\"hi\")\nstdout:hi\n" ||
		u.Status == nil || u.Status.Busy {
		t.Fatalf("one update brought %q and status %+v, want the input, its output "+
			"and an idle status", got, u.Status)
	}

	// An input that runs for long is shown while it runs.
	res := make(chan ExecResult, 1)
	go func() {
		r, _ := k.Exec(context.Background(), alice, "while True:\n    pass\n")
		res <- r
	}()
	waitFor(t, sub, func(e Entry) bool { return e.Kind == KindInput })
	for !k.Interrupt(bob) {
		waitFor(t, sub, func(Entry) bool { return true })
	}
	<-res
}
