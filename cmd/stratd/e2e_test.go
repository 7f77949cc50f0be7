package main

// End-to-end tests: the built binary, driven the way a person drives it, with the
// OpenSSH client against a daemon on a free loopback port. Every test has its own
// home folder and HOME, so nothing touches the real ~/.stratd or ~/.ssh.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var stratdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stratd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stratdBin = filepath.Join(dir, "stratd")
	build := exec.Command("go", "build", "-race", "-o", stratdBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build stratd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one person's machine: a stratd home and a HOME with no ssh keys.
type env struct {
	t    *testing.T
	bin  string   // the daemon binary for start; "" is the race-detector build
	home string   // --home
	user string   // $HOME
	dir  string   // configs
	vars []string // more environment for the binary, NAME=value
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// stratd makes the home itself (mode 0700): it refuses t.TempDir's 0755.
	home := filepath.Join(t.TempDir(), "stratd")
	e := &env{t: t, home: home, user: t.TempDir(), dir: t.TempDir()}
	return e
}

// config writes a kernel config whose bars come every 50ms, and returns its path.
func (e *env) config(name, star string) string {
	e.t.Helper()
	yml := fmt.Sprintf("name: %s\nstrategy: %s.star\ninstruments: [BTCUSDT, ETHUSDT]\n"+
		"feed: {kind: synthetic, interval: 50ms, seed: 3}\naccount: {capital: 10000}\n",
		name, name)
	must(e.t, os.WriteFile(filepath.Join(e.dir, name+".yml"), []byte(yml), 0o600))
	must(e.t, os.WriteFile(filepath.Join(e.dir, name+".star"), []byte(star), 0o600))
	return filepath.Join(e.dir, name+".yml")
}

func (e *env) binary() string {
	if e.bin != "" {
		return e.bin
	}
	return stratdBin
}

var (
	plainOnce sync.Once
	plainBin  string
	plainErr  error
)

// plainBinary builds stratd without the race detector, for tests that measure the
// daemon's speed or memory: the detector multiplies both.
func plainBinary(t *testing.T) string {
	t.Helper()
	plainOnce.Do(func() {
		plainBin = filepath.Join(filepath.Dir(stratdBin), "stratd-plain")
		out, err := exec.Command("go", "build", "-o", plainBin, ".").CombinedOutput()
		if err != nil {
			plainErr = fmt.Errorf("build stratd without -race: %v\n%s", err, out)
		}
	})
	if plainErr != nil {
		t.Fatal(plainErr)
	}
	return plainBin
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "STRATD_HOME=") {
			out = append(out, kv)
		}
	}
	out = append(out, "HOME="+e.user)
	return append(out, e.vars...)
}

// stratd runs the binary to completion with a time limit.
func (e *env) stratd(stdin string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, stratdBin, append(args, "--home", e.home)...)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("stratd %v did not finish in time\nstdout: %s\nstderr: %s", args, o.String(),
			er.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return o.String(), er.String(), code
}

// proc is a running `stratd run --kernel-only` or `stratd serve`.
type proc struct {
	cmd      *exec.Cmd
	port     string
	connFile string
	stdout   *lockedBuffer
	stderr   *lockedBuffer
	exited   chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var connFileLine = regexp.MustCompile(`Connection file: (\S+)`)
var listenLine = regexp.MustCompile(`listening addr=127\.0\.0\.1:(\d+)`)

// start runs a daemon and waits until it prints its connection file (kernel-only) or
// logs its address (serve).
func (e *env) start(args ...string) *proc {
	e.t.Helper()
	cmd := exec.Command(e.binary(), append(args, "--home", e.home)...)
	cmd.Env = e.environ()
	pr, pw := io.Pipe()
	d := &proc{cmd: cmd, stdout: &lockedBuffer{}, stderr: &lockedBuffer{},
		exited: make(chan struct{})}
	cmd.Stdout = io.MultiWriter(d.stdout, pw)
	cmd.Stderr = io.MultiWriter(d.stderr, pw)
	must(e.t, cmd.Start())
	go func() {
		cmd.Wait()
		pw.Close()
		close(d.exited)
	}()
	e.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})

	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled, serving := false, false
		for sc.Scan() {
			line := sc.Text()
			// stdout and stderr race into this pipe: the serving line may come before
			// or after the log line with the port.
			serving = serving || strings.Contains(line, "stratd serving")
			if m := listenLine.FindStringSubmatch(line); m != nil && d.port == "" {
				d.port = m[1]
			}
			if m := connFileLine.FindStringSubmatch(line); m != nil {
				d.connFile = m[1]
			}
			if !signalled && d.port != "" && (d.connFile != "" || serving) {
				signalled = true
				close(ready)
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case <-ready:
	case <-d.exited:
		e.t.Fatalf("stratd %v exited early\nstdout: %s\nstderr: %s", args, d.stdout, d.stderr)
	case <-time.After(20 * time.Second):
		e.t.Fatalf("stratd %v not ready\nstdout: %s\nstderr: %s", args, d.stdout, d.stderr)
	}
	return d
}

// waitGone waits for the daemon to exit by itself after what happened, and checks it
// took its connection file with it.
func (d *proc) waitGone(t *testing.T, after string) {
	t.Helper()
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("the daemon still runs after %s", after)
	}
	if _, err := os.Stat(d.connFile); !os.IsNotExist(err) {
		t.Fatalf("connection file still there after %s: %v", after, err)
	}
}

// sshArgs are the OpenSSH client options for a test: stratd's client key, no
// known_hosts, no prompts.
func (e *env) sshArgs(port string, key string) []string {
	if key == "" {
		key = filepath.Join(e.home, "client_ed25519_key")
	}
	return []string{"-p", port, "-i", key, "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no",
		"-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-F", "/dev/null", "127.0.0.1"}
}

// ssh runs one command over OpenSSH without a PTY.
func (e *env) ssh(port, key, stdin string, command ...string) (string, string, int) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(e.sshArgs(port, key), command...)...)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var o, er bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &er
	err := cmd.Run()
	if ctx.Err() != nil {
		e.t.Fatalf("ssh %v did not finish in time", command)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return o.String(), er.String(), code
}

func TestDaemonExecListStop(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("alpha", "def on_bar(ctx, bar):\n    pass\n")
	d := e.start("run", cfg, "--kernel-only")

	if fi, err := os.Stat(d.connFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("connection file %s: %v, mode %v", d.connFile, err, fi.Mode())
	}
	for _, f := range []string{"ssh_host_ed25519_key", "client_ed25519_key", "authorized_keys"} {
		if fi, err := os.Stat(filepath.Join(e.home, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v (want mode 0600)", f, err)
		}
	}

	// Over OpenSSH: one interpreter, shared; exit statuses 0, 1, 2.
	if out, errs, code := e.ssh(d.port, "", "", "exec", "alpha", "'x = 40'"); code != 0 {
		t.Fatalf("exec x = 40: code %d, %s %s", code, out, errs)
	}
	if out, _, code := e.ssh(d.port, "", "", "exec", "alpha", "'x + 2'"); code != 0 ||
		strings.TrimSpace(out) != "42" {
		t.Fatalf("exec x + 2 = %q (code %d), want 42", out, code)
	}
	if _, errs, code := e.ssh(d.port, "", "", "exec", "alpha", "'1/0'"); code != 1 ||
		!strings.Contains(errs, "division by zero") {
		t.Fatalf("exec 1/0: code %d stderr %q, want 1 and the error", code, errs)
	}
	if _, errs, code := e.ssh(d.port, "", "", "exec", "nope", "'1'"); code != 2 ||
		!strings.Contains(errs, `"nope" not found`) || !strings.Contains(errs, "alpha") {
		t.Fatalf("exec on unknown kernel: code %d stderr %q", code, errs)
	}
	if _, errs, code := e.ssh(d.port, "", "", "frobnicate"); code != 2 || errs == "" {
		t.Fatalf("unknown command: code %d stderr %q", code, errs)
	}
	// Code on stdin, through the local CLI.
	if out, errs, code := e.stratd("print(x * 2)\n", "exec", "alpha"); code != 0 ||
		strings.TrimSpace(out) != "80" {
		t.Fatalf("stratd exec from stdin: %q %q code %d", out, errs, code)
	}
	if out, _, code := e.stratd("", "exec", "alpha", "x"); code != 0 ||
		strings.TrimSpace(out) != "40" {
		t.Fatalf("stratd exec NAME CODE: %q code %d", out, code)
	}

	out, _, code := e.ssh(d.port, "", "", "kernel", "list", "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 ||
		list[0]["name"] != "alpha" {
		t.Fatalf("ssh kernel list --json = %q (code %d)", out, code)
	}
	if out, _, _ := e.ssh(d.port, "", "", "history", "alpha", "-n", "50"); !strings.Contains(
		out, ">>> x = 40") {
		t.Fatalf("history lacks the input:\n%s", out)
	}

	out, _, code = e.stratd("", "kernel", "list")
	if code != 0 || !regexp.MustCompile(`alpha\s+running`).MatchString(out) {
		t.Fatalf("stratd kernel list:\n%s", out)
	}

	out, errs, code := e.stratd("", "kernel", "stop", "alpha")
	if code != 0 {
		t.Fatalf("kernel stop: code %d %s %s", code, out, errs)
	}
	d.waitGone(t, "its last kernel was stopped")
}

func TestStaleConnectionFileAfterKill(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("beta", ""), "--kernel-only")
	must(t, d.cmd.Process.Signal(syscall.SIGKILL))
	<-d.exited

	out, _, code := e.stratd("", "kernel", "list")
	if code != 0 || !regexp.MustCompile(`beta\s+stale`).MatchString(out) ||
		strings.Contains(out, "running") {
		t.Fatalf("kernel list after SIGKILL:\n%s", out)
	}
	_, errs, code := e.stratd("", "exec", "beta", "1")
	if code == 0 || !strings.Contains(errs, "not running") || !strings.Contains(errs, "prune") {
		t.Fatalf("exec on a stale kernel: code %d: %s", code, errs)
	}
	out, _, code = e.stratd("", "kernel", "prune")
	if code != 0 || !strings.Contains(out, "1 stale") {
		t.Fatalf("prune: %s", out)
	}
	if _, err := os.Stat(d.connFile); !os.IsNotExist(err) {
		t.Fatal("prune left the stale file")
	}
}

func TestSigtermStopsKernelAndRemovesFile(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("gamma", ""), "--kernel-only")
	must(t, d.cmd.Process.Signal(syscall.SIGTERM))
	d.waitGone(t, "SIGTERM")
}

func TestUnknownKeyIsRefused(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("delta", ""), "--kernel-only")
	key := filepath.Join(t.TempDir(), "id_ed25519")
	gen := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mallory", "-f", key)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen unavailable: %v %s", err, out)
	}
	_, errs, code := e.ssh(d.port, key, "", "kernel", "list")
	if code != 255 || !strings.Contains(errs, "Permission denied") {
		t.Fatalf("unknown key: code %d stderr %q", code, errs)
	}
	if !strings.Contains(d.stderr.String(), "mallory") &&
		!strings.Contains(d.stderr.String(), "SHA256:") {
		t.Fatalf("the refusal was not logged:\n%s", d.stderr)
	}
}

func TestBadConfigFailsFast(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.dir, "bad.yml")
	must(t, os.WriteFile(path, []byte("name: bad\nstrategy: bad.star\ninstrument: [X]\n"), 0o600))
	_, errs, code := e.stratd("", "run", path, "--kernel-only")
	if code == 0 || !strings.Contains(errs, "bad.yml:3") || !strings.Contains(errs, "instruments") {
		t.Fatalf("misspelt key: code %d stderr %q", code, errs)
	}
	must(t, os.WriteFile(filepath.Join(e.dir, "bad.star"), []byte("def on_bar(ctx, bar)\n"), 0o600))
	must(t, os.WriteFile(path, []byte("name: bad\nstrategy: bad.star\ninstruments: [X]\n"), 0o600))
	_, errs, code = e.stratd("", "run", path, "--kernel-only")
	if code == 0 || !strings.Contains(errs, "bad.star:") {
		t.Fatalf("syntax error: code %d stderr %q", code, errs)
	}
}
