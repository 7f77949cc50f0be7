package kernel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"charm.land/log/v2"
	"github.com/stratd/stratd/strategy"
)

// accountName is the account snapshot inside a kernel's state folder.
const accountName = "account.json"

// saveEvery bounds how often the kernel loop hands a snapshot of the paper account to
// be written. A killed daemon loses at most the account changes of this last stretch
// (and the time the disk takes); the journal still shows them.
const saveEvery = 100 * time.Millisecond

// accountPath is the account snapshot of the kernel whose state folder is dir.
func accountPath(dir string) string { return filepath.Join(dir, accountName) }

// savedAccount is the account snapshot file: the paper account, how far the feed had
// got, and what the kernel itself must keep across a restart.
type savedAccount struct {
	Kernel  string    `json:"kernel"`
	Saved   time.Time `json:"saved"`
	LastSeq uint64    `json:"last_seq"` // the transcript's last entry when it was taken
	// Clean is true when a stop wrote the snapshot, false while the kernel runs: a
	// kernel that finds false was killed or crashed.
	Clean   bool                  `json:"clean"`
	Paused  bool                  `json:"paused"` // `kernel pause` was in force
	Account strategy.AccountState `json:"account"`
}

// accountBody is the part of a snapshot whose change is worth a write.
type accountBody struct {
	Paused  bool                  `json:"paused"`
	Account strategy.AccountState `json:"account"`
}

// loadAccount reads the account snapshot in dir; nil without one. A snapshot that
// cannot be read is an error: starting afresh would silently lose the account.
func loadAccount(dir string) (*savedAccount, error) {
	path := accountPath(dir)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read account snapshot %s: %w", path, err)
	}
	var s savedAccount
	err = json.Unmarshal(b, &s)
	if err == nil && !(s.Account.Capital > 0) {
		err = errors.New("it holds no account")
	}
	if err != nil {
		return nil, fmt.Errorf("account snapshot %s is unreadable (%v), so the kernel does "+
			"not start rather than lose the account: fix the file, or move it aside to "+
			"start with a fresh account: mv %s %s.bad", path, err, path, path)
	}
	return &s, nil
}

// writeAtomic replaces path with b so that a crash at any moment leaves either the
// old file or the new one, whole: a temporary file, fsync, rename, fsync the folder.
func writeAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// accountSaver writes account snapshots on its own goroutine, so a slow disk never
// holds up the kernel loop. Only the newest snapshot waits to be written: one that
// arrives while another is being written replaces any older one still waiting.
type accountSaver struct {
	path   string
	log    *log.Logger
	report func(failed bool, err error) // told when saving starts failing or works again

	mu      sync.Mutex // protects pending
	pending []byte

	wake chan struct{}
	quit chan struct{}
	done chan struct{}
}

func newAccountSaver(dir string, logger *log.Logger,
	report func(bool, error)) *accountSaver {
	s := &accountSaver{
		path:   accountPath(dir),
		log:    logger,
		report: report,
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go s.run()
	return s
}

// save queues b to be written.
func (s *accountSaver) save(b []byte) {
	s.mu.Lock()
	s.pending = b
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// close writes what is still waiting and ends the saver.
func (s *accountSaver) close() {
	close(s.quit)
	<-s.done
}

func (s *accountSaver) run() {
	defer close(s.done)
	failing := false
	for {
		quit := false
		select {
		case <-s.wake:
		case <-s.quit:
			quit = true
		}
		s.mu.Lock()
		b := s.pending
		s.pending = nil
		s.mu.Unlock()
		if b != nil {
			err := writeAtomic(s.path, b)
			if err != nil {
				s.log.Error("account snapshot not written", "path", s.path, "err", err)
			}
			if (err != nil) != failing {
				failing = err != nil
				s.report(failing, err)
			}
		}
		if quit {
			return
		}
	}
}

// describeRestore is the text of the system entry that says what a restart restored.
func describeRestore(path string, s *savedAccount, snap strategy.Snapshot) string {
	var b strings.Builder
	how := "after a clean stop"
	if !s.Clean {
		how = "after the daemon was killed or crashed; changes in its last moments " +
			"may be missing"
	}
	fmt.Fprintf(&b, "account restored from %s, saved %s (entry %d) %s: ",
		path, s.Saved.Format(time.RFC3339), s.LastSeq, how)
	b.WriteString(describeAccount(s.Account, snap))
	b.WriteString("; ctx.is_restart() is True")
	if s.Account.HooksPaused {
		b.WriteString("; the hooks were paused and stay paused: ctx.resume() resumes them")
	}
	if s.Paused {
		b.WriteString("; the kernel was paused and stays paused: `kernel resume` resumes it")
	}
	return b.String()
}

// describeAccount summarises an account: cash, equity, positions, open orders, PnL and
// where the market stands.
func describeAccount(a strategy.AccountState, snap strategy.Snapshot) string {
	var held []string
	realised := 0.0
	for _, p := range a.Positions {
		realised += p.RealizedPnL
		if p.Quantity != 0 {
			held = append(held, fmt.Sprintf("%s %g @ %.2f", p.Symbol, p.Quantity, p.AvgPrice))
		}
	}
	sort.Strings(held)
	positions := "no positions"
	if len(held) > 0 {
		positions = "positions " + strings.Join(held, ", ")
	}
	market := "no bars yet"
	if a.Bars > 0 {
		market = fmt.Sprintf("market time %s (bar %d)", a.MarketTime.Format(time.RFC3339),
			a.Bars)
	}
	return fmt.Sprintf("cash %.2f, equity %.2f, %s, %d open order(s), realised PnL %+.2f, %s",
		a.Cash, snap.Equity, positions, len(a.OpenOrders), realised, market)
}

// saveAccount hands a snapshot of the account to the saver when it changed, or
// always when clean (a stop). Loop goroutine only: it reads the runtime.
func (k *Kernel) saveAccount(clean bool) {
	if k.saver == nil {
		return
	}
	k.accountChanged.Store(false)
	a := k.rt.AccountState()
	paused := k.currentState() == StatePaused
	body, err := json.Marshal(accountBody{Paused: paused, Account: a})
	if err == nil && !clean && bytes.Equal(body, k.savedBody) {
		return
	}
	var file []byte
	if err == nil {
		file, err = json.MarshalIndent(savedAccount{
			Kernel:  k.name,
			Saved:   time.Now().UTC(),
			LastSeq: k.tr.last(),
			Clean:   clean,
			Paused:  paused,
			Account: a,
		}, "", "  ")
	}
	if err != nil {
		// Only a NaN or infinite amount gets here; say so once, not every tick.
		if !k.saveBroken {
			k.saveBroken = true
			k.tr.append(KindError, OriginSystem, "the account cannot be saved: "+err.Error())
			k.log.Error("encode account snapshot", "err", err)
		}
		return
	}
	k.saveBroken = false
	k.saver.save(append(file, '\n'))
	k.savedBody = body
	k.lastSave = time.Now()
}
