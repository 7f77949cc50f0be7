package client

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
)

// testServer is a tiny SSH server on a loopback port that accepts one client
// key. It runs these exec commands:
//
//	echo WORDS      WORDS on stdout, exit 0
//	fail N WORDS    WORDS on stderr, exit N
//	cat             stdin to stdout, exit 0
//	hang            nothing until the client closes the session
//	noexit          close without an exit status
//
// and, with a PTY, a shell that prints "ready", then exits with status 0 on
// the byte 'q' and 7 on 'x'.
type testServer struct {
	addr    string
	host    ssh.Signer
	client  ssh.Signer
	execs   chan string    // each exec command, once it started
	ptys    chan ptyReq    // each pty-req
	resizes chan [2]uint32 // each window-change: columns, rows
	envMu   sync.Mutex
	env     map[string]string // variables set with env requests

	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex // protects conns
	conns []net.Conn
}

// ptyReq is the payload of a pty-req request.
type ptyReq struct {
	Term          string
	Columns, Rows uint32
	Width, Height uint32
	Modes         string
}

// newSigner makes a fresh ed25519 key.
func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keyLine is a key in authorized_keys form.
func keyLine(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// startServer starts a test server; it stops when the test ends.
func startServer(t *testing.T) *testServer {
	t.Helper()
	s := &testServer{
		host:    newSigner(t),
		client:  newSigner(t),
		execs:   make(chan string, 16),
		ptys:    make(chan ptyReq, 4),
		resizes: make(chan [2]uint32, 16),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln, s.addr = ln, ln.Addr().String()

	config := &ssh.ServerConfig{
		PublicKeyCallback: s.checkKey,
	}
	config.AddHostKey(s.host)

	s.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, conn)
			s.mu.Unlock()
			s.wg.Go(func() { s.serve(conn, config) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// checkKey accepts the one client key.
func (s *testServer) checkKey(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
	if bytes.Equal(k.Marshal(), s.client.PublicKey().Marshal()) {
		return nil, nil
	}
	return nil, errors.New("unknown key")
}

// target is the Target for this server with the right host key.
func (s *testServer) target() Target {
	return Target{Addr: s.addr, HostKey: keyLine(s.host.PublicKey())}
}

func (s *testServer) serve(conn net.Conn, config *ssh.ServerConfig) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, config)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		s.wg.Go(func() { s.session(ch, chReqs) })
	}
}

func (s *testServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			s.wg.Go(func() { s.exec(ch, p.Command) })
		case "pty-req":
			var p ptyReq
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			s.ptys <- p
			req.Reply(true, nil)
		case "shell":
			req.Reply(true, nil)
			s.wg.Go(func() { s.shell(ch) })
		case "env":
			var p struct{ Name, Value string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			s.envMu.Lock()
			if s.env == nil {
				s.env = map[string]string{}
			}
			s.env[p.Name] = p.Value
			s.envMu.Unlock()
			req.Reply(true, nil)
		case "window-change":
			var p struct{ Columns, Rows, Width, Height uint32 }
			if ssh.Unmarshal(req.Payload, &p) == nil {
				s.resizes <- [2]uint32{p.Columns, p.Rows}
			}
		default:
			if req.WantReply {
				req.Reply(false, nil)
			}
		}
	}
}

func (s *testServer) exec(ch ssh.Channel, cmd string) {
	defer ch.Close()
	words := strings.Fields(cmd)
	if len(words) == 0 {
		exit(ch, 2)
		return
	}
	s.execs <- cmd

	switch words[0] {
	case "echo":
		fmt.Fprintln(ch, strings.Join(words[1:], " "))
		exit(ch, 0)
	case "fail":
		n, _ := strconv.Atoi(words[1])
		fmt.Fprintln(ch.Stderr(), strings.Join(words[2:], " "))
		exit(ch, n)
	case "cat":
		io.Copy(ch, ch)
		exit(ch, 0)
	case "hang":
		io.Copy(io.Discard, ch)
	case "noexit":
	default:
		fmt.Fprintf(ch.Stderr(), "unknown command %q\n", words[0])
		exit(ch, 127)
	}
}

func (s *testServer) shell(ch ssh.Channel) {
	defer ch.Close()
	io.WriteString(ch, "ready\r\n")
	buf := make([]byte, 1)
	for {
		if _, err := ch.Read(buf); err != nil {
			return
		}
		switch buf[0] {
		case 'q':
			exit(ch, 0)
			return
		case 'x':
			exit(ch, 7)
			return
		}
	}
}

// exit sends an exit status.
func exit(ch ssh.Channel, status int) {
	ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
}

// envVar returns the value an env request set for name, and whether one did.
func (s *testServer) envVar(name string) (string, bool) {
	s.envMu.Lock()
	defer s.envMu.Unlock()
	v, ok := s.env[name]
	return v, ok
}

func (s *testServer) envHas(name string) bool {
	_, ok := s.envVar(name)
	return ok
}
