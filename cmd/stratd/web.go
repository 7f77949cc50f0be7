package main

import (
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/tui"
	"github.com/stratd/stratd/web"
)

// webUI is the REPL of a browser tab: the same model SSH sessions get.
func webUI(s *web.Session) tea.Model {
	return tui.New(s.Client, tui.Options{Context: s.Context, Width: s.Width,
		Height: s.Height})
}

// startWeb serves the browser terminal on addr beside SSH; "" serves none. The
// one-time login link logs in the person who started the daemon, as an admin,
// named like the local client key.
func (d *daemon) startWeb(a *app, addr string) error {
	if addr == "" {
		return nil
	}
	owner := kernel.Person{Name: localUser(), Role: keys.Admin}
	if id, ok := d.store.Lookup(d.store.ClientSigner().PublicKey()); ok {
		owner.Name = id.Name
	}
	srv, err := web.New(web.Config{
		Addr:     addr,
		Registry: d.reg,
		Tokens:   web.OpenTokens(a.home),
		Owner:    owner,
		UI:       webUI,
		Logger:   d.log,
	})
	if err != nil {
		return err
	}
	if _, err := srv.Listen(); err != nil {
		return err
	}
	d.web = srv
	go func() {
		if err := srv.Serve(); err != nil {
			d.log.Error("web server failed", "err", err)
		}
	}()
	return nil
}

// printWebHint prints the one-time login link of the browser terminal, if the
// daemon serves one, its label padded to width like the hints above it.
func (d *daemon) printWebHint(w io.Writer, width int) {
	if d.web == nil {
		return
	}
	fmt.Fprintf(w, "  %-*s%s  (one-time login link)\n", width,
		"web:", d.web.LoginURL())
}
