package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/log/v2"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/strategy"
)

// statusEvery bounds how often a kernel publishes its status to subscribers. Status
// goes out only when something changed, and never more often than this.
const statusEvery = 100 * time.Millisecond

// holdInput is how long the updates of one input are held back so that a quick
// input's entry, output and status go out together (transcript.hold): short
// enough that nobody sees the wait.
const holdInput = 5 * time.Millisecond

// maxQueued is how many inputs may wait behind the running one.
const maxQueued = 256

// Options configures a kernel.
type Options struct {
	// StateDir is the folder of the journal and the account snapshot; "" keeps both
	// in memory only. A kernel locks it while it runs.
	StateDir string
	Logger   *log.Logger // may be nil
}

// Kernel is one running strategy with its transcript. All strategy state belongs to
// the kernel loop goroutine; the exported methods may be called from any goroutine.
type Kernel struct {
	name    string
	log     *log.Logger
	tr      *transcript
	started time.Time

	inputs   chan struct{} // wakes the loop when queue grows
	control  chan func()   // run on the loop goroutine
	stopReq  chan string   // who asked the kernel to stop
	stopping atomic.Bool   // set just before stopReq is sent
	dirty    chan struct{} // something outside the loop changed the status
	done     chan struct{} // closed when the loop has ended
	stopOnce sync.Once

	stateDir string
	lock     *os.File      // holds the state folder's lock; nil in memory
	saver    *accountSaver // nil in memory
	// accountChanged is set by order and fill entries: the account changed and is
	// worth saving before the next status tick.
	accountChanged atomic.Bool
	savedBody      []byte    // what was last handed to saver; loop only
	lastSave       time.Time // loop only
	saveBroken     bool      // the account does not encode; loop only

	mu       sync.Mutex // protects the fields below
	queue    []*job
	running  *job
	state    State
	attached map[*session]Attachment
	cfg      *strategy.Config  // replaced by Restart
	rt       *strategy.Runtime // replaced by Restart; the loop alone calls it, but Cancel
}

// job is one input waiting to run or running.
type job struct {
	person      Person
	code        string
	interrupter string        // who interrupted it, if anyone; guarded by Kernel.mu
	result      ExecResult    // filled by the loop while it runs
	done        chan struct{} // closed when it has run
}

// ExecResult is what one input produced.
type ExecResult struct {
	Entries []Entry // the input's output entries (result, stdout, error, log, order...)
	Failed  bool    // the input raised an error or was interrupted
}

// New builds a kernel for cfg: it locks the state folder, replays the journal,
// compiles the strategy and restores the paper account saved there, then starts the
// kernel loop. A strategy that does not compile, a state folder another process uses,
// or an account snapshot that cannot be read or restored returns an error and no
// kernel: starting with a fresh account would silently lose the saved one.
func New(cfg *strategy.Config, opts Options) (_ *Kernel, err error) {
	logger := opts.Logger
	if logger == nil {
		logger = log.New(nilWriter{})
	}
	logger = logger.With("kernel", cfg.Name)

	var lock *os.File
	var saved *savedAccount
	if dir := opts.StateDir; dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("kernel %s: create state folder: %w", cfg.Name, err)
		}
		if lock, err = lockState(dir); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", cfg.Name, err)
		}
		defer func() {
			if err != nil {
				lock.Close()
			}
		}()
		if saved, err = loadAccount(dir); err != nil {
			return nil, fmt.Errorf("kernel %s: %w", cfg.Name, err)
		}
	}

	tr, err := openTranscript(opts.StateDir, cfg.Kernel.History, logger)
	if err != nil {
		return nil, fmt.Errorf("kernel %s: %w", cfg.Name, err)
	}
	k := &Kernel{
		name:     cfg.Name,
		cfg:      cfg,
		log:      logger,
		tr:       tr,
		started:  time.Now().UTC(),
		inputs:   make(chan struct{}, 1),
		control:  make(chan func()),
		stopReq:  make(chan string, 1),
		dirty:    make(chan struct{}, 1),
		done:     make(chan struct{}),
		state:    StateStarting,
		attached: make(map[*session]Attachment),
		stateDir: opts.StateDir,
		lock:     lock,
	}
	rt, err := strategy.New(cfg, k.output())
	if err == nil && saved != nil {
		if err = rt.RestoreAccount(saved.Account); err != nil {
			path := accountPath(opts.StateDir)
			err = fmt.Errorf("kernel %s: %w: put them back in the config, or move the "+
				"account snapshot aside to start with a fresh account: mv %s %s.bad",
				cfg.Name, err, path, path)
		}
	}
	if err != nil {
		tr.close()
		return nil, err
	}
	k.rt = rt
	k.begin(saved)
	go k.loop()
	logger.Info("kernel started", "strategy", cfg.Strategy, "restored", saved != nil)
	return k, nil
}

// begin records the start, calls on_start and writes the first account snapshot.
// With saved, the kernel resumes that account: ctx.is_restart() is True and a system
// entry says what came back.
func (k *Kernel) begin(saved *savedAccount) {
	what := fmt.Sprintf("kernel %s started (strategy %s)", k.name, baseName(k.cfg.Strategy))
	if last := k.tr.last(); last > 0 {
		what = fmt.Sprintf("kernel %s restarted (strategy %s), the transcript goes on "+
			"after entry %d", k.name, baseName(k.cfg.Strategy), last)
	}
	if saved != nil && !saved.Clean {
		what += "; the daemon was killed or crashed last time"
	}
	k.emit(KindSystem, OriginSystem, what)

	state := StateRunning
	if saved != nil {
		k.rt.MarkRestart()
		if saved.Paused {
			state = StatePaused
		}
		k.emit(KindSystem, OriginSystem, describeRestore(accountPath(k.stateDir), saved,
			k.rt.Snapshot()))
	}
	if err := k.call("on_start", k.rt.Start); err != nil {
		k.emit(KindError, strategy.OriginStrategy, "on_start: "+err.Error())
	}
	k.setState(state)
	k.publish()

	if k.stateDir != "" {
		k.saver = newAccountSaver(k.stateDir, k.log, k.reportSaving)
		// The first snapshot says the kernel runs (not clean), so a crash from now on
		// is told apart from a stop.
		k.saveAccount(false)
	}
}

// reportSaving tells everyone when the account snapshot cannot be written, and when
// it can again. It goes straight to the transcript: it belongs to no input.
func (k *Kernel) reportSaving(failed bool, err error) {
	if failed {
		k.tr.append(KindError, OriginSystem, fmt.Sprintf("the account snapshot cannot be "+
			"written (%v): after a restart the account would be older than this; free "+
			"disk space or fix %s", err, k.stateDir))
		return
	}
	k.tr.append(KindSystem, OriginSystem, "the account snapshot is written again")
}

type nilWriter struct{}

func (nilWriter) Write(p []byte) (int, error) { return len(p), nil }

// output adapts the transcript to strategy.Output, and collects the output of the
// input that is running.
func (k *Kernel) output() strategy.Output { return kernelOutput{k} }

type kernelOutput struct{ k *Kernel }

func (o kernelOutput) Emit(kind, origin, text string) {
	o.k.emit(Kind(kind), origin, text)
}

// emit appends an entry. On the loop goroutine it also adds the entry to the output
// of the running input.
func (k *Kernel) emit(kind Kind, origin, text string) Entry {
	e := k.tr.append(kind, origin, text)
	if kind == KindOrder || kind == KindFill {
		k.accountChanged.Store(true)
	}
	k.mu.Lock()
	if j := k.running; j != nil && kind != KindInput && kind != KindSystem {
		j.result.Entries = append(j.result.Entries, e)
	}
	k.mu.Unlock()
	return e
}

// Name is the kernel's name.
func (k *Kernel) Name() string { return k.name }

// Config is the config the kernel runs, as loaded at start or at the last Restart.
func (k *Kernel) Config() *strategy.Config {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cfg
}

// Started is when this kernel started.
func (k *Kernel) Started() time.Time { return k.started }

// Done is closed once the kernel has stopped.
func (k *Kernel) Done() <-chan struct{} { return k.done }

// Subscribe returns the transcript after since, then the live stream.
func (k *Kernel) Subscribe(since uint64) Subscriber { return k.tr.subscribe(since) }

// History returns the last n entries held in memory (all of them when n <= 0).
func (k *Kernel) History(n int) []Entry { return k.tr.tail(n) }

// Status returns the status last published.
func (k *Kernel) Status() Status { return k.tr.currentStatus() }

// Who lists the people attached now, longest attached first.
func (k *Kernel) Who() []Attachment {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.whoLocked()
}

func (k *Kernel) whoLocked() []Attachment {
	out := make([]Attachment, 0, len(k.attached))
	for _, a := range k.attached {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Exec runs code for p and waits for its output. If ctx ends first the input still
// runs and its output still lands in the transcript.
func (k *Kernel) Exec(ctx context.Context, p Person, code string) (ExecResult, error) {
	j, err := k.submit(p, code)
	if err != nil {
		return ExecResult{}, err
	}
	select {
	case <-j.done:
		return j.result, nil
	case <-ctx.Done():
		return ExecResult{}, ctx.Err()
	case <-k.done:
		return ExecResult{}, ErrStopped
	}
}

// submit queues an input. Viewers may not run code.
func (k *Kernel) submit(p Person, code string) (*job, error) {
	if !p.Role.Allows(keys.Operator) {
		return nil, ErrReadOnly
	}
	if strings.TrimSpace(code) == "" {
		return nil, errors.New("nothing to run: the code is empty")
	}
	j := &job{person: p, code: code, done: make(chan struct{})}
	k.mu.Lock()
	if k.state == StateStopped {
		k.mu.Unlock()
		return nil, ErrStopped
	}
	if len(k.queue) >= maxQueued {
		k.mu.Unlock()
		return nil, fmt.Errorf("input queue full (%d waiting): interrupt the running input "+
			"or wait", maxQueued)
	}
	k.queue = append(k.queue, j)
	k.mu.Unlock()
	k.wake(k.inputs)
	k.wake(k.dirty)
	return j, nil
}

func (k *Kernel) wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Interrupt stops the running input on behalf of by; false if nothing was running.
// Hooks are not interrupted: the step limit bounds them.
func (k *Kernel) Interrupt(by Person) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	j := k.running
	if j == nil {
		return false
	}
	if j.interrupter == "" {
		j.interrupter = by.Name
	}
	// The loop clears running under mu, then the cancel, before the runtime starts
	// anything else: so this stops the input, even one whose thread has not started
	// yet, and never a hook.
	k.rt.Cancel("interrupted by " + by.Name)
	return true
}

// Stop stops the kernel and waits until it has stopped: it cancels whatever Starlark
// code is running (an input or a hook), fails the queued inputs, calls on_stop, and
// writes the journal and the account snapshot to disk.
func (k *Kernel) Stop(by string) {
	k.stopOnce.Do(func() {
		k.stopping.Store(true)
		k.mu.Lock()
		k.rt.Cancel("the kernel is stopping (stop by " + by + ")")
		k.mu.Unlock()
		k.stopReq <- by
	})
	<-k.done
}

// Pause stops delivering bars until Resume; inputs still run.
func (k *Kernel) Pause(by string) error { return k.setPaused(true, by) }

// Resume delivers bars again after Pause.
func (k *Kernel) Resume(by string) error { return k.setPaused(false, by) }

func (k *Kernel) setPaused(paused bool, by string) error {
	return k.do(func() {
		k.mu.Lock()
		from := k.state
		if paused && from == StateRunning {
			k.state = StatePaused
		} else if !paused && from == StatePaused {
			k.state = StateRunning
		}
		to := k.state
		k.mu.Unlock()
		if from != to {
			k.emit(KindSystem, OriginSystem, fmt.Sprintf("%s by %s", to, by))
			k.log.Info("kernel "+string(to), "by", by)
		}
	})
}

// do runs f on the loop goroutine and waits for it. It waits behind a running input.
func (k *Kernel) do(f func()) error {
	done := make(chan struct{})
	select {
	case k.control <- func() { defer close(done); f() }:
	case <-k.done:
		return ErrStopped
	}
	<-done
	return nil
}

// complete asks the loop for completions; it gives up when ctx ends (an input may be
// running for a long time).
func (k *Kernel) complete(ctx context.Context, text string) []string {
	reply := make(chan []string, 1)
	select {
	case k.control <- func() { reply <- k.rt.Complete(text) }:
	case <-ctx.Done():
		return nil
	case <-k.done:
		return nil
	}
	select {
	case r := <-reply:
		return r
	case <-ctx.Done():
		return nil
	}
}

func (k *Kernel) setState(s State) {
	k.mu.Lock()
	k.state = s
	k.mu.Unlock()
}

// publish sends the current status to subscribers. Loop goroutine only (it reads the
// runtime).
func (k *Kernel) publish() {
	k.mu.Lock()
	st := Status{
		Name:        k.cfg.Name,
		Strategy:    baseName(k.cfg.Strategy),
		Description: k.cfg.Description,
		State:       k.state,
		Busy:        k.running != nil,
		Queued:      len(k.queue),
		Attached:    k.whoLocked(),
		Started:     k.started,
	}
	k.mu.Unlock()
	st.Account = k.rt.Snapshot()
	k.tr.publish(st)
}

// ready is always ready to receive from: the loop selects on it to step the feed as
// fast as it can while still taking inputs and control requests in turn.
var ready = func() chan time.Time { c := make(chan time.Time); close(c); return c }()

// loop is the kernel loop: the only goroutine that touches the strategy runtime.
func (k *Kernel) loop() {
	defer close(k.done)

	interval := k.rt.Interval()
	var ticks <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		ticks = t.C
	}
	statusTick := time.NewTicker(statusEvery)
	defer statusTick.Stop()
	feedDone := false
	dirty := false   // the status may have changed since it was last published
	unsaved := false // the account may have changed since it was last saved

	for {
		if k.stopping.Load() {
			k.shutdown(<-k.stopReq)
			return
		}
		if j := k.nextJob(); j != nil {
			k.run(j)
			// run published the status as the input ended.
			dirty, unsaved = false, true
			k.saveIfTraded()
			continue
		}
		bars := ticks
		if interval == 0 {
			bars = ready
		}
		if feedDone || k.currentState() != StateRunning {
			bars = nil
		}
		select {
		case by := <-k.stopReq:
			k.shutdown(by)
			return
		case f := <-k.control:
			k.guard("a control request", f)
			dirty, unsaved = true, true
		case <-k.inputs:
		case <-k.dirty:
			dirty = true
		case <-bars:
			feedDone = !k.step()
			dirty, unsaved = true, true
		case <-statusTick.C:
			if dirty {
				k.guard("publishing the status", k.publish)
				dirty = false
			}
			if unsaved {
				k.guard("saving the account", func() { k.saveAccount(false) })
				unsaved = false
			}
		}
		k.saveIfTraded()
	}
}

// saveIfTraded saves the account soon after an order or fill, rather than at the next
// status tick, but no more often than saveEvery.
func (k *Kernel) saveIfTraded() {
	if k.accountChanged.Load() && time.Since(k.lastSave) >= saveEvery {
		k.guard("saving the account", func() { k.saveAccount(false) })
	}
}

// guard runs f on the loop and turns a panic into an error entry: a bug in a control
// request or in the runtime's accessors must not take down the daemon.
func (k *Kernel) guard(what string, f func()) {
	err := k.call(what, func() error { f(); return nil })
	if err != nil {
		k.tr.append(KindError, OriginSystem, err.Error())
	}
}

func (k *Kernel) currentState() State {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state
}

// nextJob takes the next queued input and marks it running.
func (k *Kernel) nextJob() *job {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.queue) == 0 {
		return nil
	}
	j := k.queue[0]
	k.queue[0] = nil
	k.queue = k.queue[1:]
	return j
}

// run executes one input: its input entry first, then whatever it prints, then its
// result or error.
//
// Subscribers hear of it all at once when the input finishes within holdInput,
// or else at holdInput and from then on as it comes.
func (k *Kernel) run(j *job) {
	gen := k.tr.hold()
	slow := time.AfterFunc(holdInput, func() { k.tr.release(gen) })
	defer func() {
		slow.Stop()
		k.tr.release(gen)
	}()

	k.emit(KindInput, j.person.Name, j.code)
	k.mu.Lock()
	k.running = j
	k.mu.Unlock()
	k.publish()

	var result string
	err := k.call("input", func() error {
		var err error
		result, err = k.rt.Exec(j.person.Name, j.code)
		return err
	})

	k.mu.Lock()
	interrupter := j.interrupter
	k.mu.Unlock()
	switch {
	case err != nil && interrupter != "":
		k.emit(KindError, j.person.Name, "interrupted by "+interrupter)
		j.result.Failed = true
	case err != nil:
		k.emit(KindError, j.person.Name, err.Error())
		j.result.Failed = true
	case result != "":
		k.emit(KindResult, j.person.Name, result)
	}

	k.mu.Lock()
	k.running = nil
	k.mu.Unlock()
	// Interrupt cancels only while running is set, so nothing can re-arm it now.
	k.rt.ClearCancel()
	// Idle again: said now, with the output, rather than at the next status tick.
	k.guard("publishing the status", k.publish)
	close(j.done)
}

// step delivers one bar time to the strategy; false once the feed has ended.
func (k *Kernel) step() bool {
	more := true
	if err := k.call("on_bar", func() error { more = k.rt.Step(); return nil }); err != nil {
		k.emit(KindError, strategy.OriginStrategy, err.Error())
	}
	if !more {
		k.emit(KindSystem, OriginSystem, "the feed has no more bars")
	}
	return more
}

// call runs f and turns a panic into an error, so a bug below never takes down the
// kernel or the daemon.
func (k *Kernel) call(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			k.log.Error("panic in strategy runtime", "during", what, "panic", r,
				"stack", string(debug.Stack()))
			err = fmt.Errorf("internal error during %s: %v", what, r)
		}
	}()
	return f()
}

// shutdown calls on_stop, fails the queued inputs, saves the account and closes the
// transcript.
func (k *Kernel) shutdown(by string) {
	// Stop cancelled whatever ran; on_stop must run.
	k.rt.ClearCancel()
	if err := k.call("on_stop", k.rt.Stop); err != nil {
		k.emit(KindError, strategy.OriginStrategy, "on_stop: "+err.Error())
	}
	// Saved before the state turns to stopped, so a paused kernel comes back paused.
	if k.saver != nil {
		k.guard("saving the account", func() { k.saveAccount(true) })
		k.saver.close()
	}
	k.mu.Lock()
	k.state = StateStopped
	queued := k.queue
	k.queue = nil
	k.mu.Unlock()
	for _, j := range queued {
		j.result.Failed = true
		close(j.done)
	}
	k.emit(KindSystem, OriginSystem, "kernel stopped by "+by)
	k.guard("publishing the status", k.publish)
	k.tr.close()
	if k.lock != nil {
		k.lock.Close()
	}
	k.log.Info("kernel stopped", "by", by)
}

func baseName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// Restart builds a fresh interpreter and strategy from the config file, keeping the
// transcript, the kernel's name and the paper account (so ctx.is_restart() is True in
// the new on_start). If the new strategy does not compile, or the account does not fit
// its instruments, the old one keeps running and the error is returned. Restart waits
// behind a running input.
func (k *Kernel) Restart(by string) error {
	var err error
	if derr := k.do(func() { err = k.restart(by) }); derr != nil {
		return derr
	}
	return err
}

func (k *Kernel) restart(by string) error {
	cfg, err := strategy.LoadConfig(k.Config().Path)
	if err == nil && cfg.Name != k.name {
		err = fmt.Errorf("the config now names kernel %q, not %q: restart cannot rename "+
			"a kernel; stop it and start the new config", cfg.Name, k.name)
	}
	var rt *strategy.Runtime
	if err == nil {
		rt, err = strategy.New(cfg, k.output())
	}
	if err == nil {
		// Try the account on the new strategy before the old one is stopped.
		err = rt.RestoreAccount(k.rt.AccountState())
	}
	if err != nil {
		k.emit(KindError, OriginSystem, "restart failed, the old strategy keeps running: "+
			err.Error())
		return err
	}
	if err := k.call("on_stop", k.rt.Stop); err != nil {
		k.emit(KindError, strategy.OriginStrategy, "on_stop: "+err.Error())
	}
	// on_stop may have traded: carry over the account as it is now.
	account := k.rt.AccountState()
	if err := rt.RestoreAccount(account); err != nil {
		k.emit(KindError, OriginSystem, "restart failed, the old strategy keeps running: "+
			err.Error())
		return err
	}
	rt.MarkRestart()
	k.mu.Lock()
	k.rt = rt
	k.cfg = cfg
	k.mu.Unlock()
	k.emit(KindSystem, OriginSystem, "kernel restarted by "+by+" with a fresh interpreter; "+
		"the account goes on: "+describeAccount(account, rt.Snapshot()))
	if err := k.call("on_start", rt.Start); err != nil {
		k.emit(KindError, strategy.OriginStrategy, "on_start: "+err.Error())
	}
	k.log.Info("kernel restarted", "by", by)
	return nil
}
