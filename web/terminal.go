package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/coder/websocket"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/tui/screen"
)

// The socket protocol. The page sends the terminal's input as binary messages and
// control messages as JSON text ({"type":"resize","cols":C,"rows":R} and
// {"type":"ping"}, answered with {"type":"pong"}); the server sends the
// terminal's output as binary messages. The close code says why a session ended:
// a normal closure when the person detached, closeNoKernel when there is no such
// kernel, and anything else (a dropped network, a daemon going away) makes the
// page reconnect.
const (
	closeNoKernel websocket.StatusCode = 4404
)

const (
	// writeTimeout bounds one write to a socket; a tab that does not read for
	// this long is dropped rather than holding its program up.
	writeTimeout = 10 * time.Second
	// pingEvery is how often the server checks that a tab is still there;
	// browsers answer pings by themselves.
	pingEvery = 30 * time.Second
	// maxMessage is the largest message a tab may send (a big paste).
	maxMessage = 1 << 20
	// defaultCols and defaultRows are the size of a terminal that gives none.
	defaultCols, defaultRows = 80, 24
	// maxCols and maxRows bound the size a tab may ask for.
	maxCols, maxRows = 1000, 500
)

// control is a JSON control message from the page.
type control struct {
	Type string `json:"type"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

// serveTerminal upgrades to a WebSocket and runs the terminal UI of one tab on it.
func (s *Server) serveTerminal(w http.ResponseWriter, r *http.Request) {
	p, ok := s.personOf(r)
	if !ok {
		s.log.Warn("websocket refused", "remote", r.RemoteAddr, "reason", "not logged in")
		http.Error(w, "not logged in", http.StatusUnauthorized)
		return
	}
	if err := checkOrigin(r); err != nil {
		s.log.Warn("websocket refused", "remote", r.RemoteAddr, "name", p.Name, "reason", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	conn, err := websocket.Accept(w, r, nil) // checks the origin again, the same way
	if err != nil {
		s.log.Warn("websocket refused", "remote", r.RemoteAddr, "name", p.Name, "reason", err)
		return
	}
	conn.SetReadLimit(maxMessage)
	if !s.enter(conn) {
		conn.Close(websocket.StatusGoingAway, "the daemon is shutting down")
		return
	}
	defer s.leave(conn)

	q := r.URL.Query()
	k, err := s.findKernel(q.Get("kernel"))
	if err != nil {
		conn.Close(closeNoKernel, truncateReason(err.Error()))
		return
	}
	cols := sizeParam(q.Get("cols"), defaultCols, maxCols)
	rows := sizeParam(q.Get("rows"), defaultRows, maxRows)

	s.log.Info("terminal session", "name", p.Name, "role", p.Role, "kernel", k.Name(),
		"remote", r.RemoteAddr)
	start := time.Now()
	reason := s.runTerminal(conn, p, k, cols, rows)
	s.log.Info("terminal session ended", "name", p.Name, "kernel", k.Name(),
		"reason", reason, "after", time.Since(start).Round(time.Millisecond))
}

// checkOrigin lets a socket be opened only by pages of this server: a browser
// always says which page opens a socket, so another site's page cannot use the
// session cookie to reach a terminal. Clients other than browsers send no
// origin; they have no cookie unless they were given one.
func checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("bad origin %q", origin)
	}
	if !strings.EqualFold(u.Host, r.Host) {
		return fmt.Errorf("origin %s is not this server (%s)", u.Host, r.Host)
	}
	return nil
}

// findKernel finds the kernel a tab asks for: by name, or the only one.
func (s *Server) findKernel(name string) (*kernel.Kernel, error) {
	if name != "" {
		return s.cfg.Registry.Get(name)
	}
	kernels := s.cfg.Registry.List()
	switch len(kernels) {
	case 0:
		return nil, errors.New("no kernels are running; start one with " +
			"`kernel start CONFIG` over SSH")
	case 1:
		return kernels[0], nil
	}
	names := make([]string, len(kernels))
	for i, k := range kernels {
		names[i] = k.Name()
	}
	return nil, fmt.Errorf("%d kernels are running (%s): pick one", len(kernels),
		strings.Join(names, ", "))
}

// truncateReason fits a close reason into the 123 bytes a close frame allows,
// cutting between characters.
func truncateReason(s string) string {
	const limit = 123
	if len(s) <= limit {
		return s
	}
	cut := limit - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// sizeParam reads a terminal dimension from the address, def when there is none.
func sizeParam(s string, def, limit int) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return def
	}
	return min(n, limit)
}

// runTerminal attaches p to k and runs the terminal UI on conn until the socket
// closes, the UI quits (the person detached) or the server shuts down; then it
// closes the socket, saying why, and returns the reason.
//
// Reads and writes on the socket never use a context that ends with the session:
// the websocket library drops the connection when one does, and the page must get
// the close frame that says whether to reconnect.
func (s *Server) runTerminal(conn *websocket.Conn, p kernel.Person, k *kernel.Kernel,
	cols, rows int) string {
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()

	client := k.Attach(p, "web")
	defer client.Detach()

	model := s.cfg.UI(&Session{Person: p, Client: client, Context: ctx, Width: cols,
		Height: rows})
	if model == nil {
		reason := "the terminal UI did not start"
		conn.Close(websocket.StatusInternalError, reason)
		return reason
	}

	// The program reads the tab's keys from a pipe the socket fills, and draws on
	// the socket through a screen.Screen, as SSH sessions do (see sshd.runUI).
	inR, inW := io.Pipe()
	out := &socketWriter{ctx: ctx, conn: conn, fail: cancel}
	prog, scr := screen.NewProgram(model, out, inR, colorprofile.TrueColor,
		tea.WithWindowSize(cols, rows),
		tea.WithEnvironment([]string{"TERM=xterm-256color", "COLORTERM=truecolor"}),
	)

	gone := make(chan error, 1) // why the socket closed, if the tab closed it
	reading := make(chan struct{})
	go func() {
		defer close(reading)
		readSocket(conn, inW, prog, gone)
	}()
	go pingSocket(ctx, conn, cancel)
	// The program is not given ctx itself: a cancelled program reports an error,
	// and a tab closing is the ordinary way for a session to end.
	stop := context.AfterFunc(ctx, prog.Quit)
	defer stop()

	_, runErr := prog.Run()
	// Put the terminal back, if the tab is still there to see it.
	scr.Close()
	dropped := ctx.Err() != nil // a write or a ping failed, or the server is closing
	cancel()
	inW.CloseWithError(io.EOF)
	inR.Close()
	var readErr error
	select {
	case readErr = <-gone:
	default:
	}

	code, reason := websocket.StatusNormalClosure, "detached"
	switch {
	case runErr != nil:
		s.log.Error("terminal UI failed", "name", p.Name, "kernel", k.Name(), "err", runErr)
		code, reason = websocket.StatusInternalError, "the terminal UI failed"
	case s.ctx.Err() != nil:
		code, reason = websocket.StatusGoingAway, "the daemon is shutting down"
	case readErr != nil && websocket.CloseStatus(readErr) != -1:
		reason = "tab closed"
	case readErr != nil || dropped:
		code, reason = websocket.StatusAbnormalClosure, "connection lost"
	}
	if code == websocket.StatusAbnormalClosure {
		conn.CloseNow() // a close frame with this code may not be sent
	} else {
		conn.Close(code, reason)
	}
	<-reading
	return reason
}

// readSocket feeds the tab's input to the program until the socket closes. Then
// it reports why on gone, ends the input and asks the program to quit (which it
// may already have done).
func readSocket(conn *websocket.Conn, in *io.PipeWriter, prog *tea.Program,
	gone chan<- error) {
	for {
		typ, data, err := conn.Read(context.Background())
		if err != nil {
			gone <- err
			in.CloseWithError(io.EOF)
			prog.Quit()
			return
		}
		if typ == websocket.MessageBinary {
			in.Write(data) // fails only once the program has ended
			continue
		}
		var c control
		if err := json.Unmarshal(data, &c); err != nil {
			continue // not for us: the page is newer or older than the daemon
		}
		switch c.Type {
		case "resize":
			if c.Cols > 0 && c.Rows > 0 {
				prog.Send(tea.WindowSizeMsg{Width: min(c.Cols, maxCols),
					Height: min(c.Rows, maxRows)})
			}
		case "ping":
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			conn.Write(ctx, websocket.MessageText, []byte(`{"type":"pong"}`))
			cancel()
		}
	}
}

// pingSocket checks that the tab is still there until ctx ends, and ends the
// session (fail) when it is not, so a tab whose network vanished without a word
// does not stay attached.
func pingSocket(ctx context.Context, conn *websocket.Conn, fail context.CancelFunc) {
	tick := time.NewTicker(pingEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			fail()
			return
		}
	}
}

// socketWriter is the program's output: each write is one binary message. A
// write that fails ends the session (fail); writes after the session ended are
// dropped, so the program never blocks on a tab that has gone.
type socketWriter struct {
	ctx  context.Context // the session
	conn *websocket.Conn
	fail context.CancelFunc
}

func (w *socketWriter) Write(p []byte) (int, error) {
	if w.ctx.Err() != nil {
		return len(p), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	if err := w.conn.Write(ctx, websocket.MessageBinary, p); err != nil {
		w.fail()
	}
	return len(p), nil
}
