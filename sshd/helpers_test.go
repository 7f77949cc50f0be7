package sshd_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"charm.land/log/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
	gossh "golang.org/x/crypto/ssh"
)

// waitLimit bounds every wait in these tests; it is a failure deadline, never a
// way to let something happen.
const waitLimit = 10 * time.Second

// testAuth is an Authorizer backed by a map, so the tests need no keys.Store.
type testAuth struct {
	mu  sync.Mutex
	ids map[string]keys.Identity
}

func (a *testAuth) Lookup(key gossh.PublicKey) (keys.Identity, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id, ok := a.ids[string(key.Marshal())]
	return id, ok
}

// newSigner makes a fresh ed25519 key.
func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	_, signer := newKey(t)
	return signer
}

func newKey(t *testing.T) (ed25519.PrivateKey, gossh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, signer
}

// syncBuffer is a bytes.Buffer safe for one writer goroutine and readers, which
// signals every write.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{written: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	select {
	case b.written <- struct{}{}:
	default:
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the buffer holds want.
func (b *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(waitLimit)
	for !strings.Contains(b.String(), want) {
		select {
		case <-b.written:
		case <-deadline:
			t.Fatalf("timed out waiting for %q; got:\n%s", want, b.String())
		}
	}
}

// env is one server with its kernels and the people allowed in.
type env struct {
	t    *testing.T
	reg  *kernel.Registry
	srv  *sshd.Server
	host gossh.PublicKey
	auth *testAuth
	logs *syncBuffer
	keys map[string]gossh.Signer // by person
}

// options change the server config a test starts with.
type options func(*sshd.Config)

// newEnv starts a server on a free loopback port with alice (operator), bob
// (operator), ada (admin) and vera (viewer), and no kernels.
func newEnv(t *testing.T, opts ...options) *env {
	t.Helper()
	e := &env{
		t:    t,
		reg:  newRegistry(t),
		auth: &testAuth{ids: map[string]keys.Identity{}},
		logs: newSyncBuffer(),
		keys: map[string]gossh.Signer{},
	}
	for name, role := range map[string]keys.Role{
		"alice": keys.Operator, "bob": keys.Operator, "ada": keys.Admin, "vera": keys.Viewer,
	} {
		e.addPerson(name, role, newSigner(t))
	}

	hostSigner := newSigner(t)
	e.host = hostSigner.PublicKey()
	logger := log.NewWithOptions(e.logs, log.Options{Level: log.DebugLevel})
	cfg := sshd.Config{
		Addr:       "127.0.0.1:0",
		HostSigner: hostSigner,
		Auth:       e.auth,
		Registry:   e.reg,
		UI:         standInUI,
		Picker:     standInUI,
		Logger:     logger,
		Version:    "test",
		// Tests connect fast from one address: only the tests of the connection
		// limit turn it on.
		Limits: sshd.Limits{Conns: sshd.Rate{Burst: -1}},
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	srv, err := sshd.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	e.srv = srv

	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// addPerson authorizes signer's key as name with role.
func (e *env) addPerson(name string, role keys.Role, signer gossh.Signer) {
	e.keys[name] = signer
	e.auth.mu.Lock()
	defer e.auth.mu.Unlock()
	e.auth.ids[string(signer.PublicKey().Marshal())] = keys.Identity{
		Name: name, Role: role, Fingerprint: gossh.FingerprintSHA256(signer.PublicKey()),
	}
}

// newRegistry returns an empty registry whose files live in a temp folder.
func newRegistry(t *testing.T) *kernel.Registry {
	t.Helper()
	reg := kernel.NewRegistry(kernel.RegistryOptions{Home: t.TempDir(), Version: "test"})
	t.Cleanup(reg.Close)
	return reg
}

// startKernel starts a kernel named name with a strategy that does nothing, on a
// fast synthetic feed.
func (e *env) startKernel(name string) *kernel.Kernel {
	e.t.Helper()
	dir := e.t.TempDir()
	cfg := "name: " + name + "\nstrategy: s.star\ninstruments: [BTCUSDT]\n" +
		"feed: {kind: synthetic, interval: 10ms, seed: 7}\n"
	star := "def on_bar(ctx, bar):\n    pass\n"
	write(e.t, filepath.Join(dir, "s.star"), star)
	path := filepath.Join(dir, name+".yml")
	write(e.t, path, cfg)

	k, err := e.reg.Start(path)
	if err != nil {
		e.t.Fatalf("start kernel %s: %v", name, err)
	}
	return k
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// dial connects as person with their key.
func (e *env) dial(person string) *gossh.Client {
	e.t.Helper()
	c, err := e.dialWith(person, e.keys[person])
	if err != nil {
		e.t.Fatalf("dial as %s: %v", person, err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *env) dialWith(user string, signer gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", e.srv.Addr().String(), &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.FixedHostKey(e.host),
		Timeout:         waitLimit,
	})
}

// result is what one command session produced.
type result struct {
	stdout, stderr string
	code           int
}

// run runs command as person in a session of its own, with stdin as input.
func (e *env) run(person, command, stdin string) result {
	e.t.Helper()
	return runOn(e.t, e.dial(person), command, stdin)
}

func runOn(t *testing.T, c *gossh.Client, command, stdin string) result {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	var stdout, stderr bytes.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	sess.Stdin = strings.NewReader(stdin)
	err = sess.Run(command)
	return result{stdout.String(), stderr.String(), exitStatus(t, err)}
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var exit *gossh.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitStatus()
	default:
		t.Fatalf("session: %v", err)
		return -1
	}
}

// expect checks a command's exit status and that its stdout and stderr contain
// the given texts.
func (r result) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stdout, stdout) ||
		!strings.Contains(r.stderr, stderr) {
		t.Fatalf("got exit %d, stdout %q, stderr %q\nwant exit %d, stdout with %q,"+
			" stderr with %q", r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

// terminal is a session with a PTY whose output is collected as it arrives.
type terminal struct {
	sess *gossh.Session
	in   io.WriteCloser
	out  *syncBuffer
	done chan error
}

// openTerminal opens a session with a PTY and starts command, or a shell when
// command is "".
func (e *env) openTerminal(person, command string) *terminal {
	e.t.Helper()
	sess, err := e.dial(person).NewSession()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 24, 80, gossh.TerminalModes{}); err != nil {
		e.t.Fatal(err)
	}
	term := &terminal{sess: sess, out: newSyncBuffer(), done: make(chan error, 1)}
	sess.Stdout, sess.Stderr = term.out, term.out
	if term.in, err = sess.StdinPipe(); err != nil {
		e.t.Fatal(err)
	}
	if command == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(command)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { term.done <- sess.Wait() }()
	return term
}

// wait waits for the session to end and returns its exit status.
func (term *terminal) wait(t *testing.T) int {
	t.Helper()
	return exitStatus(t, term.ended(t))
}

// ended waits for the session to end, with or without an exit status.
func (term *terminal) ended(t *testing.T) error {
	t.Helper()
	select {
	case err := <-term.done:
		return err
	case <-time.After(waitLimit):
		t.Fatalf("terminal session did not end; output:\n%s", term.out.String())
		return nil
	}
}
