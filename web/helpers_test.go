package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/coder/websocket"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/tui"
)

// waitLimit bounds every wait in these tests; it is a failure deadline, never a
// way to let something happen.
const waitLimit = 10 * time.Second

// testEnv is a web server on a registry with one kernel, "shared", and the tokens
// of operator olivia and viewer vera.
type testEnv struct {
	t      *testing.T
	home   string
	reg    *kernel.Registry
	k      *kernel.Kernel
	srv    *Server
	http   *httptest.Server
	tokens map[string]string // token by person
	logs   *syncBuffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	home := filepath.Join(t.TempDir(), "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, home: home, tokens: map[string]string{}, logs: &syncBuffer{}}
	e.reg = kernel.NewRegistry(kernel.RegistryOptions{Home: home, Version: "test"})
	t.Cleanup(e.reg.Close)
	e.k = e.startKernel("shared")

	tokens := OpenTokens(home)
	for name, role := range map[string]keys.Role{"olivia": keys.Operator,
		"vera": keys.Viewer} {
		secret, _, err := tokens.Create(name, role)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[name] = secret
	}

	logger := log.NewWithOptions(e.logs, log.Options{Level: log.DebugLevel})
	srv, err := New(Config{
		Registry: e.reg,
		Tokens:   tokens,
		Owner:    kernel.Person{Name: "owen", Role: keys.Admin},
		UI:       tuiUI,
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		e.http.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// tuiUI is the UI the daemon wires in: the REPL of package tui.
func tuiUI(s *Session) tea.Model {
	return tui.New(s.Client, tui.Options{Context: s.Context, Width: s.Width,
		Height: s.Height})
}

// startKernel starts a kernel named name whose strategy does nothing.
func (e *testEnv) startKernel(name string) *kernel.Kernel {
	e.t.Helper()
	dir := e.t.TempDir()
	write(e.t, filepath.Join(dir, "s.star"), "def on_bar(ctx, bar):\n    pass\n")
	cfg := "name: " + name + "\nstrategy: s.star\ninstruments: [BTCUSDT]\n" +
		"feed: {kind: synthetic, interval: 1s, seed: 7}\n"
	path := filepath.Join(dir, name+".yml")
	write(e.t, path, cfg)
	k, err := e.reg.Start(path)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// client is an HTTP client with its own cookie jar that does not follow
// redirects, so tests see them.
func (e *testEnv) client() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// get fetches path with c and returns the response, its body read.
func (e *testEnv) get(c *http.Client, path string) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.Get(e.http.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

// login logs c in with token and fails the test if that does not work.
func (e *testEnv) login(c *http.Client, token string) {
	e.t.Helper()
	resp, _ := e.get(c, "/?token="+url.QueryEscape(token))
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login: status %d, want 303", resp.StatusCode)
	}
}

// dial opens a terminal socket as c's session; header may add headers.
func (e *testEnv) dial(c *http.Client, query string, header http.Header) (*websocket.Conn,
	*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/ws?" + query
	return websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: c, HTTPHeader: header})
}

// terminal reads what a socket's program draws.
type terminal struct {
	t    *testing.T
	conn *websocket.Conn
	out  strings.Builder // everything drawn, escape sequences removed
	err  error           // why reading stopped
}

// waitFor reads the socket until what it drew contains want.
func (tm *terminal) waitFor(want string) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for !strings.Contains(tm.out.String(), want) {
		typ, data, err := tm.conn.Read(ctx)
		if err != nil {
			tm.t.Fatalf("waiting for %q: %v; the terminal showed:\n%s", want, err,
				tm.out.String())
		}
		if typ == websocket.MessageBinary {
			tm.out.WriteString(ansi.Strip(string(data)))
		}
	}
}

// waitClosed reads until the socket closes and returns the close error.
func (tm *terminal) waitClosed() websocket.CloseError {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		_, _, err := tm.conn.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if ctx.Err() != nil {
			tm.t.Fatalf("the socket did not close: %v", err)
		}
		if !errors.As(err, &ce) {
			tm.t.Fatalf("the socket failed without a close frame: %v", err)
		}
		return ce
	}
}

// send types text into the terminal.
func (tm *terminal) send(text string) {
	tm.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := tm.conn.Write(ctx, websocket.MessageBinary, []byte(text)); err != nil {
		tm.t.Fatal(err)
	}
}

// waitEntry waits until the kernel's transcript has an entry of kind by origin
// with text.
func waitEntry(t *testing.T, k *kernel.Kernel, kind kernel.Kind, origin, text string) {
	t.Helper()
	sub := k.Subscribe(0)
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		u, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("no %s entry %q by %s: %v", kind, text, origin, err)
		}
		for _, en := range u.Entries {
			if en.Kind == kind && en.Origin == origin && en.Text == text {
				return
			}
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// openTerminal logs a fresh browser in with person's token and opens a terminal
// socket with query; the socket is closed when the test ends.
func (e *testEnv) openTerminal(t *testing.T, person, query string) *terminal {
	t.Helper()
	c := e.client()
	e.login(c, e.tokens[person])
	conn, _, err := e.dial(c, query, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return &terminal{t: t, conn: conn}
}
