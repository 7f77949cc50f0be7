// Package web is stratd's browser front: a terminal page served over HTTP, where
// every browser tab is one session on a kernel of the daemon, running the same
// terminal UI as an SSH session.
//
// The page is xterm.js (from npm, vendored into static/vendor and embedded in the
// binary; see ui/README.md to rebuild it). Each tab opens a WebSocket; the server
// runs one Bubble Tea program per socket, whose input is the bytes the terminal
// sends and whose output goes back over the socket. When the socket closes, the
// program ends and the person detaches; the kernel keeps running.
//
// Routes:
//
//	GET  /?token=T      log in with a token: sets the session cookie, redirects to /
//	GET  /              the terminal page (401 page with how to log in without a session)
//	GET  /ws?kernel=K   the terminal's WebSocket (cols and rows give its size)
//	GET  /api/kernels   who is logged in and the daemon's kernels, as JSON
//	POST /logout        ends the session
//	GET  /static/…      the page's scripts and styles
//
// Nobody gets a terminal without a token: the one-time token of LoginURL, or a
// named token with a role from the token file (Tokens, `stratd keys token`).
// Roles work as over SSH: a viewer's UI is read-only and the kernel refuses their
// input anyway.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"github.com/coder/websocket"
	"github.com/stratd/stratd/kernel"
)

//go:embed static
var staticFiles embed.FS

// readHeaderTimeout bounds how long a client may take to send its request's
// headers, so that idle connections cannot pile up.
const readHeaderTimeout = 10 * time.Second

// UIFunc builds the terminal UI (a Bubble Tea model) of one browser tab attached
// to one kernel. The server runs it until the tab's socket closes or the model
// quits. Wired with the tui package it is:
//
//	func(s *web.Session) tea.Model {
//		return tui.New(s.Client, tui.Options{Context: s.Context,
//			Width: s.Width, Height: s.Height})
//	}
type UIFunc func(s *Session) tea.Model

// Session is what a terminal UI gets for one browser tab.
type Session struct {
	// Person is who is logged in; a viewer's UI must be read-only.
	Person kernel.Person
	// Client is the kernel the tab is attached to (via "web"). The server
	// detaches it when the tab's socket closes; the UI may detach earlier.
	Client kernel.Client
	// Context ends when the tab's socket closes or the server shuts down.
	Context context.Context
	// Width and Height are the terminal's size when the tab connected; changes
	// arrive as tea.WindowSizeMsg.
	Width, Height int
}

// Config configures a Server.
type Config struct {
	// Addr is the TCP address to listen on; "" means 127.0.0.1:0 (a free port on
	// the loopback interface).
	Addr string
	// Registry holds the kernels people attach to.
	Registry *kernel.Registry
	// Tokens is the file of named tokens; nil lets only the one-time token in.
	Tokens *Tokens
	// Owner is who the one-time token of LoginURL logs in as: the person who
	// started the daemon, normally an admin.
	Owner kernel.Person
	// UI builds the terminal UI of a tab.
	UI UIFunc
	// Logger receives one line per login, refusal and terminal session; nil logs
	// to the charm log default logger.
	Logger *log.Logger
}

// Server serves the browser terminal for one daemon. Its methods are safe to call
// from any goroutine.
type Server struct {
	cfg      Config
	log      *log.Logger
	sessions *sessions
	http     *http.Server
	handler  http.Handler

	// ctx ends when the server shuts down; every terminal follows it.
	ctx    context.Context
	cancel context.CancelFunc

	// terminals counts running terminal sessions; Shutdown waits for them. Add is
	// only called with mu held and closed false, so it never races with Wait.
	terminals sync.WaitGroup

	mu     sync.Mutex // protects the fields below
	ln     net.Listener
	closed bool
	conns  map[*websocket.Conn]struct{} // open terminal sockets
}

// New builds a server; Listen and Serve start it, or use Handler.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Registry == nil:
		return nil, errors.New("web: no kernel registry")
	case cfg.UI == nil:
		return nil, errors.New("web: no terminal UI")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	logger := cfg.Logger
	if logger == nil {
		logger = log.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:      cfg,
		log:      logger.WithPrefix("web"),
		sessions: newSessions(cfg.Tokens, cfg.Owner),
		ctx:      ctx,
		cancel:   cancel,
		conns:    make(map[*websocket.Conn]struct{}),
	}
	s.handler = s.routes()
	// The HTTP library's own complaints (bad requests, TLS probes) are warnings.
	errLog := s.log.StandardLog(log.StandardLogOptions{ForceLevel: log.WarnLevel})
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          errLog,
	}
	return s, nil
}

// Handler is the server's HTTP handler, for tests and for serving it elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /ws", s.serveTerminal)
	mux.HandleFunc("GET /api/kernels", s.kernels)
	mux.HandleFunc("POST /logout", s.logout)
	return securityHeaders(mux)
}

// staticHandler serves the page's files. Embedded files have no modification
// time, so each gets an ETag from its contents: browsers check it and download
// the terminal's half megabyte of script again only when it has changed.
func staticHandler() http.Handler {
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree always has this folder
	}
	etags := map[string]string{}
	fs.WalkDir(static, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, err := fs.ReadFile(static, path); err == nil {
				sum := sha256.Sum256(data)
				etags["/"+path] = `"` + hex.EncodeToString(sum[:8]) + `"`
			}
		}
		return nil
	})
	files := http.StripPrefix("/static", http.FileServerFS(static))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // no folder listings
			return
		}
		if tag, ok := etags[strings.TrimPrefix(r.URL.Path, "/static")]; ok {
			w.Header().Set("ETag", tag)
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets the page load only its own files and talk only to
// its own server. Styles may be inline because xterm.js adds <style> elements for
// its theme and cell size; scripts may not.
const contentSecurityPolicy = "default-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// page serves the terminal page to someone logged in, logs in with ?token=, or
// answers 401 with how to get a token.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("token") {
		s.login(w, r)
		return
	}
	if _, ok := s.personOf(r); !ok {
		s.unauthorized(w, r, "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.ServeFileFS(w, r, staticFiles, "static/index.html")
}

// kernelInfo is one kernel in /api/kernels.
type kernelInfo struct {
	Name        string       `json:"name"`
	Strategy    string       `json:"strategy"`
	Description string       `json:"description,omitempty"`
	State       kernel.State `json:"state"`
	Equity      float64      `json:"equity"`
	PnL         float64      `json:"pnl"`
	Attached    int          `json:"attached"`
}

// kernelsReply is the answer of /api/kernels.
type kernelsReply struct {
	Person  personInfo   `json:"person"`
	Kernels []kernelInfo `json:"kernels"`
}

type personInfo struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// kernels lists the daemon's kernels for the page's kernel menu.
func (s *Server) kernels(w http.ResponseWriter, r *http.Request) {
	p, ok := s.personOf(r)
	if !ok {
		s.unauthorized(w, r, "")
		return
	}
	reply := kernelsReply{Person: personInfo{Name: p.Name, Role: p.Role.String()},
		Kernels: []kernelInfo{}}
	for _, k := range s.cfg.Registry.List() {
		st := k.Status()
		reply.Kernels = append(reply.Kernels, kernelInfo{
			Name:        st.Name,
			Strategy:    st.Strategy,
			Description: st.Description,
			State:       st.State,
			Equity:      st.Account.Equity,
			PnL:         st.Account.PnL,
			Attached:    len(st.Attached),
		})
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, reply)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Listen opens the listener on Config.Addr and returns its address; with port 0
// it is the port picked. Calling it again returns the same address.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.closed {
		return nil, errors.New("web: server closed")
	}
	if s.ln != nil {
		return s.ln.Addr(), nil
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.log.Info("listening", "addr", ln.Addr().String())
	if !isLoopback(ln.Addr()) {
		s.log.Warn("listening beyond this machine without TLS: tokens and sessions " +
			"travel in clear text; put a TLS proxy in front or listen on 127.0.0.1")
	}
	return ln.Addr(), nil
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Serve answers requests until Shutdown, opening the listener first if Listen
// has not. It returns nil once the server was shut down.
func (s *Server) Serve() error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()

	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("serve http on %s: %w", ln.Addr(), err)
}

// LoginURL is the address that logs the owner in with the one-time token, or ""
// before Listen and once the token has been used.
func (s *Server) LoginURL() string {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	token := s.sessions.oneTimeToken()
	if ln == nil || token == "" {
		return ""
	}
	return "http://" + urlHost(ln.Addr()) + "/?token=" + token
}

// urlHost is the host:port to put in a URL for a listener's address: a wildcard
// address becomes this machine's name.
func urlHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	return net.JoinHostPort(host, port)
}

// Shutdown stops accepting connections, closes every terminal socket (each tab's
// person detaches; the kernels keep running) and waits for the terminal sessions
// to end, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()

	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = s.http.Close()
	}

	done := make(chan struct{})
	go func() {
		s.terminals.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.closeSockets()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			return errors.New("web: some terminal sessions did not end within 5s")
		}
	}
	if err != nil {
		return fmt.Errorf("web: shut down: %w", err)
	}
	return nil
}

// Close shuts the server down without waiting for anything.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return s.Shutdown(ctx)
}

// enter counts a new terminal session on conn, or returns false once the server
// is closing.
func (s *Server) enter(conn *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.terminals.Add(1)
	s.conns[conn] = struct{}{}
	return true
}

// leave undoes enter once the session has ended.
func (s *Server) leave(conn *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	s.terminals.Done()
}

// closeSockets drops every terminal socket at once, as a network failure would.
func (s *Server) closeSockets() {
	s.mu.Lock()
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.CloseNow()
	}
}
