package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// dial connects to s with its authorized key, or fails the test.
func dial(t *testing.T, s *testServer) *ssh.Client {
	t.Helper()
	c, err := Dial(context.Background(), s.target(), s.client, "")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRunExitStatusAndStreams(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)

	tests := []struct {
		cmd, stdin, stdout, stderr string
		status                     int
	}{
		{cmd: "echo hello there", stdout: "hello there\n"},
		{cmd: "fail 3 it went wrong", stderr: "it went wrong\n", status: 3},
		{cmd: "cat", stdin: "line one\nline two\n", stdout: "line one\nline two\n"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		var stdin *strings.Reader
		if tt.stdin != "" {
			stdin = strings.NewReader(tt.stdin)
		}
		status, err := Run(context.Background(), c, tt.cmd, readerOrNil(stdin),
			&stdout, &stderr)
		if err != nil {
			t.Errorf("%s: %v", tt.cmd, err)
			continue
		}
		got := []any{status, stdout.String(), stderr.String()}
		want := []any{tt.status, tt.stdout, tt.stderr}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: status, stdout, stderr %q; want %q", tt.cmd, got, want)
		}
	}
}

// readerOrNil keeps a nil *strings.Reader from becoming a non-nil io.Reader.
func readerOrNil(r *strings.Reader) io.Reader {
	if r == nil {
		return nil
	}
	return r
}

func TestRunWithoutExitStatus(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	status, err := Run(context.Background(), c, "noexit", nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "without an exit status") {
		t.Errorf("status %d, error %v; want an error about the missing exit status",
			status, err)
	}
}

func TestRunCancelClosesSession(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ctx, cancel := context.WithCancel(context.Background())

	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, c, "hang", nil, nil, nil)
		done <- err
	}()
	if cmd := <-s.execs; cmd != "hang" {
		t.Fatalf("server ran %q", cmd)
	}
	cancel()

	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after its context was cancelled")
	}

	// The connection stays usable for other sessions.
	var out bytes.Buffer
	if _, err := Run(context.Background(), c, "echo still here", nil, &out, nil); err != nil ||
		out.String() != "still here\n" {
		t.Errorf("after cancel: %q, %v", out.String(), err)
	}
}

func TestDialHostKeyMismatch(t *testing.T) {
	s := startServer(t)
	stranger := newSigner(t).PublicKey()
	target := Target{Addr: s.addr, HostKey: keyLine(stranger) + " old kernel"}

	_, err := Dial(context.Background(), target, s.client, "")
	if !errors.Is(err, ErrHostKeyMismatch) {
		t.Fatalf("error %v, want a host key mismatch", err)
	}
	for _, want := range []string{
		"host key mismatch for " + s.addr,
		"expects " + ssh.FingerprintSHA256(stranger),
		"offered " + ssh.FingerprintSHA256(s.host.PublicKey()),
		"stratd kernel prune",
		"impersonating",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestDialUnknownKey(t *testing.T) {
	s := startServer(t)
	intruder := newSigner(t)

	_, err := Dial(context.Background(), s.target(), intruder, "alice")
	if !errors.Is(err, ErrKeyRefused) {
		t.Fatalf("error %v, want the key refused", err)
	}
	for _, want := range []string{
		"the daemon at " + s.addr + " refused key " +
			ssh.FingerprintSHA256(intruder.PublicKey()),
		"stratd keys add",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestDialConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	_, err = Dial(context.Background(), Target{Addr: addr}, newSigner(t), "")
	if !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("error %v, want no daemon", err)
	}
	want := "no stratd daemon answers at " + addr + " (connection refused)"
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// silentListener accepts TCP connections (the kernel does, from its backlog)
// but never speaks SSH, like a hung daemon.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestDialTimesOutByDefault(t *testing.T) {
	addr := silentListener(t)
	old := defaultTimeout
	defaultTimeout = 300 * time.Millisecond
	t.Cleanup(func() { defaultTimeout = old })

	start := time.Now()
	_, err := Dial(context.Background(), Target{Addr: addr}, newSigner(t), "")
	elapsed := time.Since(start)
	if !errors.Is(err, ErrNoDaemon) ||
		!strings.Contains(err.Error(), "no answer within 300ms") {
		t.Errorf("error %v, want no daemon within 300ms", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("dial took %v, want about the timeout", elapsed)
	}
}

func TestDialHonoursContextDeadline(t *testing.T) {
	addr := silentListener(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()

	start := time.Now()
	_, err := Dial(ctx, Target{Addr: addr}, newSigner(t), "")
	if !errors.Is(err, ErrNoDaemon) {
		t.Errorf("error %v, want no daemon", err)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("dial took %v with a 200ms deadline", elapsed)
	}
}

func TestDialCancelled(t *testing.T) {
	addr := silentListener(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Dial(ctx, Target{Addr: addr}, newSigner(t), "")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestDialMalformedHostKey(t *testing.T) {
	s := startServer(t)
	_, err := Dial(context.Background(), Target{Addr: s.addr, HostKey: "ssh-ed25519 zzz"},
		s.client, "")
	if err == nil || !strings.Contains(err.Error(), "not a public key") {
		t.Errorf("error %v, want one about the malformed host key", err)
	}
}

func TestDialWithoutHostKeyCheck(t *testing.T) {
	s := startServer(t)
	c, err := Dial(context.Background(), Target{Addr: s.addr}, s.client, "")
	if err != nil {
		t.Fatalf("dial without host key: %v", err)
	}
	c.Close()
}

func TestAttachNeedsTerminal(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	err = Attach(c, "", r, w)
	if !errors.Is(err, ErrNotTerminal) || !strings.Contains(err.Error(), "stratd exec") {
		t.Errorf("error %v, want the not-a-terminal error", err)
	}
}
