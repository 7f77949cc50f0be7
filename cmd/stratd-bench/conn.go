package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// dialTimeout bounds one TCP connect plus SSH handshake.
const dialTimeout = 20 * time.Second

// dialer opens SSH connections to one daemon as the home's client key, checking
// the daemon's host key against its connection file.
type dialer struct {
	addr   string
	config *ssh.ClientConfig
}

func (d *daemon) dialer() (*dialer, error) {
	host, _, _, _, err := ssh.ParseAuthorizedKey([]byte(d.conn.HostKey))
	if err != nil {
		return nil, fmt.Errorf("host key in %s: %w", d.connPath, err)
	}
	return &dialer{
		addr: d.conn.Addr,
		config: &ssh.ClientConfig{
			User:              "bench",
			Auth:              []ssh.AuthMethod{ssh.PublicKeys(d.signer)},
			HostKeyCallback:   ssh.FixedHostKey(host),
			HostKeyAlgorithms: []string{host.Type()},
			Timeout:           dialTimeout,
		},
	}, nil
}

// dial connects and logs in. wrap, when not nil, wraps the TCP connection before
// the handshake (the stalled client uses it to stop reading).
func (d *dialer) dial(wrap func(net.Conn) net.Conn) (*ssh.Client, error) {
	conn, err := net.DialTimeout("tcp", d.addr, dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.addr, err)
	}
	conn.SetDeadline(time.Now().Add(dialTimeout))
	if wrap != nil {
		conn = wrap(conn)
	}
	sc, chans, reqs, err := ssh.NewClientConn(conn, d.addr, d.config)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh handshake with %s: %w", d.addr, err)
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// runCmd runs command in a new session on c without a terminal and returns its
// stdout, stderr and exit status.
func runCmd(c *ssh.Client, command string) (stdout, stderr string, code int, err error) {
	sess, err := c.NewSession()
	if err != nil {
		return "", "", -1, fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	err = sess.Run(command)
	var exit *ssh.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0, nil
	case errors.As(err, &exit):
		return out.String(), errb.String(), exit.ExitStatus(), nil
	}
	return out.String(), errb.String(), -1, fmt.Errorf("run %q: %w", command, err)
}

// mustExec runs code in the bench kernel and fails unless it ran cleanly.
func mustExec(c *ssh.Client, code string) (string, error) {
	out, errOut, status, err := runCmd(c, "exec "+kernelName+" "+shellQuote(code))
	if err != nil {
		return "", err
	}
	if status != 0 {
		return "", fmt.Errorf("exec %q: exit status %d: %s", code, status, errOut)
	}
	return out, nil
}

// shellQuote quotes s as one word for the daemon's command line parser, which
// splits like a POSIX shell.
func shellQuote(s string) string {
	return "'" + string(bytes.ReplaceAll([]byte(s), []byte("'"), []byte(`'\''`))) + "'"
}

// gateConn is a connection whose reading can be stopped: while stalled, Read
// blocks, so the client neither reads the socket nor grants the daemon more SSH
// window — like a terminal frozen with Ctrl+S, or a laptop lid closed.
type gateConn struct {
	net.Conn

	mu   sync.Mutex // protects gate
	gate chan struct{}
}

func newGateConn(c net.Conn) *gateConn {
	open := make(chan struct{})
	close(open)
	return &gateConn{Conn: c, gate: open}
}

// Read waits while the connection is stalled.
func (g *gateConn) Read(p []byte) (int, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	<-gate
	return g.Conn.Read(p)
}

// stall stops reading: the next Read blocks until resume.
func (g *gateConn) stall() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
		g.gate = make(chan struct{})
	default: // already stalled
	}
}

// resume lets reading go on.
func (g *gateConn) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.gate:
	default:
		close(g.gate)
	}
}

// Close closes the connection and releases a stalled Read.
func (g *gateConn) Close() error {
	g.resume()
	return g.Conn.Close()
}
