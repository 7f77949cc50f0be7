package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stratd/stratd/strategy"
	"go.uber.org/goleak"
)

// kernelConfig writes a config with extra YAML lines and its strategy, and loads it.
func kernelConfig(t testing.TB, interval, extra, star string) *strategy.Config {
	t.Helper()
	dir := t.TempDir()
	yml := "name: k\nstrategy: s.star\ninstruments: [BTCUSDT, ETHUSDT]\n" +
		"feed: {kind: synthetic, interval: " + interval + ", seed: 7}\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "k.yml"), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s.star"), []byte(star), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := strategy.LoadConfig(filepath.Join(dir, "k.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// open starts a kernel on cfg with its state in dir; the test stops it at the end.
func open(t *testing.T, cfg *strategy.Config, dir string) *Kernel {
	t.Helper()
	k, err := New(cfg, Options{StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Stop("test") })
	return k
}

// accountOf reads the account on the kernel loop.
func accountOf(t *testing.T, k *Kernel) strategy.AccountState {
	t.Helper()
	var a strategy.AccountState
	if err := k.do(func() { a = k.rt.AccountState() }); err != nil {
		t.Fatal(err)
	}
	return a
}

// result runs code and returns its single result.
func result(t *testing.T, k *Kernel, code string) string {
	t.Helper()
	r := run(t, k, alice, code)
	if r.Failed || len(r.Entries) == 0 {
		t.Fatalf("%s gave %q", code, texts(r.Entries))
	}
	return r.Entries[len(r.Entries)-1].Text
}

// trade buys 0.5 BTCUSDT at the market, waits for the fill, and leaves a sell order
// far above the market open.
func trade(t *testing.T, k *Kernel) {
	t.Helper()
	sub := k.Subscribe(k.tr.last())
	defer sub.Close()
	run(t, k, alice, "ctx.trade('BTCUSDT', 0.5)\nctx.trade('ETHUSDT', -2, price=1e9)")
	waitFor(t, sub, func(e Entry) bool { return e.Kind == KindFill })
}

// sameAccount compares what a restart must keep: cash, fees, positions, open orders,
// order ids and how far the feed had got.
func sameAccount(t *testing.T, got, want strategy.AccountState) {
	t.Helper()
	norm := func(a strategy.AccountState) string {
		a.Positions = append([]strategy.Position(nil), a.Positions...)
		for i := range a.Positions {
			a.Positions[i].LastPrice, a.Positions[i].UnrealizedPnL = 0, 0
			a.Positions[i].MarketValue = 0
		}
		sort.Slice(a.Positions, func(i, j int) bool {
			return a.Positions[i].Symbol < a.Positions[j].Symbol
		})
		b, _ := json.Marshal(a)
		return string(b)
	}
	if g, w := norm(got), norm(want); g != w {
		t.Fatalf("restored account differs:\n got %s\nwant %s", g, w)
	}
}

func TestAccountSurvivesStopAndStart(t *testing.T) {
	cfg := kernelConfig(t, "5ms", "", "")
	dir := t.TempDir()
	k := open(t, cfg, dir)
	if got := result(t, k, "ctx.is_restart()"); got != "False" {
		t.Fatalf("ctx.is_restart() on a first start = %s", got)
	}
	trade(t, k)
	k.Stop("bob")
	saved, err := loadAccount(dir)
	if err != nil || saved == nil || !saved.Clean {
		t.Fatalf("after stop the snapshot is %+v, %v; want a clean one", saved, err)
	}

	k = open(t, cfg, dir)
	got := accountOf(t, k)
	saved.Account.Bars, saved.Account.MarketTime = got.Bars, got.MarketTime
	sameAccount(t, got, saved.Account)
	dense(t, k.History(0))
	if got := result(t, k, "ctx.is_restart()"); got != "True" {
		t.Fatalf("ctx.is_restart() after a restart = %s", got)
	}
	if got := result(t, k, "[o.id for o in ctx.get_orders()]"); got != `["o2"]` {
		t.Fatalf("open orders after restart = %s, want o2", got)
	}
	if got := result(t, k, "ctx.trade('ETHUSDT', 1, price=1).id"); got != `"o3"` {
		t.Fatalf("the next order id after restart is %s, want o3", got)
	}
	h := texts(k.History(0))
	for _, want := range []string{"restarted (strategy s.star), the transcript goes on",
		"account restored from " + accountPath(dir), "after a clean stop",
		"positions BTCUSDT 0.5", "1 open order(s)", "ctx.is_restart() is True"} {
		if !strings.Contains(h, want) {
			t.Errorf("history after restart lacks %q:\n%s", want, h)
		}
	}
}

// A copy of the state folder taken while the kernel runs is what a SIGKILL leaves.
func TestAccountSurvivesACrash(t *testing.T) {
	cfg := kernelConfig(t, "5ms", "", "")
	dir := t.TempDir()
	k := open(t, cfg, dir)
	trade(t, k)
	want := accountOf(t, k)

	// The snapshot follows the fill within saveEvery; wait until it shows it.
	crash := t.TempDir()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, err := loadAccount(dir)
		if err == nil && s != nil && len(s.Account.OpenOrders) == 1 &&
			s.Account.Cash == want.Cash {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the snapshot never showed the trade: %+v %v", s, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, name := range []string{journalName, oldJournalName, accountName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crash, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	k.Stop("test")

	k = open(t, cfg, crash)
	got := accountOf(t, k)
	want.Bars, want.MarketTime = got.Bars, got.MarketTime // the bars went on meanwhile
	sameAccount(t, got, want)
	h := texts(k.History(0))
	if !strings.Contains(h, "killed or crashed") {
		t.Fatalf("the restart after a crash does not say so:\n%s", h)
	}
	dense(t, k.History(0))
}

func TestCorruptAccountSnapshotRefusesToStart(t *testing.T) {
	cfg := kernelConfig(t, "1h", "", "")
	dir := t.TempDir()
	path := filepath.Join(dir, accountName)
	if err := os.WriteFile(path, []byte(`{"kernel":"k","acc`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg, Options{StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "mv "+path+" "+path+".bad") {
		t.Fatalf("New with a corrupt snapshot: %v; want an error naming the file and "+
			"how to move it aside", err)
	}
	// Moved aside as told, the kernel starts with a fresh account.
	if err := os.Rename(path, path+".bad"); err != nil {
		t.Fatal(err)
	}
	k := open(t, cfg, dir)
	if got := result(t, k, "ctx.get_balance()"); got != "10000.0" {
		t.Fatalf("fresh balance = %s", got)
	}
}

func TestAccountInARemovedInstrumentRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	k := open(t, kernelConfig(t, "5ms", "", ""), dir)
	trade(t, k)
	k.Stop("test")

	yml := "name: k\nstrategy: s.star\ninstruments: [ETHUSDT]\n" +
		"feed: {kind: synthetic, interval: 1h}\n"
	cdir := t.TempDir()
	os.WriteFile(filepath.Join(cdir, "k.yml"), []byte(yml), 0o600)
	os.WriteFile(filepath.Join(cdir, "s.star"), nil, 0o600)
	cfg, err := strategy.LoadConfig(filepath.Join(cdir, "k.yml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, Options{StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "BTCUSDT") ||
		!strings.Contains(err.Error(), "mv ") {
		t.Fatalf("New without the instrument of a position: %v", err)
	}
}

func TestStateFolderIsLocked(t *testing.T) {
	cfg := kernelConfig(t, "1h", "", "")
	dir := t.TempDir()
	k := open(t, cfg, dir)
	_, err := New(cfg, Options{StateDir: dir})
	if err == nil || !strings.Contains(err.Error(), "in use by stratd process "+
		fmt.Sprint(os.Getpid())) {
		t.Fatalf("a second kernel on the same state folder: %v", err)
	}
	k.Stop("test")
	open(t, cfg, dir) // free again
}

func TestRestartKeepsTranscriptAndAccount(t *testing.T) {
	cfg := kernelConfig(t, "5ms", "", "def on_start(ctx):\n"+
		"    print('on_start, restart:', ctx.is_restart())\n"+
		"def on_stop(ctx):\n    print('on_stop')\n")
	k := open(t, cfg, t.TempDir())
	run(t, k, alice, "x = 1")
	trade(t, k)
	before := accountOf(t, k)

	if err := k.Restart("bob"); err != nil {
		t.Fatal(err)
	}
	if r := run(t, k, alice, "x"); !r.Failed {
		t.Fatalf("x survived a restart: the interpreter is not fresh: %q", texts(r.Entries))
	}
	after := accountOf(t, k)
	before.Bars, before.MarketTime = after.Bars, after.MarketTime
	sameAccount(t, after, before)
	h := texts(k.History(0))
	for _, want := range []string{"input:x = 1", "stdout:on_stop\n",
		"kernel restarted by bob with a fresh interpreter; the account goes on",
		"stdout:on_start, restart: True"} {
		if !strings.Contains(h, want) {
			t.Errorf("history after restart lacks %q:\n%s", want, h)
		}
	}
}

func TestPausedKernelStaysPausedAfterRestart(t *testing.T) {
	cfg := kernelConfig(t, "5ms", "", "")
	dir := t.TempDir()
	k := open(t, cfg, dir)
	if err := k.Pause("bob"); err != nil {
		t.Fatal(err)
	}
	k.Stop("test")
	k = open(t, cfg, dir)
	if s := k.currentState(); s != StatePaused {
		t.Fatalf("state after restart = %s, want paused", s)
	}
	if h := texts(k.History(0)); !strings.Contains(h, "the kernel was paused and stays") {
		t.Fatalf("the restart does not say the kernel stays paused:\n%s", h)
	}
}

func TestStopCancelsARunawayInput(t *testing.T) {
	cfg := kernelConfig(t, "1h", "kernel: {max_steps: 0}\n",
		"def on_stop(ctx):\n    print('on_stop ran')\n")
	dir := t.TempDir()
	k := open(t, cfg, dir)
	sub := k.Subscribe(k.tr.last())
	defer sub.Close()
	for _, code := range []string{"while True:\n    pass\n", "print('queued')"} {
		if _, err := k.submit(alice, code); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, sub, func(e Entry) bool { return e.Kind == KindInput })

	stopped := make(chan struct{})
	go func() { k.Stop("bob"); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not stop a kernel running `while True: pass` without a step limit")
	}
	h := texts(k.History(0))
	for _, want := range []string{"the kernel is stopping (stop by bob)",
		"stdout:on_stop ran", "kernel stopped by bob"} {
		if !strings.Contains(h, want) {
			t.Errorf("history lacks %q:\n%s", want, h)
		}
	}
	if strings.Contains(h, "stdout:queued") {
		t.Errorf("an input queued behind the runaway one ran after stop:\n%s", h)
	}
}

func TestInterruptWithin100ms(t *testing.T) {
	cfg := kernelConfig(t, "2ms", "", "seen = {'bars': 0}\n"+
		"def on_bar(ctx, bar):\n    seen['bars'] += 1\n")
	k := open(t, cfg, "")
	sub := k.Subscribe(k.tr.last())
	defer sub.Close()
	// Ctrl+C in the REPL and `kernel interrupt` both come through a Client.
	c := k.Attach(bob, "ssh")
	defer c.Detach()

	var worst time.Duration
	for range 5 {
		res := make(chan ExecResult, 1)
		go func() {
			r, _ := k.Exec(context.Background(), alice, "while True:\n    pass\n")
			res <- r
		}()
		waitFor(t, sub, func(e Entry) bool { return e.Kind == KindInput })
		// The input entry is written just before the input starts running.
		for !k.busy() {
			runtime.Gosched()
		}
		asked := time.Now()
		if err := c.Interrupt(); err != nil {
			t.Fatal(err)
		}
		e := waitFor(t, sub, func(e Entry) bool { return e.Kind == KindError })
		if e.Text != "interrupted by bob" {
			t.Fatalf("the interrupted input's error is %q", e.Text)
		}
		worst = max(worst, e.Time.Sub(asked))
		<-res
	}
	t.Logf("interrupt to error entry: worst of 5 is %v", worst)
	if worst > 100*time.Millisecond {
		t.Fatalf("interrupt took %v, want under 100ms", worst)
	}

	// Bars keep reaching on_bar afterwards.
	before := result(t, k, "seen['bars']")
	waitBars(t, k, 3)
	if after := result(t, k, "seen['bars']"); after == before {
		t.Fatalf("on_bar is no longer called after an interrupt: %s bars seen", after)
	}
}

// busy reports whether an input is running.
func (k *Kernel) busy() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.running != nil
}

// waitBars waits until the kernel has stepped n more bar times.
func waitBars(t *testing.T, k *Kernel, n int64) {
	t.Helper()
	sub := k.Subscribe(k.tr.last())
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	from := int64(-1)
	for {
		u, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %d bars: %v", n, err)
		}
		if u.Status == nil {
			continue
		}
		if from < 0 {
			from = u.Status.Account.Bars
		} else if u.Status.Account.Bars >= from+n {
			return
		}
	}
}

// dense fails unless the entries' seq numbers go up one at a time.
func dense(t *testing.T, es []Entry) {
	t.Helper()
	for i := 1; i < len(es); i++ {
		if es[i].Seq != es[i-1].Seq+1 {
			t.Fatalf("seq %d follows %d", es[i].Seq, es[i-1].Seq)
		}
	}
}

func TestStepLimitNamesTheLimit(t *testing.T) {
	cfg := kernelConfig(t, "5ms", "kernel: {max_steps: 20000}\n",
		"def on_bar(ctx, bar):\n    if ctx.params.get('spin'):\n        while True:\n"+
			"            pass\n")
	k := open(t, cfg, "")
	r := run(t, k, alice, "while True:\n    pass\n")
	if !r.Failed || !strings.Contains(texts(r.Entries),
		"step limit of 20000 exceeded (kernel.max_steps)") {
		t.Fatalf("a runaway input gave %q", texts(r.Entries))
	}

	sub := k.Subscribe(k.tr.last())
	defer sub.Close()
	run(t, k, alice, "ctx.params['spin'] = True")
	e := waitFor(t, sub, func(e Entry) bool { return e.Kind == KindError })
	if !strings.Contains(e.Text, "on_bar") || !strings.Contains(e.Text, "kernel.max_steps") {
		t.Fatalf("a runaway hook gave %q", e.Text)
	}
	run(t, k, alice, "ctx.params['spin'] = False")
	if got := result(t, k, "1 + 1"); got != "2" {
		t.Fatalf("after a runaway hook 1 + 1 = %s", got)
	}
}

func TestIsolation(t *testing.T) {
	cfg := kernelConfig(t, "1ms", "", "def helper(x):\n    return x.nope\n"+
		"def on_bar(ctx, bar):\n    helper(bar)\n")
	k := open(t, cfg, t.TempDir())
	sub := k.Subscribe(0)
	defer sub.Close()

	// A failing on_bar: an error entry with the traceback, then a pause.
	e := waitFor(t, sub, func(e Entry) bool { return e.Kind == KindError })
	for _, want := range []string{"on_bar: Traceback", "s.star:4:11: in on_bar",
		"s.star:2:13: in helper", "has no .nope field"} {
		if !strings.Contains(e.Text, want) {
			t.Errorf("on_bar error lacks %q:\n%s", want, e.Text)
		}
	}
	e = waitFor(t, sub, func(e Entry) bool { return strings.Contains(e.Text, "paused") })
	want := fmt.Sprintf("on_bar failed %d times in a row, so the hooks are paused",
		strategy.MaxHookFailures)
	if !strings.Contains(e.Text, want) || !strings.Contains(e.Text, "ctx.resume()") {
		t.Fatalf("pause message %q, want %q and the way out", e.Text, want)
	}

	// Huge output is cut at MaxEntryText, keeping both ends.
	for _, code := range []string{"print('<' + 'x' * (10 << 20) + '>')",
		"'<' + 'x' * (10 << 20) + '>'"} {
		r := run(t, k, alice, code)
		out := r.Entries[len(r.Entries)-1].Text
		if len(out) > MaxEntryText+200 || !strings.Contains(out, "output truncated") ||
			!strings.HasPrefix(strings.Trim(out, `"`), "<") ||
			!strings.HasSuffix(strings.Trim(out, `"`), ">") {
			t.Fatalf("%s made an entry of %d bytes (cap %d)", code[:10], len(out),
				MaxEntryText)
		}
	}

	// A panic on the kernel loop is an error entry; the kernel goes on.
	if err := k.do(func() { panic("boom") }); err != nil {
		t.Fatal(err)
	}
	e = waitFor(t, sub, func(e Entry) bool { return strings.Contains(e.Text, "boom") })
	if e.Kind != KindError || !strings.Contains(e.Text, "internal error") {
		t.Fatalf("a panic became %s %q", e.Kind, e.Text)
	}
	if got := result(t, k, "ctx.is_running()"); got != "False" {
		t.Fatalf("ctx.is_running() after too many failures = %s", got)
	}
	if got := result(t, k, "1 + 1"); got != "2" {
		t.Fatalf("after all that 1 + 1 = %s", got)
	}
}

// Attaching, subscribing, reading and leaving 200 times leaves no goroutine and no
// subscription behind.
func TestAttachDetachCyclesLeaveNothingBehind(t *testing.T) {
	k := startKernel(t, "1ms", "")
	ignore := goleak.IgnoreCurrent()
	for i := range 200 {
		c := k.Attach(Person{Name: fmt.Sprint("p", i), Role: alice.Role}, "ssh")
		sub := c.Subscribe(0)
		ctx, cancel := context.WithCancel(context.Background())
		if _, err := sub.Next(ctx); err != nil {
			t.Fatal(err)
		}
		// A reader waiting for more when its person leaves.
		waiting := make(chan error, 1)
		go func() {
			for {
				if _, err := sub.Next(ctx); err != nil {
					waiting <- err
					return
				}
			}
		}()
		if i%2 == 0 {
			cancel()
			sub.Close()
		} else {
			sub.Close()
			cancel()
		}
		<-waiting
		c.Detach()
	}
	if n := len(k.Who()); n != 0 {
		t.Fatalf("%d people still attached", n)
	}
	k.tr.mu.Lock()
	subs := len(k.tr.subs)
	k.tr.mu.Unlock()
	if subs != 0 {
		t.Fatalf("%d subscriptions left behind", subs)
	}
	goleak.VerifyNone(t, ignore)
}
