package sshd_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratd/stratd/keys"
	gossh "golang.org/x/crypto/ssh"
)

// openSSH runs the OpenSSH client against the test server as olga (operator).
type openSSH struct {
	t    *testing.T
	args []string // the client's path and its options
	host string
}

func newOpenSSH(t *testing.T, e *env) *openSSH {
	t.Helper()
	path, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("the OpenSSH client is not installed")
	}

	dir := t.TempDir()
	priv, signer := newKey(t)
	e.addPerson("olga", keys.Operator, signer)
	block, err := gossh.MarshalPrivateKey(priv, "olga")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	write(t, keyFile, string(pem.EncodeToMemory(block)))

	host, port, err := net.SplitHostPort(e.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	write(t, knownHosts, "["+host+"]:"+port+" "+
		string(gossh.MarshalAuthorizedKey(e.host)))

	return &openSSH{t: t, args: []string{path,
		"-F", "/dev/null", "-p", port, "-i", keyFile,
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "LogLevel=ERROR",
	}, host: host}
}

// run runs ssh with flags before the host and command after it.
func (o *openSSH) run(stdin string, flags []string, command string) result {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	args := append(append(append([]string{}, o.args[1:]...), flags...), o.host, command)
	c := exec.CommandContext(ctx, o.args[0], args...)
	var stdout, stderr bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = strings.NewReader(stdin), &stdout, &stderr
	err := c.Run()

	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		o.t.Fatalf("ssh: %v", err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func TestOpenSSHClient(t *testing.T) {
	e := newEnv(t)
	e.startKernel("k")
	ssh := newOpenSSH(t, e)

	ssh.run("", nil, "exec k 'x = 40'").expect(t, 0, "", "")
	e.run("bob", "exec k 'x + 2'", "").expect(t, 0, "42", "")
	ssh.run("", nil, "exec k 'fail(\"boom\")'").expect(t, 1, "", "boom")
	ssh.run("", nil, "exec nope 1").expect(t, 2, "", `kernel "nope" not found; running: k`)
	ssh.run("x * 3\n", nil, "exec k").expect(t, 0, "120", "")
	ssh.run("", nil, "attach k").expect(t, 2, "", "attach needs a terminal: use ssh -t")

	// -tt forces a terminal although the test has none: the UI starts, and "q" on
	// its input quits it.
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	args := append(append([]string{}, ssh.args[1:]...), "-tt", ssh.host, "attach k")
	c := exec.CommandContext(ctx, ssh.args[0], args...)
	out := newSyncBuffer()
	c.Stdout, c.Stderr = out, out
	in, err := c.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "attached:k:olga")
	if _, err := in.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("ssh -tt attach k: %v; output:\n%s", err, out.String())
	}
}
