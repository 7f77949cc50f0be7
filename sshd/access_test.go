package sshd_test

// Access tests: who may do what, over real SSH connections (x/crypto/ssh), against
// a server whose keys live in a real authorized_keys (keys.Store).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
	"github.com/stratd/stratd/sshd/client"
	gossh "golang.org/x/crypto/ssh"
)

// newStoreEnv is newEnv with alice and bob (operators), ada (admin) and vera
// (viewer) in a real authorized_keys, which admins manage over SSH (`keys …`). The
// store logs into the server's log.
func newStoreEnv(t *testing.T, opts ...options) (*env, *keys.Store) {
	t.Helper()
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh keys
	logs := newSyncBuffer()
	store, err := keys.Ensure(filepath.Join(t.TempDir(), "stratd"), log.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]options{func(c *sshd.Config) {
		c.Auth, c.Keys = store, store
		c.Limits.KeyCheck = 20 * time.Millisecond
		c.Logger = log.NewWithOptions(logs, log.Options{Level: log.DebugLevel})
	}}, opts...)
	e := newEnv(t, opts...)
	e.logs = logs // the server's and the store's lines in one buffer
	for name, signer := range e.keys {
		id, _ := e.auth.Lookup(signer.PublicKey())
		line := string(gossh.MarshalAuthorizedKey(signer.PublicKey()))
		if _, _, err := store.Add(keys.NewKey{Line: line, Role: id.Role, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	return e, store
}

// TestRoleTable runs every command as every role over SSH. Each row names the
// lowest role that may run the command: lower roles are refused with exit status 1
// and a message naming that role; the others get exit status 0.
func TestRoleTable(t *testing.T) {
	e, _ := newStoreEnv(t)
	e.startKernel("k")
	other := e.startKernel("m").Config().Path
	if err := e.reg.Stop("m", "test"); err != nil {
		t.Fatal(err)
	}
	_, spare := newKey(t)
	spareKey := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(spare.PublicKey())))

	table := []struct {
		command string
		need    keys.Role
	}{
		{"help", keys.Viewer},
		{"kernel list", keys.Viewer},
		{"history k -n 5", keys.Viewer},
		{"who k", keys.Viewer},
		{"exec k 1 + 1", keys.Operator},
		{"kernel interrupt k", keys.Operator},
		{"kernel pause k", keys.Operator},
		{"kernel resume k", keys.Operator},
		{"kernel restart k", keys.Admin},
		{"kernel start " + other, keys.Admin},
		{"kernel stop m", keys.Admin},
		{"keys list", keys.Admin},
		{"keys add --role viewer --name spare " + spareKey, keys.Admin},
		{"keys remove spare", keys.Admin},
	}
	people := []string{"vera", "alice", "ada"} // viewer, operator, admin

	for _, row := range table {
		for _, who := range people {
			id, _ := e.auth.Lookup(e.keys[who].PublicKey())
			r := e.run(who, row.command, "")
			if id.Role.Allows(row.need) {
				if r.code != 0 {
					t.Errorf("%-8s %-40q exit %d, want allowed; stderr %q", id.Role,
						row.command, r.code, r.stderr)
				}
				continue
			}
			want := fmt.Sprintf("needs the %s role; you are %s (%s)", row.need, id.Role, who)
			if r.code != 1 || !strings.Contains(r.stderr, want) {
				t.Errorf("%-8s %-40q exit %d, stderr %q; want refused (1) with %q",
					id.Role, row.command, r.code, r.stderr, want)
			}
		}
	}
}

// TestTerminalRoles checks the REPL side of the roles: anyone may attach, and the
// kernel client a viewer's UI gets refuses input and interrupts.
func TestTerminalRoles(t *testing.T) {
	results := make(chan string, 2)
	e, _ := newStoreEnv(t, func(c *sshd.Config) {
		c.UI = func(u *sshd.UISession) tea.Model {
			execErr, intErr := u.Client.Exec("1 + 1"), u.Client.Interrupt()
			results <- fmt.Sprintf("%s: exec %v, interrupt %v", u.Person.Name, execErr, intErr)
			return standIn{"attached:" + u.Person.Name}
		}
	})
	e.startKernel("k")

	for _, who := range []string{"vera", "alice"} {
		term := e.openTerminal(who, "attach k")
		term.out.waitFor(t, "attached:"+who)
		got := <-results
		wantRefused := who == "vera"
		if refused := strings.Contains(got, "read-only"); refused != wantRefused ||
			wantRefused && strings.Count(got, "read-only") != 2 {
			t.Errorf("%s; want refused %v for both", got, wantRefused)
		}
		term.in.Write([]byte("q"))
		term.wait(t)
	}

	// The operator's input from the REPL is in the audit log, with who and where;
	// the viewer's refused one too.
	e.logs.waitFor(t, `audit: input person=alice role=operator`)
	e.logs.waitFor(t, `kernel=k via=repl code="1 + 1"`)
	e.logs.waitFor(t, `audit: input refused person=vera role=viewer`)
}

func TestPasswordAndKeyboardInteractiveAreRefused(t *testing.T) {
	e := newEnv(t)
	answers := func(string, string, []string, []bool) ([]string, error) {
		return []string{"secret"}, nil
	}
	for name, method := range map[string]gossh.AuthMethod{
		"password":             gossh.Password("secret"),
		"keyboard-interactive": gossh.KeyboardInteractive(answers),
	} {
		_, err := gossh.Dial("tcp", e.srv.Addr().String(), &gossh.ClientConfig{
			User:            "ada",
			Auth:            []gossh.AuthMethod{method},
			HostKeyCallback: gossh.FixedHostKey(e.host),
			Timeout:         waitLimit,
		})
		if err == nil || !strings.Contains(err.Error(), "[none]") &&
			!strings.Contains(err.Error(), "publickey") {
			t.Errorf("%s: dial gave %v, want refused with only publickey offered", name, err)
		}
	}
}

// lyingSigner offers one key (PublicKey) but signs with another.
type lyingSigner struct {
	claims gossh.PublicKey
	signs  gossh.Signer
}

func (l lyingSigner) PublicKey() gossh.PublicKey { return l.claims }

func (l lyingSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return l.signs.Sign(r, data)
}

// TestAuthBypassAttempts offers an admin's public key without holding its private
// key. The server accepts the offer (the key is authorized) but must check the
// signature against that very key: x/crypto/ssh drops the connection when it does
// not verify. A client that offers several keys gets the identity of the one it
// signed with. (cmd/stratd's access tests also offer an admin key with the stock
// OpenSSH client and prove a viewer's.)
func TestAuthBypassAttempts(t *testing.T) {
	e := newEnv(t)
	k := e.startKernel("k")
	liar := lyingSigner{claims: e.keys["ada"].PublicKey(), signs: e.keys["vera"]}

	// The lie, even followed by a good key: no way in.
	_, err := gossh.Dial("tcp", e.srv.Addr().String(), &gossh.ClientConfig{
		User: "ada",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(liar),
			gossh.PublicKeys(e.keys["vera"])},
		HostKeyCallback: gossh.FixedHostKey(e.host),
		Timeout:         waitLimit,
	})
	if err == nil {
		t.Fatal("a signature by vera's key was accepted for ada's key")
	}
	e.logs.waitFor(t, "signature did not verify")

	// A stranger's key, then vera's: in, as vera, whatever the user name says.
	c, err := gossh.Dial("tcp", e.srv.Addr().String(), &gossh.ClientConfig{
		User:            "ada",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(newSigner(t), e.keys["vera"])},
		HostKeyCallback: gossh.FixedHostKey(e.host),
		Timeout:         waitLimit,
	})
	if err != nil {
		t.Fatalf("dial with a stranger's key and then vera's: %v", err)
	}
	defer c.Close()
	runOn(t, c, "kernel stop k", "").expect(t, 1, "", "you are viewer (vera)")
	if _, err := e.reg.Get(k.Name()); err != nil {
		t.Fatalf("kernel gone after the bypass attempt: %v", err)
	}
	if strings.Contains(e.logs.String(), "session person=ada") {
		t.Fatal("a session was opened as ada")
	}
}

// TestRemovedKeyLosesItsSessions removes a key while its sessions are open: over
// SSH by an admin (checked at once) and by another process editing the file
// (noticed within Limits.KeyCheck). A lowered role closes sessions too.
func TestRemovedKeyLosesItsSessions(t *testing.T) {
	e, store := newStoreEnv(t)
	e.startKernel("k")

	follow := func(who string) (*syncBuffer, chan error) {
		sess, err := e.dial(who).NewSession()
		if err != nil {
			t.Fatal(err)
		}
		errs := newSyncBuffer()
		sess.Stderr, sess.Stdout = errs, io.Discard
		if err := sess.Start("history k --follow"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- sess.Wait() }()
		return errs, done
	}
	ended := func(who string, done chan error, errs *syncBuffer, why string) {
		t.Helper()
		select {
		case err := <-done:
			var exit *gossh.ExitError
			if err == nil || errors.As(err, &exit) && exit.ExitStatus() == 0 {
				t.Errorf("%s's session ended with %v, want a failure", who, err)
			}
		case <-time.After(waitLimit):
			t.Fatalf("%s's session is still open", who)
		}
		errs.waitFor(t, why)
	}

	// Over SSH: alice's follow and terminal both end.
	aliceErrs, aliceDone := follow("alice")
	term := e.openTerminal("alice", "attach k")
	term.out.waitFor(t, "attached:k:alice")
	e.run("ada", "keys remove alice", "").expect(t, 0, "removed alice", "")
	ended("alice", aliceDone, aliceErrs, "your key was removed")
	term.ended(t)
	e.logs.waitFor(t, "closing sessions of a revoked key person=alice")
	if _, err := e.dialWith("alice", e.keys["alice"]); err == nil {
		t.Fatal("a removed key still logs in")
	}

	// From another process: the file changes under the daemon.
	bobErrs, bobDone := follow("bob")
	other, err := keys.Ensure(store.Home(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Remove("bob"); err != nil {
		t.Fatal(err)
	}
	ended("bob", bobDone, bobErrs, "your key was removed")
	e.logs.waitFor(t, "key removed name=bob")

	// A lower role ends the sessions that had the higher one.
	veraErrs, veraDone := follow("vera") // viewer: stays
	adaErrs, adaDone := follow("ada")
	line := string(gossh.MarshalAuthorizedKey(e.keys["ada"].PublicKey()))
	if _, _, err := other.Add(keys.NewKey{Line: line, Role: keys.Viewer}); err != nil {
		t.Fatal(err)
	}
	ended("ada", adaDone, adaErrs, "role was lowered from admin to viewer")
	select {
	case err := <-veraDone:
		t.Fatalf("vera's session ended: %v; stderr %q", err, veraErrs.String())
	default:
	}
}

func TestSessionsPerKeyAreCapped(t *testing.T) {
	e := newEnv(t, func(c *sshd.Config) { c.Limits.SessionsPerKey = 2 })
	e.startKernel("k")

	var open []*gossh.Client
	for range 2 {
		c := e.dial("alice")
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Start("history k --follow"); err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
	}
	// Sessions count once their handler runs: wait until both are known.
	waitCount(t, e.logs, `command="history k --follow"`, 2)

	for range 3 {
		e.run("alice", "kernel list", "").expect(t, 1, "", "too many sessions with your key")
	}
	e.run("bob", "kernel list", "").expect(t, 0, "", "")
	if n := strings.Count(e.logs.String(), "session refused: sessions per key"); n != 1 {
		t.Errorf("the cap logged %d times for 3 refusals, want once", n)
	}

	// A follow session ends with its connection.
	open[0].Close()
	waitFor(t, func() bool { return e.run("alice", "kernel list", "").code == 0 })
}

// waitCount waits until the buffer holds want n times.
func waitCount(t *testing.T, b *syncBuffer, want string, n int) {
	t.Helper()
	deadline := time.After(waitLimit)
	for strings.Count(b.String(), want) < n {
		select {
		case <-b.written:
		case <-deadline:
			t.Fatalf("timed out waiting for %d× %q; got:\n%s", n, want, b.String())
		}
	}
}

// waitFor retries ok until it holds. It is for conditions that have no event to
// wait on (a session's end, seen from another connection), with a deadline.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConnectionRateLimit(t *testing.T) {
	e := newEnv(t, func(c *sshd.Config) {
		c.Limits.Conns = sshd.Rate{Burst: 3, Every: time.Hour}
	})
	for i := range 3 {
		if _, err := e.dialWith("alice", e.keys["alice"]); err != nil {
			t.Fatalf("connection %d refused: %v", i+1, err)
		}
	}
	for range 2 {
		if c, err := e.dialWith("alice", e.keys["alice"]); err == nil {
			c.Close()
			t.Fatal("a connection over the limit got in")
		}
	}
	// stratd's own client says what may have happened.
	target := client.Target{Addr: e.srv.Addr().String(),
		HostKey: string(gossh.MarshalAuthorizedKey(e.host))}
	_, err := client.Dial(context.Background(), target, e.keys["alice"], "")
	if err == nil || !strings.Contains(err.Error(), "opened too many connections") {
		t.Errorf("client.Dial over the limit: %v", err)
	}
	e.logs.waitFor(t, "connections refused: rate limit")
	if n := strings.Count(e.logs.String(), "connections refused"); n != 1 {
		t.Errorf("the limit logged %d times for 3 refusals, want once:\n%s", n, e.logs)
	}
}

func TestFailedLoginsLockOutTheSource(t *testing.T) {
	e := newEnv(t, func(c *sshd.Config) {
		c.Limits.AuthFailures = sshd.Rate{Burst: 2, Every: time.Hour}
	})
	stranger := newSigner(t)
	for range 2 {
		if _, err := e.dialWith("alice", stranger); err == nil {
			t.Fatal("an unknown key got in")
		}
	}
	waitCount(t, e.logs, "login failed", 2)

	// Now even a good key is turned away from that address, and it is logged once.
	for range 2 {
		if c, err := e.dialWith("alice", e.keys["alice"]); err == nil {
			c.Close()
			t.Fatal("a locked-out source got in")
		}
	}
	e.logs.waitFor(t, "why=\"too many failed logins\"")
	if n := strings.Count(e.logs.String(), "connections refused"); n != 1 {
		t.Errorf("the lock-out logged %d times, want once:\n%s", n, e.logs)
	}
}

func TestUnauthenticatedConnectionsTimeOut(t *testing.T) {
	e := newEnv(t, func(c *sshd.Config) { c.Limits.HandshakeTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Say nothing: the server sends its version, then hangs up.
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		t.Fatalf("the server kept a silent connection open: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a silent connection was closed after %s, want about 200ms", took)
	}
	e.logs.waitFor(t, "login failed")
}

// TestAuditLog checks that kernel controls are logged with who, where and which
// kernel.
func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")

	e.run("alice", "exec k 'x = 1'", "").expect(t, 0, "", "")
	e.run("alice", "kernel interrupt k", "").expect(t, 0, "", "")
	e.run("ada", "kernel restart k", "").expect(t, 0, "", "")
	e.run("ada", "kernel stop k", "").expect(t, 0, "", "")

	for _, want := range []string{
		`audit: input person=alice role=operator`,
		`kernel=k via=exec code="x = 1"`,
		`audit: kernel interrupt person=alice`,
		`audit: kernel restart person=ada role=admin`,
		`audit: kernel stop person=ada role=admin`,
		`remote=127.0.0.1:`,
	} {
		e.logs.waitFor(t, want)
	}
}
