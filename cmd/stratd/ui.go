package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
	"github.com/stratd/stratd/strategy"
	"github.com/stratd/stratd/tui"
	"golang.org/x/term"
)

// sshUI is the REPL of an SSH session attached to one kernel.
func sshUI(u *sshd.UISession) tea.Model {
	return tui.New(u.Client, tui.Options{Context: u.Session.Context()})
}

// sshPicker lets an SSH session choose among several kernels.
func sshPicker(u *sshd.UISession) tea.Model {
	items := make([]tui.PickerItem, len(u.Kernels))
	for i, k := range u.Kernels {
		items[i] = tui.PickerItemFromStatus(k.Status())
	}
	attach := func(name string) (kernel.Client, error) {
		k, err := u.Registry.Get(name)
		if err != nil {
			return nil, err
		}
		return u.Attach(k), nil
	}
	return tui.NewPicker(items, attach, tui.Options{Context: u.Session.Context()})
}

// uiQuitGrace is how long the REPL gets to restore the terminal after a signal
// before it is killed.
const uiQuitGrace = 2 * time.Second

// runInteractive runs the kernel in this process with the REPL in this terminal. The
// kernel ends when the UI quits (Ctrl+D, SIGHUP when the terminal closes, SIGINT or
// SIGTERM), and so does its connection file; with listen set, others can join over
// SSH meanwhile.
//
// While the REPL owns the terminal, log lines would tear its screen: they are held
// back (the newest uiLogKeep bytes) and printed when it ends.
func (a *app) runInteractive(cfg *strategy.Config, listen string) error {
	if !term.IsTerminal(int(os.Stdin.Fd())) || !term.IsTerminal(int(os.Stdout.Fd())) {
		return usageError("the REPL needs a terminal; without one, run the kernel as a " +
			"daemon with --kernel-only and use `stratd exec`")
	}
	held := &uiLog{out: a.stderr}
	defer held.release()
	la := *a
	la.stderr = held

	store, err := keys.Ensure(a.home, nil)
	if err != nil {
		return err
	}
	var (
		d   *daemon
		reg *kernel.Registry
	)
	if listen != "" {
		if d, err = la.startDaemon(listen); err != nil {
			return err
		}
		reg = d.reg
	} else {
		reg = kernel.NewRegistry(kernel.RegistryOptions{Home: a.home, Version: version})
	}
	k, err := reg.Start(cfg.Path)
	if err != nil {
		if d != nil {
			d.close()
		} else {
			reg.Close()
		}
		return &exitCode{code: exitError, err: err}
	}
	// The person at this terminal owns the process: they are an admin, named like
	// the local client key.
	me := kernel.Person{Name: localUser(), Role: keys.Admin}
	if id, ok := store.Lookup(store.ClientSigner().PublicKey()); ok {
		me.Name = id.Name
	}
	defer func() {
		held.release() // the shutdown's own log lines are worth seeing as they happen
		// Already gone when someone ran `kernel stop` meanwhile.
		_ = reg.Stop(k.Name(), me.Name+" (quit the REPL)")
		if d != nil {
			d.close()
		} else {
			reg.Close()
		}
		fmt.Fprintf(a.stdout, "Kernel %s stopped; its transcript and account are kept in %s\n",
			k.Name(), kernel.StateDir(a.home, k.Name()))
	}()

	opts := tui.Options{Owner: true}
	if d != nil {
		// The hints a daemon prints, shown in the REPL where they can be seen.
		var hints bytes.Buffer
		ha := *a
		ha.stdout = &hints
		ha.printHints(k, d)
		opts.Notes = strings.Split(strings.TrimRight(hints.String(), "\n"), "\n")
	}
	return runREPL(k.Attach(me, "local"), opts)
}

// runREPL runs the REPL on this process's terminal until the person quits or a
// signal asks the process to end.
func runREPL(c kernel.Client, opts tui.Options) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts.Context = ctx
	model := tui.New(c, opts)
	defer model.Close()

	// The program's own handler knows SIGINT and SIGTERM but not SIGHUP, which is
	// what a closed terminal window sends; one handler here covers all three.
	sigCtx, stopSig := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stopSig()
	p := tea.NewProgram(model, tea.WithInput(os.Stdin), tea.WithOutput(os.Stdout),
		tea.WithoutSignalHandler())
	go func() {
		<-sigCtx.Done()
		if ctx.Err() != nil {
			return // the program ended by itself
		}
		p.Quit()
		select {
		case <-time.After(uiQuitGrace):
			p.Kill()
		case <-ctx.Done():
		}
	}()

	_, err := p.Run()
	cancel()
	if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("run the REPL: %w", err)
	}
	return nil
}

// uiLogKeep is how many bytes of log lines are held back while the REPL runs.
const uiLogKeep = 64 << 10

// uiLog holds log lines back while the REPL owns the terminal, keeping the newest,
// and writes them out on release; after that it writes straight through.
type uiLog struct {
	mu       sync.Mutex // protects the fields below
	out      io.Writer
	buf      []byte
	dropped  int // lines dropped to stay within uiLogKeep
	released bool
}

func (l *uiLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return l.out.Write(p)
	}
	l.buf = append(l.buf, p...)
	for len(l.buf) > uiLogKeep {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			i = len(l.buf) - uiLogKeep - 1
		}
		l.buf = l.buf[i+1:]
		l.dropped++
	}
	return len(p), nil
}

// release writes the lines held back and lets later ones through.
func (l *uiLog) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return
	}
	l.released = true
	if l.dropped > 0 {
		fmt.Fprintf(l.out, "(%d earlier log lines dropped)\n", l.dropped)
	}
	_, _ = l.out.Write(l.buf)
	l.buf = nil
}
