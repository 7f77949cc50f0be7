package sshd

import (
	"context"
	"runtime/debug"
	"strings"
	"time"

	"charm.land/ssh"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd/cmd"
)

// identityKey is the ssh.Context key of the session's keys.Identity.
type identityKey struct{}

// IdentityFromContext returns the identity of the person behind an SSH session's
// context (ssh.Session.Context()), set once the session's key was verified.
func IdentityFromContext(ctx context.Context) (keys.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(keys.Identity)
	return id, ok
}

// guard counts the session so that Shutdown can wait for it, and turns a panic in
// the session into an error for that client and a log line: the daemon keeps
// serving everyone else.
func (s *Server) guard(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if !s.enter() {
			writeLine(sess.Stderr(), "stratd is shutting down")
			_ = sess.Exit(cmd.ExitFailed)
			return
		}
		defer s.sessions.Done()
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in session", "remote", addrString(sess.RemoteAddr()),
					"panic", r, "stack", string(debug.Stack()))
				writeLine(sess.Stderr(), "internal error in stratd; the daemon's log has"+
					" the details")
				_ = sess.Exit(cmd.ExitFailed)
			}
		}()
		next(sess)
	}
}

// identify looks the person up from the key the client proved it holds, stores
// the identity in the session's context, counts the session against its key's cap
// and logs it. The lookup is repeated here, not trusted from authentication,
// because a client may offer several keys before it signs with one of them: the
// key a session has is the one whose signature the server checked.
func (s *Server) identify(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		id, ok := s.lookup(sess.PublicKey())
		if !ok {
			s.log.Warn("session refused: key no longer authorized",
				"remote", addrString(sess.RemoteAddr()))
			writeLine(sess.Stderr(), "permission denied: your key is not authorized")
			_ = sess.Exit(cmd.ExitFailed)
			return
		}
		sess.Context().SetValue(identityKey{}, id)

		release, err := s.openSession(sess, id)
		if err != nil {
			writeLine(sess.Stderr(), err.Error())
			_ = sess.Exit(cmd.ExitFailed)
			return
		}
		defer release()

		start := time.Now()
		s.log.Info("session", "person", id.Name, "role", id.Role,
			"remote", addrString(sess.RemoteAddr()), "fingerprint", id.Fingerprint,
			"command", describe(sess))
		next(sess)
		s.log.Debug("session ended", "person", id.Name,
			"duration", time.Since(start).Round(time.Millisecond))
	}
}

// lookup finds who a verified key belongs to; a session without a key (which the
// server never lets in) belongs to nobody.
func (s *Server) lookup(key ssh.PublicKey) (keys.Identity, bool) {
	if key == nil {
		return keys.Identity{}, false
	}
	return s.cfg.Auth.Lookup(key)
}

// describe says what a session asked for, for the log: its command (shortened),
// or "pty" for a terminal without a command.
func describe(sess ssh.Session) string {
	command := sess.RawCommand()
	if command == "" {
		if _, _, tty := sess.Pty(); tty {
			return "pty"
		}
		return "(none)"
	}
	const maxLen = 80
	if len(command) > maxLen {
		command = strings.ToValidUTF8(command[:maxLen], "") + "…"
	}
	return command
}

// route sends a terminal session without a command, or with `attach`, to the
// terminal UI and anything else to a fresh command tree.
func (s *Server) route(ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		id, _ := IdentityFromContext(sess.Context())
		p := kernel.Person{Name: id.Name, Role: id.Role}
		audit := s.auditLog(id, addrString(sess.RemoteAddr()))
		args := sess.Command()
		_, _, tty := sess.Pty()

		if name, ok := attachTarget(args); ok && tty {
			_ = sess.Exit(s.attach(sess, p, audit, name))
			return
		}

		keysChanged := false
		code := cmd.Run(cmd.Env{
			Ctx:         sess.Context(),
			Registry:    s.cfg.Registry,
			Person:      p,
			Addr:        addrString(s.Addr()),
			TTY:         tty,
			Stdin:       sess,
			Stdout:      sess,
			Stderr:      sess.Stderr(),
			Log:         audit,
			Keys:        s.cfg.Keys,
			KeysChanged: func() { keysChanged = true },
		}, args)
		_ = sess.Exit(code)

		// Checked only now, so that an admin who removed their own key still gets
		// the command's answer and exit status before the session is closed.
		if keysChanged {
			s.KeysChanged()
		}
	}
}

// attachTarget reports whether a command line asks for the terminal UI, and for
// which kernel ("" for the only one, or a pick).
func attachTarget(args []string) (name string, ok bool) {
	switch {
	case len(args) == 0:
		return "", true
	case args[0] != "attach" || len(args) > 2:
		return "", false
	case len(args) == 1:
		return "", true
	case strings.HasPrefix(args[1], "-"):
		return "", false // `attach --help` and the like go to the command
	default:
		return args[1], true
	}
}
