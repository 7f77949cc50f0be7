package main

// Access tests: roles, identities, keys and host keys, driven with the built binary
// and the OpenSSH client, as people would.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// accessSSH runs the OpenSSH client with extra options (opts) in front of the host,
// and returns its stdout, stderr and exit status (255: ssh itself failed).
func (e *env) accessSSH(port string, opts []string, stdin string, command ...string) (
	string, string, int) {
	e.t.Helper()
	args := []string{"-F", "/dev/null", "-p", port, "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR"}
	args = append(append(args, opts...), "127.0.0.1")
	cmd := exec.Command("ssh", append(args, command...)...)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var o, er strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &er
	err := accessRun(e.t, cmd)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return o.String(), er.String(), code
}

// accessRun runs cmd, failing the test when it does not end within 20s.
func accessRun(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v did not finish in time", cmd.Args)
		return nil
	}
}

// accessKey makes an ed25519 key pair named name (with a passphrase when one is
// given) and returns the private key's path; the public key is next to it (.pub).
func (e *env) accessKey(name, passphrase string) string {
	e.t.Helper()
	key := filepath.Join(e.user, "id_"+name)
	gen := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", name,
		"-f", key)
	if out, err := gen.CombinedOutput(); err != nil {
		e.t.Skipf("ssh-keygen unavailable: %v %s", err, out)
	}
	return key
}

// TestAccessRoleTable runs each command over OpenSSH as a viewer, an operator and an
// admin. Each row names the lowest role that may run the command: lower roles get
// exit status 1 and a message naming the role needed, the others exit 0. Keys
// added while the daemon runs work at once.
func TestAccessRoleTable(t *testing.T) {
	e := newEnv(t)
	vera := e.person("vera", "viewer") // before the daemon starts
	d := e.start("serve", e.config("alpha", ""), "--listen", "127.0.0.1:0")
	olga := e.person("olga", "operator") // while it runs
	ada := e.person("ada", "admin")
	beta := e.config("beta", "")
	spare := e.accessKey("spare", "")
	spareLine, err := os.ReadFile(spare + ".pub")
	must(t, err)

	table := []struct {
		command string
		need    string
		stdin   string
	}{
		{"help", "viewer", ""},
		{"kernel list", "viewer", ""},
		{"history alpha -n 5", "viewer", ""},
		{"who alpha", "viewer", ""},
		{"exec alpha 1 + 1", "operator", ""},
		{"kernel interrupt alpha", "operator", ""},
		{"kernel pause alpha", "operator", ""},
		{"kernel resume alpha", "operator", ""},
		{"kernel restart alpha", "admin", ""},
		{"kernel start " + beta, "admin", ""},
		{"kernel stop beta", "admin", ""},
		{"keys list", "admin", ""},
		{"keys add --role viewer --name spare", "admin", string(spareLine)},
		{"keys remove spare", "admin", ""},
	}
	people := []struct{ name, role, key string }{
		{"vera", "viewer", vera}, {"olga", "operator", olga}, {"ada", "admin", ada},
	}
	rank := map[string]int{"viewer": 1, "operator": 2, "admin": 3}

	for _, row := range table {
		for _, p := range people {
			out, errs, code := e.accessSSH(d.port, []string{"-i", p.key}, row.stdin,
				row.command)
			if rank[p.role] >= rank[row.need] {
				if code != 0 {
					t.Errorf("%-8s %-40q exit %d, want allowed; stderr %q", p.role,
						row.command, code, errs)
				}
				continue
			}
			want := fmt.Sprintf("needs the %s role; you are %s (%s)", row.need, p.role,
				p.name)
			if code != 1 || !strings.Contains(errs, want) || out != "" {
				t.Errorf("%-8s %-40q exit %d, stderr %q; want refused (1) with %q",
					p.role, row.command, code, errs, want)
			}
		}
	}

	// The identity is the key's comment, whatever the SSH user name says; and every
	// input and kernel control is audited with who and from where.
	out, _, _ := e.accessSSH(d.port, []string{"-i", olga, "-l", "ada"}, "", "history",
		"alpha", "-n", "50")
	if !strings.Contains(out, "[olga] >>> 1 + 1") {
		t.Errorf("history does not show olga's input under her name:\n%s", out)
	}
	logs := d.stderr.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`audit: input person=olga role=operator .*remote=127\.0\.0\.1:\d+ ` +
			`kernel=alpha via=exec code="1 \+ 1"`),
		regexp.MustCompile(`audit: kernel stop person=ada role=admin .*kernel=beta`),
		regexp.MustCompile(`audit: key added person=ada .*name=spare key_role=viewer`),
		regexp.MustCompile(`audit: key removed person=ada .*name=spare`),
		regexp.MustCompile(`keys: key added name=olga role=operator .*outside this daemon`),
	} {
		if !want.MatchString(logs) {
			t.Errorf("daemon log lacks %s", want)
		}
	}
}

// TestAccessOnlyPublicKeys tries passwords, keyboard-interactive and an unknown key
// with OpenSSH: all refused, and the server offers nothing but publickey.
func TestAccessOnlyPublicKeys(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("alpha", ""), "--kernel-only")
	stranger := e.accessKey("stranger", "")

	for _, opts := range [][]string{
		{"-o", "PreferredAuthentications=password,keyboard-interactive",
			"-o", "PubkeyAuthentication=no"},
		{"-o", "PreferredAuthentications=keyboard-interactive",
			"-o", "PubkeyAuthentication=no"},
		{"-i", stranger},
	} {
		_, errs, code := e.accessSSH(d.port, opts, "", "kernel", "list")
		if code != 255 || !strings.Contains(errs, "Permission denied (publickey)") {
			t.Errorf("ssh %v: exit %d, stderr %q; want Permission denied (publickey)",
				opts, code, errs)
		}
	}
	if !strings.Contains(d.stderr.String(), "auth refused: unknown key") {
		t.Errorf("the unknown key was not logged:\n%s", d.stderr)
	}
}

// TestAccessOfferOneKeyProveAnother has OpenSSH offer an admin's public key whose
// private key it cannot unlock (no passphrase in batch mode), then a viewer's key,
// which it signs with. The server accepts the admin key's offer, but the session
// must be the viewer's.
func TestAccessOfferOneKeyProveAnother(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("alpha", ""), "--kernel-only")
	ada := e.accessKey("ada", "a passphrase nobody types")
	vera := e.person("vera", "viewer")
	if _, errs, code := e.stratd("", "keys", "add", "--role", "admin", ada+".pub"); code != 0 {
		t.Fatal(errs)
	}

	_, errs, code := e.accessSSH(d.port, []string{"-i", ada, "-i", vera}, "", "kernel",
		"stop", "alpha")
	if code != 1 || !strings.Contains(errs, "you are viewer (vera)") {
		t.Fatalf("exit %d, stderr %q; want refused as vera", code, errs)
	}
	if out, _, _ := e.stratd("", "kernel", "list"); !regexp.MustCompile(
		`alpha\s+running`).MatchString(out) {
		t.Fatalf("the kernel is not running after the attempt:\n%s", out)
	}
	if strings.Contains(d.stderr.String(), "session person=ada") {
		t.Fatal("a session was opened as ada")
	}
}

// TestAccessWrongHostKey gives a connection file another host key: every command
// that goes through it refuses, says what that may mean, and the kernel runs on.
func TestAccessWrongHostKey(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("alpha", ""), "--kernel-only")
	other := e.accessKey("impostor", "")
	pub, err := os.ReadFile(other + ".pub")
	must(t, err)

	var cf map[string]any
	data, err := os.ReadFile(d.connFile)
	must(t, err)
	must(t, json.Unmarshal(data, &cf))
	cf["host_key"] = strings.Join(strings.Fields(string(pub))[:2], " ")
	data, err = json.Marshal(cf)
	must(t, err)
	must(t, os.WriteFile(d.connFile, data, 0o600))

	for _, args := range [][]string{
		{"exec", "alpha", "1"},
		{"kernel", "stop", "alpha"},
		{"connect", "alpha"},
	} {
		_, errs, code := e.stratd("", args...)
		if code == 0 || !strings.Contains(errs, "host key mismatch") ||
			!strings.Contains(errs, "impersonating") || !strings.Contains(errs, d.connFile) {
			t.Errorf("stratd %v: exit %d, stderr %q; want a host key mismatch", args, code,
				errs)
		}
	}
	out, _, _ := e.stratd("", "kernel", "list")
	if !regexp.MustCompile(`alpha\s+stale.*another host key`).MatchString(out) {
		t.Errorf("kernel list does not flag the mismatch:\n%s", out)
	}

	// Nothing reached the daemon as a session, and the kernel still runs.
	if strings.Contains(d.stderr.String(), "INFO  sshd: session") {
		t.Errorf("a session was opened through a mismatched host key:\n%s", d.stderr)
	}
	if _, _, code := e.ssh(d.port, "", "", "exec", "alpha", "1"); code != 0 {
		t.Fatal("the kernel stopped")
	}
}

// TestAccessRemovedKeyLosesItsSession removes a key with the local CLI while its
// owner follows a kernel's history over OpenSSH: the daemon closes the session.
func TestAccessRemovedKeyLosesItsSession(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("alpha", ""), "--kernel-only")
	olga := e.person("olga", "operator")

	args := append(e.sshArgs(d.port, olga), "history", "alpha", "--follow")
	cmd := exec.Command("ssh", args...)
	cmd.Env = e.environ()
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	var errs strings.Builder
	cmd.Stderr = &errs
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() {
		io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })

	// The session is open once the daemon logs it.
	accessWaitLog(t, d, "session person=olga")
	if out, errs, code := e.stratd("", "keys", "remove", "olga"); code != 0 {
		t.Fatalf("keys remove: %s %s", out, errs)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("the session ended with exit status 0")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the removed key's session is still open")
	}
	if !strings.Contains(errs.String(), "your key was removed") {
		t.Errorf("ssh stderr %q does not say why", errs.String())
	}
	accessWaitLog(t, d, "key removed name=olga")
	if _, errs, code := e.ssh(d.port, olga, "", "kernel", "list"); code != 255 {
		t.Fatalf("a removed key logs in: %s", errs)
	}
}

// accessWaitLog waits until the daemon's log holds want.
func accessWaitLog(t *testing.T, d *proc, want string) {
	t.Helper()
	accessWaitFor(t, d.stderr, regexp.MustCompile(regexp.QuoteMeta(want)))
}

// accessWaitFor waits until a daemon's output matches re and returns the match. The
// output has no event to wait on from outside the process, so it is read again
// until a deadline.
func accessWaitFor(t *testing.T, out *lockedBuffer, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon output never matched %s:\n%s", re, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAccessSessionsPerKey caps sessions per key with --max-sessions-per-key.
func TestAccessSessionsPerKey(t *testing.T) {
	e := newEnv(t)
	d := e.start("serve", e.config("alpha", ""), "--listen", "127.0.0.1:0",
		"--max-sessions-per-key", "1")

	cmd := exec.Command("ssh", append(e.sshArgs(d.port, ""), "history", "alpha",
		"--follow")...)
	cmd.Env = e.environ()
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	accessWaitLog(t, d, `command="history alpha --follow"`)

	for range 2 {
		_, errs, code := e.ssh(d.port, "", "", "kernel", "list")
		if code != 1 || !strings.Contains(errs, "too many sessions with your key") {
			t.Fatalf("second session: exit %d, stderr %q", code, errs)
		}
	}
	if n := strings.Count(d.stderr.String(), "session refused: sessions per key"); n != 1 {
		t.Errorf("the cap logged %d lines for 2 refusals, want 1", n)
	}
}

// TestAccessFileModes checks the modes stratd gives its files on first start, and
// that it refuses a home or a secret others may read, saying how to fix it.
func TestAccessFileModes(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("alpha", ""), "--kernel-only")
	for path, want := range map[string]os.FileMode{
		e.home:                           0o700,
		filepath.Join(e.home, "kernels"): 0o700,
		filepath.Join(e.home, "state"):   0o700,
		d.connFile:                       0o600,
		filepath.Join(e.home, "ssh_host_ed25519_key"): 0o600,
		filepath.Join(e.home, "client_ed25519_key"):   0o600,
		filepath.Join(e.home, "authorized_keys"):      0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %04o", path, err, fi.Mode().Perm(), want)
		}
	}
	must(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited

	for _, tc := range []struct {
		path       string
		mode, good os.FileMode
		fix        string
	}{
		{e.home, 0o755, 0o700, "chmod 700 " + e.home},
		{filepath.Join(e.home, "authorized_keys"), 0o644, 0o600,
			"chmod 600 " + filepath.Join(e.home, "authorized_keys")},
		{filepath.Join(e.home, "ssh_host_ed25519_key"), 0o640, 0o600,
			"chmod 600 " + filepath.Join(e.home, "ssh_host_ed25519_key")},
	} {
		must(t, os.Chmod(tc.path, tc.mode))
		for _, args := range [][]string{
			{"run", filepath.Join(e.dir, "alpha.yml"), "--kernel-only"},
			{"keys", "list"},
		} {
			_, errs, code := e.stratd("", args...)
			if code == 0 || !strings.Contains(errs, tc.fix) {
				t.Errorf("stratd %v with %s at %04o: exit %d, stderr %q; want %q", args,
					filepath.Base(tc.path), tc.mode, code, errs, tc.fix)
			}
		}
		must(t, os.Chmod(tc.path, tc.good))
	}
}

// TestAccessHostKeyHintsAndExposure checks that the printed host key is the
// daemon's and that its known_hosts line works as printed, and that listening
// beyond loopback warns with the roles in force.
func TestAccessHostKeyHintsAndExposure(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("alpha", ""), "--kernel-only")

	fp := accessWaitFor(t, d.stdout, regexp.MustCompile(`host key: (SHA256:\S+)`))
	out, err := exec.Command("ssh-keygen", "-lf",
		filepath.Join(e.home, "ssh_host_ed25519_key")).Output()
	if err != nil || !strings.Contains(string(out), fp[1]) {
		t.Fatalf("printed %s, but the host key is %s (%v)", fp[1], out, err)
	}
	if !strings.Contains(d.stderr.String(), "host key fingerprint="+fp[1]) {
		t.Errorf("the daemon did not log its host key fingerprint:\n%s", d.stderr)
	}

	// The trust hint, run by a shell, makes OpenSSH accept the host strictly.
	trust := accessWaitFor(t, d.stdout, regexp.MustCompile(`trust:\s+(.*)\n`))
	must(t, os.MkdirAll(filepath.Join(e.user, ".ssh"), 0o700))
	sh := exec.Command("sh", "-c", trust[1])
	sh.Env = e.environ()
	if out, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", trust[1], err, out)
	}
	known := filepath.Join(e.user, ".ssh", "known_hosts")
	_, errs, code := e.accessSSH(d.port, []string{"-i", filepath.Join(e.home,
		"client_ed25519_key"), "-o", "StrictHostKeyChecking=yes",
		"-o", "UserKnownHostsFile=" + known}, "", "kernel", "list")
	if code != 0 {
		t.Fatalf("ssh with the printed known_hosts line: exit %d %s", code, errs)
	}

	// Off loopback: a warning that names the roles in force.
	e.person("vera", "viewer")
	cmd := exec.Command(stratdBin, "serve", "--listen", "0.0.0.0:0", "--home", e.home)
	cmd.Env = e.environ()
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "listening beyond loopback") {
			if !strings.Contains(line, "admin=1 operator=0 viewer=1") {
				t.Errorf("the warning does not count the roles: %s", line)
			}
			go io.Copy(io.Discard, stderr)
			return
		}
	}
	t.Fatal("no warning when listening on 0.0.0.0")
}

// TestAccessConnectionRate limits new connections with --max-connections-per-minute.
func TestAccessConnectionRate(t *testing.T) {
	e := newEnv(t)
	d := e.start("serve", "--listen", "127.0.0.1:0", "--max-connections-per-minute", "1")

	if _, errs, code := e.ssh(d.port, "", "", "kernel", "list"); code != 0 {
		t.Fatalf("first connection: exit %d %s", code, errs)
	}
	for range 2 {
		if _, _, code := e.ssh(d.port, "", "", "kernel", "list"); code != 255 {
			t.Fatalf("a connection over the limit: exit %d, want 255", code)
		}
	}
	accessWaitLog(t, d, "connections refused: rate limit")
	if n := strings.Count(d.stderr.String(), "connections refused"); n != 1 {
		t.Errorf("the limit logged %d lines for 2 refusals, want 1", n)
	}
}
