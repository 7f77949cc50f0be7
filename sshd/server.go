// Package sshd is stratd's SSH server. It lets people reach the kernels of a daemon
// with any SSH client: with a terminal they attach to a kernel's REPL, without one
// they run commands (`kernel list`, `exec`, `history --follow`…, see package
// sshd/cmd).
//
// Only public keys are accepted: no passwords, no keyboard-interactive. A key's
// identity (the name others see and the role) comes from an Authorizer, normally the
// daemon's authorized_keys; the SSH user name is ignored. Sessions run through a short
// middleware chain:
//
//	guard     counts the session (Close waits for it) and recovers its panics
//	identify  resolves the person from the verified key, caps the sessions per key,
//	          and logs the session
//	route     sends it to the terminal UI or to a fresh command tree
//
// Limits (limits.go) refuse sources that connect too fast or fail to log in too
// often, and give a connection little time to log in. The keys of open sessions are
// checked again every second and whenever KeysChanged is called: a session whose key
// was removed, or lowered in role, is closed (sessions.go). Every input, kernel
// control and key change goes to the audit log (prefix "audit") with who and from
// where.
//
// The terminal UI itself is not part of this package: Config.UI and Config.Picker
// build it.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"charm.land/log/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd/cmd"
	gossh "golang.org/x/crypto/ssh"
)

// Authorizer says who a public key belongs to. *keys.Store implements it.
type Authorizer interface {
	// Lookup returns the identity of an authorized key, and false for any other.
	Lookup(key gossh.PublicKey) (keys.Identity, bool)
}

// Config configures a Server.
type Config struct {
	// Addr is the TCP address to listen on; "127.0.0.1:0" picks a free port.
	Addr string
	// HostSigner is the daemon's host key.
	HostSigner gossh.Signer
	// Auth decides which keys get in and who they are.
	Auth Authorizer
	// Registry holds the kernels people attach to and command.
	Registry *kernel.Registry
	// UI builds the terminal UI of a session attached to one kernel (UISession.Client
	// is set). When nil, terminal sessions are told to run a command instead.
	UI UIFunc
	// Picker builds the UI of a terminal session without a kernel name while
	// several kernels run: it lets the person pick one of UISession.Kernels and
	// attach with UISession.Attach. When nil, such sessions are told to run
	// `attach NAME`.
	Picker UIFunc
	// Logger receives one line per session and per refused key, and the audit
	// trail (prefix "audit"); nil logs to the charm log default logger.
	Logger *log.Logger
	// Version is the stratd version, announced in the SSH handshake.
	Version string
	// Keys lets admins manage the authorized keys over SSH (`keys …`); nil when
	// the daemon has none to manage. Normally the same *keys.Store as Auth.
	Keys cmd.KeyStore
	// Limits bound connections per source and sessions per key; zero fields take
	// their defaults.
	Limits Limits
}

// Server serves SSH sessions for one daemon. Its methods are safe to call from
// any goroutine.
type Server struct {
	cfg    Config
	limits Limits // cfg.Limits with the defaults filled in
	log    *log.Logger
	audit  *log.Logger
	ssh    *ssh.Server

	conns        *limiter // new connections per source
	authFailures *limiter // failed logins per source
	limitLog     *logGate // one line per refused source or key per period

	// sessions counts running session handlers; Shutdown waits for them. Add is
	// only called with mu held and closed false, so it never races with Wait.
	sessions sync.WaitGroup
	// watcher is watchKeys, which Shutdown stops (quit) and waits for.
	watcher sync.WaitGroup
	quit    chan struct{}
	recheck chan struct{} // KeysChanged wakes watchKeys

	live  sync.Mutex                           // protects byKey
	byKey map[string]map[*liveSession]struct{} // open sessions by key fingerprint

	mu      sync.Mutex // protects the fields below
	ln      net.Listener
	closed  bool
	serving bool // Serve started watchKeys
}

// New builds a server; Listen and Serve start it.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.HostSigner == nil:
		return nil, errors.New("sshd: no host key")
	case cfg.Auth == nil:
		return nil, errors.New("sshd: no authorizer")
	case cfg.Registry == nil:
		return nil, errors.New("sshd: no kernel registry")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = log.Default()
	}
	limits := cfg.Limits.withDefaults()
	s := &Server{
		cfg:          cfg,
		limits:       limits,
		log:          logger.WithPrefix("sshd"),
		audit:        logger.WithPrefix("audit"),
		conns:        newLimiter(limits.Conns),
		authFailures: newLimiter(limits.AuthFailures),
		limitLog:     newLogGate(limits.LogEvery),
		quit:         make(chan struct{}),
		recheck:      make(chan struct{}, 1),
		byKey:        map[string]map[*liveSession]struct{}{},
	}

	// Public keys are the only way in: with no password or keyboard-interactive
	// handler, the server offers neither method. The last middleware runs first.
	srv, err := wish.NewServer(
		withHostSigner(cfg.HostSigner),
		wish.WithPublicKeyAuth(s.authenticate),
		wish.WithVersion(sshVersion(cfg.Version)),
		wish.WithMiddleware(s.route, s.identify, s.guard),
	)
	if err != nil {
		return nil, fmt.Errorf("create ssh server: %w", err)
	}
	srv.HandshakeTimeout = limits.HandshakeTimeout
	srv.ConnCallback = s.admit
	srv.ConnectionFailedCallback = s.loginFailed
	s.ssh = srv
	return s, nil
}

// withHostSigner sets the host key. Without one, wish.NewServer would generate a
// key and write it into the working folder.
func withHostSigner(signer gossh.Signer) ssh.Option {
	return func(srv *ssh.Server) error {
		srv.AddHostKey(signer)
		return nil
	}
}

// sshVersion is the software version in the SSH identification string, which must
// not contain spaces.
func sshVersion(version string) string {
	if version == "" {
		version = "dev"
	}
	return "stratd_" + strings.Join(strings.Fields(version), "-")
}

// Listen opens the listener on Config.Addr and returns its address, known before
// any session is served (with port 0 it is the port picked). Calling it again
// returns the same address.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closed {
		return nil, errors.New("sshd: server closed")
	}
	if s.ln != nil {
		return s.ln.Addr(), nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.log.Info("listening", "addr", ln.Addr().String())
	return ln.Addr(), nil
}

// Addr is the address the server listens on, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until Close or Shutdown, opening the listener first if
// Listen has not. It returns nil once the server was closed.
func (s *Server) Serve() error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	if !s.serving && !s.closed {
		s.serving = true
		s.watcher.Add(1)
		go func() {
			defer s.watcher.Done()
			s.watchKeys()
		}()
	}
	s.mu.Unlock()

	err := s.ssh.Serve(ln)
	if s.isClosed() || errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve ssh on %s: %w", ln.Addr(), err)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close closes the listener and every connection, and waits until every session
// has ended. Kernels keep running: they belong to the registry.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}

// Shutdown stops accepting connections and lets the sessions under way finish until
// ctx is done (so a `kernel stop` that emptied the daemon still gets its answer),
// then closes every connection and waits for their sessions, which end promptly once
// their connection is gone: commands and UIs follow the session's context.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		close(s.quit)
	}
	s.closed = true
	ln := s.ln
	s.mu.Unlock()
	s.watcher.Wait()

	var err error
	if ln != nil {
		if cerr := ln.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
			err = fmt.Errorf("close ssh listener: %w", cerr)
		}
	}
	done := make(chan struct{})
	go func() {
		s.sessions.Wait()
		close(done)
	}()
	select {
	case <-done:
		// Give clients the moment they need to hang up themselves after their last
		// session: closing under them makes OpenSSH report a broken pipe (exit 255)
		// for a command that succeeded.
		_ = s.ssh.Shutdown(ctx)
	case <-ctx.Done():
	}
	if cerr := s.ssh.Close(); cerr != nil && !errors.Is(cerr, net.ErrClosed) && err == nil {
		err = fmt.Errorf("close ssh connections: %w", cerr)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		if err == nil {
			err = errors.New("some ssh sessions did not end within 5s of their connection closing")
		}
	}
	return err
}

// enter counts a new session, or returns false once the server is closing.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closed {
		return false
	}
	s.sessions.Add(1)
	return true
}

// authenticate decides whether a key may log in. It only answers yes or no: the
// library may call it for keys the client offers but never proves it holds, so the
// identity a session gets is looked up again from the verified key (identify).
func (s *Server) authenticate(ctx ssh.Context, key ssh.PublicKey) bool {
	id, ok := s.cfg.Auth.Lookup(key)
	if !ok {
		s.log.Warn("auth refused: unknown key", "fingerprint", gossh.FingerprintSHA256(key),
			"remote", addrString(ctx.RemoteAddr()), "user", ctx.User())
		return false
	}
	s.log.Debug("auth key known", "person", id.Name, "role", id.Role,
		"fingerprint", id.Fingerprint, "remote", addrString(ctx.RemoteAddr()))
	return true
}

func addrString(a net.Addr) string {
	if a == nil {
		return "unknown"
	}
	return a.String()
}

// writeLine writes a message line to a session's stream, ignoring a client that
// has gone.
func writeLine(w io.Writer, msg string) {
	_, _ = fmt.Fprintln(w, msg)
}
