package main

// Terminal tests: real OpenSSH clients in real terminals (tmux), the way people meet
// the REPL.

import (
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// terminal is one tmux session running a command in a terminal of a fixed size.
type terminal struct {
	t      *testing.T
	socket string
	name   string
}

func (e *env) term(name string, width, height int, command string) *terminal {
	e.t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		e.t.Skip("tmux is not installed")
	}
	tm := &terminal{t: e.t, socket: filepath.Join(e.user, "tmux.sock"), name: name}
	args := []string{"new-session", "-d", "-s", name, "-x", strconv.Itoa(width), "-y", strconv.Itoa(height),
		"env HOME=" + e.user + " TERM=xterm-256color " + command}
	tm.tmux(args...)
	e.t.Cleanup(func() { exec.Command("tmux", "-S", tm.socket, "kill-session", "-t", name).Run() })
	return tm
}

func (tm *terminal) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen is what the terminal shows now.
func (tm *terminal) screen() string { return tm.tmux("capture-pane", "-p", "-t", tm.name) }

// send types keys (tmux key names, e.g. "Enter", "C-d").
func (tm *terminal) send(keys ...string) {
	tm.tmux(append([]string{"send-keys", "-t", tm.name}, keys...)...)
}

// waitScreen waits until the screen contains every one of want. A terminal offers
// no event to wait on, so this re-reads the screen until a deadline.
func (tm *terminal) waitScreen(want ...string) string {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s := tm.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		select {
		case <-ctx.Done():
			tm.t.Fatalf("terminal %s never showed %q; it shows:\n%s", tm.name, missing, s)
		case <-tick.C:
		}
	}
}

// waitGone waits until the terminal's program has exited.
func (tm *terminal) waitGone() {
	tm.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		err := exec.Command("tmux", "-S", tm.socket, "has-session", "-t", tm.name).Run()
		if err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tm.t.Fatalf("terminal %s still open:\n%s", tm.name, tm.screen())
}

// person makes an ssh key named name and authorizes it with role.
func (e *env) person(name, role string) string {
	e.t.Helper()
	key := filepath.Join(e.user, "id_"+name)
	gen := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key)
	if out, err := gen.CombinedOutput(); err != nil {
		e.t.Skipf("ssh-keygen unavailable: %v %s", err, out)
	}
	if out, errs, code := e.stratd("", "keys", "add", key+".pub", "--role", role); code != 0 {
		e.t.Fatalf("keys add %s: %s %s", name, out, errs)
	}
	return key
}

func (e *env) sshCommand(port, key string, args ...string) string {
	return "ssh " + strings.Join(append(e.sshArgs(port, key), args...), " ")
}

func TestTwoTerminalsShareOneKernel(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("shared", ""), "--kernel-only")
	aliceKey := e.person("alice", "operator")
	bobKey := e.person("bob", "operator")
	carolKey := e.person("carol", "viewer")

	alice := e.term("alice", 100, 30, e.sshCommand(d.port, aliceKey, "-t", "attach", "shared"))
	bob := e.term("bob", 90, 24, e.sshCommand(d.port, bobKey, "-t"))
	alice.waitScreen(">>>", "shared")
	bob.waitScreen(">>>", "alice")

	// What one types appears on both screens with the typist's name, then its output.
	alice.send("x = 40", "Enter")
	bob.waitScreen("alice >>> x = 40")
	bob.send("print(x + 2)", "Enter")
	alice.waitScreen("bob >>> print(x + 2)", "42")

	// A late joiner sees the transcript replayed; a viewer cannot type.
	carol := e.term("carol", 100, 30, e.sshCommand(d.port, carolKey, "-t", "attach", "shared"))
	screen := carol.waitScreen("alice >>> x = 40", "bob >>> print(x + 2)", "42", "read-only")
	if !strings.Contains(screen, "carol") {
		t.Fatalf("carol's header does not list her:\n%s", screen)
	}
	carol.send("y = 1", "Enter")
	if out, _, _ := e.ssh(d.port, "", "", "history", "shared", "-n", "100"); strings.Contains(
		out, "y = 1") {
		t.Fatalf("a viewer's input reached the kernel:\n%s", out)
	}

	// Ctrl+D detaches alice; the kernel keeps running for the others.
	alice.send("C-d")
	alice.waitGone()
	bob.waitScreen("alice detached")
	if out, _, code := e.ssh(d.port, "", "", "exec", "shared", "x"); code != 0 ||
		strings.TrimSpace(out) != "40" {
		t.Fatalf("after alice detached, x = %q (code %d)", out, code)
	}
}

func TestConnectAttachesThisTerminal(t *testing.T) {
	e := newEnv(t)
	e.start("run", e.config("local", ""), "--kernel-only")
	tm := e.term("me", 100, 30, stratdBin+" connect --home "+e.home+" local")
	tm.waitScreen(">>>", "local")
	tm.send("1 + 1", "Enter")
	tm.waitScreen(">>> 1 + 1", "2")
	tm.send("C-d")
	tm.waitGone()
}
