// Package inproc profiles the SSH terminal UI path of stratd in one process, where
// pprof can see it: the daemon's pieces (keys, kernel registry, SSH server, TUI)
// wired the way cmd/stratd wires them, and x/crypto/ssh PTY clients on loopback.
// It holds benchmarks only; `go test ./...` compiles it and runs nothing.
//
//	go test ./bench/inproc -run '^$' -bench IdleSessions -benchtime 1x \
//	    -heapprofile /tmp/idle.heap      # then: go tool pprof -sample_index=inuse_space
//	go test ./bench/inproc -run '^$' -bench Fanout -cpuprofile /tmp/fanout.cpu
//
// The clients live in the same process, so their allocations and CPU show up too;
// the profiles tell them apart by stack (golang.org/x/crypto/ssh client code and
// this file's reader against sshd, tui, bubbletea and ultraviolet).
package inproc

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
	"github.com/stratd/stratd/tui"
	"golang.org/x/crypto/ssh"
)

var (
	heapProfile = flag.String("heapprofile", "",
		"write a heap profile here while the idle sessions are attached")
	sessions = flag.Int("sessions", 100, "PTY clients attached")
	cols     = flag.Int("cols", 120, "terminal width of every client")
	rows     = flag.Int("rows", 40, "terminal height of every client")
)

const (
	kernelName = "bench"
	config     = "name: " + kernelName + "\nstrategy: bench.star\ninstruments: [BTCUSDT]\n" +
		"feed: {kind: synthetic, timeframe: 1m, interval: 1h, seed: 1}\n" +
		"kernel: {history: 1000}\n"
	historyCode = "for i in range(1000):\n" +
		"    print(\"history line %d of the bench transcript: \" % i + \"abcdefgh\" * 5)\n"
)

var benchPerson = kernel.Person{Name: "bench", Role: keys.Admin}

// daemon is the in-process stand-in for `stratd run --kernel-only`.
type daemon struct {
	addr   string
	config *ssh.ClientConfig
	k      *kernel.Kernel
}

func startDaemon(b *testing.B) *daemon {
	b.Helper()
	home := filepath.Join(b.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		b.Fatal(err)
	}
	quiet := log.New(io.Discard)
	store, err := keys.Ensure(home, quiet)
	if err != nil {
		b.Fatal(err)
	}
	reg := kernel.NewRegistry(kernel.RegistryOptions{Home: home, HostKey: store.HostKeyLine(),
		Logger: quiet})
	srv, err := sshd.New(sshd.Config{
		Addr:       "127.0.0.1:0",
		HostSigner: store.HostSigner(),
		Auth:       store,
		Registry:   reg,
		Logger:     quiet,
		// One key opens every session from one address: no per-key or per-source caps.
		Limits: sshd.Limits{SessionsPerKey: -1, Conns: sshd.Rate{Burst: -1}},
		UI: func(u *sshd.UISession) tea.Model {
			return tui.New(u.Client, tui.Options{Context: u.Session.Context()})
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		b.Fatal(err)
	}
	reg.SetAddr(addr.String())
	go srv.Serve()
	b.Cleanup(func() { srv.Close(); reg.Close() })

	cfg := filepath.Join(home, "bench.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "bench.star"), nil, 0o600); err != nil {
		b.Fatal(err)
	}
	k, err := reg.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	d := &daemon{addr: addr.String(), k: k, config: &ssh.ClientConfig{
		User:            "bench",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(store.ClientSigner())},
		HostKeyCallback: ssh.FixedHostKey(store.HostSigner().PublicKey()),
		Timeout:         10 * time.Second,
	}}
	d.exec(b, historyCode)
	return d
}

func (d *daemon) exec(b *testing.B, code string) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := d.k.Exec(ctx, benchPerson, code); err != nil {
		b.Fatal(err)
	}
}

// client is one attached PTY client; it reports when the awaited marker shows up.
type client struct {
	conn *ssh.Client
	want atomic.Pointer[wait]
	done chan struct{}
}

// wait is a marker and the clients that still have to see it.
type wait struct {
	marker []byte
	left   sync.WaitGroup
}

func (d *daemon) attach(b *testing.B, n int) []*client {
	b.Helper()
	clients := make([]*client, n)
	for i := range clients {
		conn, err := ssh.Dial("tcp", d.addr, d.config)
		if err != nil {
			b.Fatal(err)
		}
		c := &client{conn: conn, done: make(chan struct{})}
		sess, err := conn.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if err := sess.RequestPty("xterm-256color", *rows, *cols, nil); err != nil {
			b.Fatal(err)
		}
		out, _ := sess.StdoutPipe()
		_, _ = sess.StdinPipe() // open stdin: EOF would detach
		if err := sess.Start("attach " + kernelName); err != nil {
			b.Fatal(err)
		}
		go c.read(out)
		clients[i] = c
	}
	b.Cleanup(func() {
		for _, c := range clients {
			c.conn.Close()
			<-c.done
		}
	})
	return clients
}

func (c *client) read(r io.Reader) {
	defer close(c.done)
	buf := make([]byte, 32<<10)
	var tail []byte
	var seen *wait
	for {
		n, err := r.Read(buf)
		if w := c.want.Load(); n > 0 && w != nil && w != seen {
			if bytes.Contains(append(tail, buf[:n]...), w.marker) {
				seen = w
				w.left.Done()
			}
		}
		if n > 0 {
			tail = append(tail[:0], buf[max(0, n-32):n]...)
		}
		if err != nil {
			return
		}
	}
}

// round prints a fresh marker and waits until every client has shown it.
func (d *daemon) round(b *testing.B, clients []*client, i int) {
	b.Helper()
	m := marker(i)
	w := &wait{marker: []byte(m)}
	w.left.Add(len(clients))
	for _, c := range clients {
		c.want.Store(w)
	}
	d.exec(b, fmt.Sprintf("print(%q + %q)", m[:7], m[7:]))
	done := make(chan struct{})
	go func() { w.left.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("round %d: not every client showed the output within 60s", i)
	}
}

// marker returns the marker of round i. The UI redraws only the cells that
// changed, so every letter differs from the previous round's (which sits on the
// same row); see nextMarker in cmd/stratd-bench.
func marker(i int) string {
	k := i + 1000
	b := make([]byte, 14)
	for j := range 8 {
		b[j] = 'A' + byte((7*k+3*j)%26)
	}
	d := k
	for j := 8; j < 14; j++ {
		b[j] = 'A' + byte((d%26+k+5*j)%26)
		d /= 26
	}
	return string(b)
}

// heapInuse returns the live heap after two collections.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkIdleSessions reports the live heap per attached idle UI session
// (server and client sides together) and, with -heapprofile, where it is.
func BenchmarkIdleSessions(b *testing.B) {
	for range b.N {
		d := startDaemon(b)
		d.round(b, d.attach(b, 1), -1) // warm up every lazy allocation once
		before := heapInuse()
		clients := d.attach(b, *sessions)
		d.round(b, clients, 0)
		time.Sleep(500 * time.Millisecond) // let the last frames go out
		after := heapInuse()
		b.ReportMetric(float64(after-before)/float64(*sessions), "heapB/session")
		if *heapProfile != "" {
			writeHeapProfile(b, *heapProfile)
		}
	}
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFanout times one print reaching every attached client; one op is one
// print. The input goes to the kernel directly, not over SSH.
func BenchmarkFanout(b *testing.B) {
	d := startDaemon(b)
	clients := d.attach(b, *sessions)
	d.round(b, clients, -1)
	b.ResetTimer()
	for i := range b.N {
		d.round(b, clients, i)
	}
}
