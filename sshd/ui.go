package sshd

import (
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"charm.land/ssh"
	"github.com/charmbracelet/colorprofile"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/sshd/cmd"
	"github.com/stratd/stratd/tui/screen"
	gossh "golang.org/x/crypto/ssh"
)

// UIFunc builds the terminal UI (a Bubble Tea model) of one SSH session with a
// terminal. The server runs the model on the session and ends the session when it
// quits; a nil model ends the session with exit status 1. Wired with the tui
// package it looks something like:
//
//	UI: func(u *sshd.UISession) tea.Model {
//		return tui.New(u.Client, tui.Options{})
//	},
//	Picker: func(u *sshd.UISession) tea.Model {
//		return tui.NewPicker(u.Kernels, u.Attach)
//	},
type UIFunc func(u *UISession) tea.Model

// UISession is what a terminal UI gets for one SSH session.
type UISession struct {
	// Session is the SSH session; the UI learns its size from tea.WindowSizeMsg.
	Session ssh.Session
	// Person is who is connected; a viewer's UI must be read-only (the kernel
	// refuses their input anyway).
	Person kernel.Person
	// Registry holds the daemon's kernels.
	Registry *kernel.Registry
	// Client is the kernel the session is attached to (for Config.UI); nil for
	// Config.Picker.
	Client kernel.Client
	// Kernels are the running kernels to pick from (for Config.Picker).
	Kernels []*kernel.Kernel

	audit *log.Logger // the session's audit log

	mu      sync.Mutex // protects clients
	clients []kernel.Client
}

// Attach attaches the session's person to k (via "ssh") and returns the client,
// which writes every input and interrupt to the audit log. Every client attached
// this way is detached when the session ends, however it ends; detaching earlier
// is allowed.
func (u *UISession) Attach(k *kernel.Kernel) kernel.Client {
	var c kernel.Client = k.Attach(u.Person, "ssh")
	if u.audit != nil {
		c = &auditedClient{Client: c, log: u.audit, kernel: k.Name()}
	}
	u.mu.Lock()
	u.clients = append(u.clients, c)
	u.mu.Unlock()
	return c
}

// detachAll detaches every client the session attached. Detach is idempotent, so
// a client the UI already detached is no trouble.
func (u *UISession) detachAll() {
	u.mu.Lock()
	clients := u.clients
	u.clients = nil
	u.mu.Unlock()

	for _, c := range clients {
		c.Detach()
	}
}

// attach runs the terminal UI for a session and returns its exit status. name is
// the kernel asked for with `attach NAME`, or "".
func (s *Server) attach(sess ssh.Session, p kernel.Person, audit *log.Logger,
	name string) int {
	if err := cmd.Authorize("attach", p); err != nil {
		writeLine(sess.Stderr(), err.Error())
		return cmd.ExitCode(err)
	}
	if s.cfg.UI == nil {
		writeLine(sess.Stderr(), "this daemon has no terminal UI; run a command instead,"+
			" for example `kernel list`")
		return cmd.ExitFailed
	}

	u := &UISession{Session: sess, Person: p, Registry: s.cfg.Registry, audit: audit}
	defer u.detachAll()

	build := s.cfg.UI
	if name != "" {
		k, err := cmd.FindKernel(s.cfg.Registry, name)
		if err != nil {
			writeLine(sess.Stderr(), err.Error())
			return cmd.ExitCode(err)
		}
		u.Client = u.Attach(k)
	} else {
		kernels := s.cfg.Registry.List()
		switch {
		case len(kernels) == 0:
			writeLine(sess.Stderr(), "no kernels running; start one with `"+
				sshHint(sess)+" kernel start CONFIG`")
			return cmd.ExitFailed
		case len(kernels) == 1:
			u.Client = u.Attach(kernels[0])
		case s.cfg.Picker == nil:
			writeLine(sess.Stderr(), fmt.Sprintf("%d kernels running (%s); pick one with `%s"+
				" -t attach NAME`", len(kernels), kernelNames(kernels), sshHint(sess)))
			return cmd.ExitUsage
		default:
			u.Kernels = kernels
			build = s.cfg.Picker
		}
	}

	model := build(u)
	if model == nil {
		writeLine(sess.Stderr(), "the terminal UI did not start")
		return cmd.ExitFailed
	}
	s.runUI(sess, model)
	return cmd.ExitOK
}

func kernelNames(kernels []*kernel.Kernel) string {
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.Name()
	}
	return strings.Join(names, ", ")
}

// runUI runs model on the session until it quits or the session ends (the client
// went, or the server is closing).
//
// The program draws through a screen.Screen rather than Bubble Tea's renderer and
// reads keys through screen.ReadInput rather than Bubble Tea's reader: frames go
// out as soon as they are made, only the changed lines are written, and no
// per-session cell grids, frame clock or key table are kept, which is what lets
// hundreds of sessions watch one kernel. The program itself writes nowhere.
//
// The program is not given the session's context with tea.WithContext: a
// cancelled program returns an error, and a client leaving is the ordinary way for
// a session to end.
func (s *Server) runUI(sess ssh.Session, model tea.Model) {
	pty, winch, _ := sess.Pty()
	pty.Window = sized(pty.Window)
	env := append(sess.Environ(), "TERM="+pty.Term)
	profile := colorprofile.Env(env)
	p, scr := screen.NewProgram(model, terminalWriter(sess), sess, profile,
		tea.WithEnvironment(env),
		tea.WithWindowSize(pty.Window.Width, pty.Window.Height),
	)
	defer scr.Close()

	ended := make(chan struct{})
	defer close(ended)
	go func() {
		gone := sess.Context().Done()
		for {
			select {
			case w, ok := <-winch:
				if !ok {
					// The session's requests are over; its end still quits.
					winch = nil
					continue
				}
				w = sized(w)
				p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
			case <-gone:
				p.Quit()
				gone = nil
			case <-ended:
				// The SSH library must never block delivering a window change.
				if winch != nil {
					for range winch {
					}
				}
				return
			}
		}
	}()

	if _, err := p.Run(); err != nil {
		s.log.Error("terminal UI failed", "user", sess.User(), "err", err)
	}
}

// defaultWindow is the size assumed for a terminal that reports none: `ssh -tt`
// run without a local terminal asks for a 0x0 one, where nothing can be drawn.
var defaultWindow = ssh.Window{Width: 80, Height: 24}

func sized(w ssh.Window) ssh.Window {
	if w.Width <= 0 || w.Height <= 0 {
		w.Width, w.Height = defaultWindow.Width, defaultWindow.Height
	}
	return w
}

// sshHint is the ssh command line that reaches this server, as the client
// connected to it: "ssh -p 2222 127.0.0.1".
func sshHint(sess ssh.Session) string {
	host, port, err := net.SplitHostPort(addrString(sess.LocalAddr()))
	if err != nil {
		return "ssh HOST"
	}
	return fmt.Sprintf("ssh -p %s %s", port, host)
}

// terminalWriter returns what a terminal session's screen writes to: the SSH
// channel itself, found by reflection, or else the session. The session's own
// Write copies every write to turn "\n" into "\r\n" for its emulated terminal;
// the screen never writes a bare "\n" (it moves the cursor instead), and those
// copies were a quarter of the garbage of a daemon drawing for hundreds of
// sessions. TestTerminalWriterFindsTheChannel notices if the library changes.
func terminalWriter(sess ssh.Session) io.Writer {
	v := reflect.ValueOf(sess)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return sess
	}
	f := v.Elem().FieldByName("Channel")
	if !f.IsValid() || !f.CanInterface() {
		return sess
	}
	if ch, ok := f.Interface().(gossh.Channel); ok && ch != nil {
		return ch
	}
	return sess
}
