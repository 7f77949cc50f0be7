// Package client is the SSH client side of stratd, used by the local CLI to
// reach a daemon: Dial checks the daemon's host key against the one in a
// connection file, Run executes a command without a terminal (exec, kernel
// stop…), and Attach joins this terminal to a remote session (connect).
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// defaultTimeout bounds Dial when its context has no deadline. A variable so
// tests can shorten it.
var defaultTimeout = 5 * time.Second

// DefaultUser is the SSH user name Dial sends when none is given. stratd
// ignores it: a person's name comes from their key's comment.
const DefaultUser = "stratd"

// The kinds of Dial failure; the errors Dial returns wrap one of them, so
// callers can tell them apart with errors.Is.
var (
	// ErrNoDaemon means nothing answered at the address (refused or timed
	// out): the daemon is not running, and its connection file is stale.
	ErrNoDaemon = errors.New("no stratd daemon answers")
	// ErrHostKeyMismatch means the server's host key is not the expected one.
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrKeyRefused means the daemon does not accept the client's key.
	ErrKeyRefused = errors.New("key refused")
)

// Target says where a daemon listens and which host key it must present.
type Target struct {
	// Addr is the daemon's host:port.
	Addr string
	// HostKey is the daemon's public host key in authorized_keys form, as a
	// connection file's host_key holds it. Empty means the host key is not
	// checked at all: only tests should leave it empty.
	HostKey string
}

// dialError is a Dial failure: a message for the user, the kind of failure,
// and the error underneath.
type dialError struct {
	msg   string
	kind  error
	cause error
}

func (e *dialError) Error() string { return e.msg }

func (e *dialError) Unwrap() []error {
	errs := []error{e.kind}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

// Dial connects to the daemon at t.Addr, checks its host key against
// t.HostKey, and logs in with signer as user (DefaultUser when empty). The
// whole of it is bounded by ctx, or by 5 seconds when ctx has no deadline;
// ctx does not govern the returned client, which the caller closes.
//
// Errors say what went wrong and what to do, and wrap ErrNoDaemon,
// ErrHostKeyMismatch or ErrKeyRefused when one of those is the cause.
func Dial(ctx context.Context, t Target, signer ssh.Signer, user string) (*ssh.Client, error) {
	if signer == nil {
		return nil, errors.New("dial: no client key given")
	}
	if user == "" {
		user = DefaultUser
	}
	check, err := newHostKeyCheck(t)
	if err != nil {
		return nil, err
	}

	timeout := defaultTimeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(deadline), 0)
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, connectError(ctx, t.Addr, timeout, err)
	}

	config := &ssh.ClientConfig{
		User:              user,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback:   check.callback,
		HostKeyAlgorithms: check.algorithms(),
	}
	c, err := handshake(ctx, conn, t.Addr, config)
	if err != nil {
		conn.Close()
		return nil, handshakeError(ctx, t.Addr, timeout, check, signer, err)
	}
	return c, nil
}

// handshake runs the SSH handshake on conn, giving up when ctx ends.
func handshake(ctx context.Context, conn net.Conn, addr string,
	config *ssh.ClientConfig) (*ssh.Client, error) {
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A cancelled ctx has no deadline to wait for: make pending I/O fail now.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })

	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if !stop() && err == nil {
		sc.Close()
		err = ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// connectError explains a failed TCP connect.
func connectError(ctx context.Context, addr string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &dialError{
			msg: fmt.Sprintf("no stratd daemon answers at %s (connection refused)",
				addr),
			kind: ErrNoDaemon, cause: err,
		}
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return timeoutError(addr, timeout, err)
	case ctx.Err() != nil:
		return fmt.Errorf("connect to %s: %w", addr, ctx.Err())
	}
	return fmt.Errorf("connect to %s: %w", addr, err)
}

// handshakeError explains a failed SSH handshake or login.
func handshakeError(ctx context.Context, addr string, timeout time.Duration,
	check *hostKeyCheck, signer ssh.Signer, err error) error {
	switch {
	case check.mismatch != nil:
		return check.mismatch
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err):
		return timeoutError(addr, timeout, err)
	case ctx.Err() != nil:
		return fmt.Errorf("connect to %s: %w", addr, ctx.Err())
	case check.accepted && strings.Contains(err.Error(), "unable to authenticate"):
		// x/crypto/ssh has no error type for this: its message is all there is.
		fp := ssh.FingerprintSHA256(signer.PublicKey())
		return &dialError{
			msg: fmt.Sprintf("the daemon at %s refused key %s; add it with "+
				"`stratd keys add` on that daemon's host", addr, fp),
			kind: ErrKeyRefused, cause: err,
		}
	case !check.accepted && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)):
		// stratd closes a connection at once when its source is over a limit.
		return fmt.Errorf("the server at %s closed the connection before the handshake: "+
			"a stratd daemon does so for an address that opened too many connections "+
			"or failed to log in too often (its log says which); wait a minute: %w",
			addr, err)
	}
	return fmt.Errorf("ssh handshake with %s failed (is it a stratd daemon?): %w", addr, err)
}

// timeoutError is the error for a daemon that did not answer in time.
func timeoutError(addr string, timeout time.Duration, err error) error {
	return &dialError{
		msg: fmt.Sprintf("no stratd daemon answers at %s (no answer within %s)",
			addr, timeout.Round(100*time.Millisecond)),
		kind: ErrNoDaemon, cause: err,
	}
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// hostKeyCheck compares the server's host key with the expected one and
// remembers the outcome, so Dial can explain a failed handshake.
type hostKeyCheck struct {
	addr     string
	want     ssh.PublicKey // nil: accept any key
	accepted bool          // the server's key was accepted
	mismatch error         // the server's key was refused, and why
}

// newHostKeyCheck parses t.HostKey.
func newHostKeyCheck(t Target) (*hostKeyCheck, error) {
	check := &hostKeyCheck{addr: t.Addr}
	if strings.TrimSpace(t.HostKey) == "" {
		return check, nil
	}
	want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.HostKey))
	if err != nil {
		return nil, fmt.Errorf("host key %q of %s is not a public key in authorized_keys "+
			"form (%v); the connection file is damaged — run `stratd kernel prune`",
			t.HostKey, t.Addr, err)
	}
	check.want = want
	return check, nil
}

// callback is the ssh.HostKeyCallback.
func (h *hostKeyCheck) callback(_ string, _ net.Addr, key ssh.PublicKey) error {
	if h.want != nil && !bytes.Equal(key.Marshal(), h.want.Marshal()) {
		h.mismatch = &dialError{
			msg: fmt.Sprintf("host key mismatch for %s: the connection file expects "+
				"%s, the server offered %s. Either the daemon that wrote the file is "+
				"gone and another server now answers there (the file is stale: "+
				"`stratd kernel prune` removes it), or someone is impersonating the "+
				"daemon; nothing was sent to it", h.addr,
				ssh.FingerprintSHA256(h.want), ssh.FingerprintSHA256(key)),
			kind: ErrHostKeyMismatch,
		}
		return h.mismatch
	}
	h.accepted = true
	return nil
}

// algorithms asks the server for the expected key's type, so a server with
// several host keys offers the one being checked.
func (h *hostKeyCheck) algorithms() []string {
	if h.want == nil {
		return nil
	}
	if h.want.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{h.want.Type()}
}

// Run executes cmd on the daemon without a terminal, copying stdin (nil for
// none) to it and its output to stdout and stderr, and returns the command's
// exit status. A session that ends without an exit status is an error.
// Cancelling ctx closes the session; Run then returns ctx's error.
func Run(ctx context.Context, c *ssh.Client, cmd string, stdin io.Reader,
	stdout, stderr io.Writer) (int, error) {
	sess, err := c.NewSession()
	if err != nil {
		return -1, fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()

	sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()

	err = sess.Run(cmd)
	if ctx.Err() != nil {
		return -1, fmt.Errorf("run %q: %w", cmd, ctx.Err())
	}
	return exitStatus(cmd, err)
}

// exitStatus turns what Session.Run or Session.Wait returned into the
// remote exit status.
func exitStatus(cmd string, err error) (int, error) {
	var exit *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	case errors.As(err, &missing):
		return -1, fmt.Errorf("run %q: the daemon ended the session without an "+
			"exit status", cmd)
	}
	return -1, fmt.Errorf("run %q: %w", cmd, err)
}
