package main

import (
	"context"
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
	"github.com/stratd/stratd/strategy"
	"github.com/stratd/stratd/tui"
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

// runInteractive runs the kernel in this process with the REPL in this terminal. The
// kernel ends when the UI quits; with listen set, others can join over SSH meanwhile.
func (a *app) runInteractive(cfg *strategy.Config, listen string) error {
	var (
		d   *daemon
		reg *kernel.Registry
		err error
	)
	store, err := keys.Ensure(a.home, nil)
	if err != nil {
		return err
	}
	if listen != "" {
		if d, err = a.startDaemon(listen); err != nil {
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
		}
		return &exitCode{code: exitError, err: err}
	}
	defer func() {
		if d != nil {
			d.close()
		} else {
			reg.Close()
		}
	}()
	if d != nil {
		a.printHints(k, d)
	}

	// The person at this terminal owns the process: they are an admin, named like
	// the local client key.
	me := kernel.Person{Name: localUser(), Role: keys.Admin}
	if id, ok := store.Lookup(store.ClientSigner().PublicKey()); ok {
		me.Name = id.Name
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	model := tui.New(k.Attach(me, "local"), tui.Options{Context: ctx})
	p := tea.NewProgram(model, tea.WithInput(os.Stdin), tea.WithOutput(os.Stdout),
		tea.WithContext(ctx))
	if _, err := p.Run(); err != nil {
		return fmt.Errorf("run the REPL: %w", err)
	}
	return nil
}
