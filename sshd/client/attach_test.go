//go:build unix

package client

import (
	"bufio"
	"errors"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/term"
)

// openTerminal opens a pseudo-terminal of 100×30 and returns its controlling
// side (what a user types into and reads) and the terminal Attach is given.
func openTerminal(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() {
		ptmx.Close()
		tty.Close()
	})
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 100, Rows: 30}); err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// attach runs Attach in the background and returns where its result arrives.
func attach(c *ssh.Client, tty *os.File) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Attach(c, "", tty, tty) }()
	return done
}

// waitAttach waits for Attach's result.
func waitAttach(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("attach did not return after the remote session ended")
		return nil
	}
}

func TestAttachSession(t *testing.T) {
	t.Setenv("TERM", "")
	s := startServer(t)
	c := dial(t, s)
	ptmx, tty := openTerminal(t)
	before, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}

	done := attach(c, tty)
	req := <-s.ptys
	if req.Term != defaultTerm || req.Columns != 100 || req.Rows != 30 {
		t.Errorf("pty-req %s %d×%d, want %s 100×30", req.Term, req.Columns, req.Rows,
			defaultTerm)
	}
	screen := bufio.NewReader(ptmx)
	line, err := screen.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("read %q, %v; want ready", line, err)
	}

	// The terminal is raw now: a single byte reaches the server unbuffered.
	// Resizing sends a window-change; the tty is not this process's
	// controlling terminal, so the SIGWINCH the kernel would send is sent here.
	if err := pty.Setsize(ptmx, &pty.Winsize{Cols: 120, Rows: 40}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGWINCH); err != nil {
		t.Fatal(err)
	}
	select {
	case size := <-s.resizes:
		if size != [2]uint32{120, 40} {
			t.Errorf("window-change %v, want 120×40", size)
		}
	case <-time.After(5 * time.Second):
		t.Error("no window-change after a resize")
	}

	if _, err := ptmx.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	if err := waitAttach(t, done); err != nil {
		t.Errorf("attach: %v", err)
	}
	after, err := term.GetState(int(tty.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Error("terminal mode not restored after attach")
	}
}

func TestAttachExitStatus(t *testing.T) {
	t.Setenv("TERM", "vt100")
	t.Setenv("NO_COLOR", "1")
	s := startServer(t)
	c := dial(t, s)
	ptmx, tty := openTerminal(t)

	done := attach(c, tty)
	if req := <-s.ptys; req.Term != "vt100" {
		t.Errorf("term %q, want vt100 from $TERM", req.Term)
	}
	// Sent before the pty-req, so handled by now.
	if v, ok := s.envVar("NO_COLOR"); v != "1" {
		t.Errorf("NO_COLOR reached the server as %q (set: %v), want 1", v, ok)
	}
	if _, here := os.LookupEnv("CLICOLOR_FORCE"); !here && s.envHas("CLICOLOR_FORCE") {
		t.Error("CLICOLOR_FORCE was sent although it is not set here")
	}
	screen := bufio.NewReader(ptmx)
	if _, err := screen.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, err := ptmx.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}

	err := waitAttach(t, done)
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || exit.ExitStatus() != 7 ||
		!strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("error %v, want exit status 7", err)
	}
}
