package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// markerLen is the length of every marker, so a reader knows how many bytes to
// carry over from one read to the next.
const markerLen = 14

// markerSeq numbers the markers of one process.
var markerSeq atomic.Int64

// nextMarker returns a fresh 14-letter marker. The terminal UI redraws only the
// cells that changed, so a marker must differ in every position from the one
// before it (the previous round's output sits on the same row of the screen) or
// the renderer would send only part of it. The first eight letters step by 7
// each round, the last six add the round to its base-26 digits; together that
// changes every letter every round and no two markers below 26^6 are equal.
// Neighbouring letters differ, so the renderer never shortens a run with REP.
func nextMarker() string {
	k := markerSeq.Add(1)
	b := make([]byte, markerLen)
	for i := range 8 {
		b[i] = 'A' + byte((7*k+3*int64(i))%26)
	}
	d := k
	for i := 8; i < markerLen; i++ {
		b[i] = 'A' + byte((d%26+k+5*int64(i))%26)
		d /= 26
	}
	return string(b)
}

// printMarker is the code that prints a marker without the marker appearing in
// the code itself: the input line every client shows must not match.
func printMarker(m string) string {
	return fmt.Sprintf(`print("%s" + "%s")`, m[:markerLen/2], m[markerLen/2:])
}

// round is one marker being waited for, and where its sightings go.
type round struct {
	marker []byte
	t0     time.Time
	hits   chan hit
}

// hit is one client seeing a round's marker.
type hit struct {
	client int
	after  time.Duration // since the round's t0
}

// ptyClient is one SSH connection attached to the bench kernel's terminal UI. A
// goroutine reads its terminal stream and reports the current round's marker the
// first time it shows up.
type ptyClient struct {
	id   int
	conn *ssh.Client
	gate *gateConn // nil unless the client can be stalled
	sess *ssh.Session

	current   atomic.Pointer[round]
	bytes     atomic.Int64  // terminal bytes read so far
	firstByte atomic.Int64  // when the first terminal bytes came, in Unix nanoseconds
	done      chan struct{} // closed when the stream has ended
}

// ptySize is a terminal size in cells.
type ptySize struct{ cols, rows int }

// attachPTY dials and attaches to the bench kernel with a terminal of the given
// size. r, when not nil, is the round whose marker the client looks for first
// (the attach figure). stallable wraps the connection so it can be stalled.
func attachPTY(d *dialer, id int, size ptySize, r *round, stallable bool) (*ptyClient, error) {
	c := &ptyClient{id: id, done: make(chan struct{})}
	if r != nil {
		c.current.Store(r)
	}
	var wrap func(net.Conn) net.Conn
	if stallable {
		wrap = func(nc net.Conn) net.Conn { c.gate = newGateConn(nc); return c.gate }
	}
	conn, err := d.dial(wrap)
	if err != nil {
		return nil, err
	}
	c.conn = conn
	if err := c.start(size); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// start opens the terminal session and the reader.
func (c *ptyClient) start(size ptySize) error {
	sess, err := c.conn.NewSession()
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400,
		ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm-256color", size.rows, size.cols, modes); err != nil {
		return fmt.Errorf("request pty: %w", err)
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		return err
	}
	// stdin stays open (a nil Stdin would send EOF, which the UI takes as Ctrl+D).
	if _, err := sess.StdinPipe(); err != nil {
		return err
	}
	if err := sess.Start("attach " + kernelName); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	c.sess = sess
	go c.read(out)
	return nil
}

// read scans the terminal stream for the current round's marker. The last
// markerLen-1 bytes of each read are kept in front of the next, so a marker split
// across two reads is still found.
func (c *ptyClient) read(r io.Reader) {
	defer close(c.done)
	buf := make([]byte, markerLen-1+32<<10)
	carry := 0
	var reported *round
	for {
		n, err := r.Read(buf[carry:])
		now := time.Now()
		if n > 0 {
			if c.bytes.Add(int64(n)) == int64(n) {
				c.firstByte.Store(now.UnixNano())
			}
			end := carry + n
			if rd := c.current.Load(); rd != nil && rd != reported &&
				bytes.Contains(buf[:end], rd.marker) {
				reported = rd
				rd.hits <- hit{client: c.id, after: now.Sub(rd.t0)}
			}
			carry = min(end, markerLen-1)
			copy(buf, buf[end-carry:end])
		}
		if err != nil {
			return
		}
	}
}

// resize tells the daemon the client's terminal has a new size.
func (c *ptyClient) resize(size ptySize) error {
	if err := c.sess.WindowChange(size.rows, size.cols); err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	return nil
}

// close ends the session and the connection; the daemon detaches the client.
func (c *ptyClient) close() {
	if c.sess != nil {
		c.sess.Close()
	}
	c.conn.Close()
	<-c.done
}

// newRound starts waiting for a fresh marker on every client given, whose hits
// go to one channel with room for all of them. Its clock starts now, before the
// input that prints the marker is sent.
func newRound(clients []*ptyClient) *round {
	r := &round{marker: []byte(nextMarker()), hits: make(chan hit, max(1, len(clients))),
		t0: time.Now()}
	for _, c := range clients {
		c.current.Store(r)
	}
	return r
}

// wait collects the round's hits until want clients have reported or timeout
// passes, and returns them in arrival order.
func (r *round) wait(want int, timeout time.Duration) []hit {
	var got []hit
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for len(got) < want {
		select {
		case h := <-r.hits:
			got = append(got, h)
		case <-deadline.C:
			return got
		}
	}
	return got
}
