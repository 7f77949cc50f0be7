package web

// Browser tests: headless Chromium driven over the DevTools protocol, on a real
// web server, with the OpenSSH client in tmux as the SSH session beside the tabs.
// They skip when Chromium is not installed (STRATD_CHROMIUM names another
// browser). A screenshot of the page is written to $STRATD_TEST_ARTIFACTS, or
// to the test's temp folder.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/log/v2"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
	"github.com/stratd/stratd/tui"
	gossh "golang.org/x/crypto/ssh"
)

// The browser all browser tests share; each test opens its tabs in browser
// contexts of its own, so their cookies are apart.
var shared struct {
	once    sync.Once
	ctx     context.Context // the browser's first tab; tabs derive from it
	err     error           // why there is no browser
	skip    string          // why the tests skip
	cleanup func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cleanup != nil {
		shared.cleanup()
	}
	os.Exit(code)
}

// chromiumPath finds the browser, or returns "".
func chromiumPath() string {
	if p := os.Getenv("STRATD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome",
		"google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser returns the shared browser, starting it on first use, or skips the
// test when there is none.
func browser(t *testing.T) context.Context {
	t.Helper()
	shared.once.Do(startBrowser)
	if shared.skip != "" {
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.ctx
}

func startBrowser() {
	path := chromiumPath()
	if path == "" {
		shared.skip = "chromium is not installed (apt-get install chromium, or set " +
			"STRATD_CHROMIUM)"
		return
	}
	profile, err := os.MkdirTemp("", "stratd-chromium-")
	if err != nil {
		shared.err = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1100, 700),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	shared.cleanup = func() {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(profile)
	}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		shared.err = fmt.Errorf("start %s: %w", path, err)
		return
	}
	shared.ctx = ctx
}

// tab is one browser tab on the test's server.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string // the server's address, http://127.0.0.1:PORT
}

// newTab opens a tab in a browser context of its own: a browser with no cookies.
func (e *testEnv) newTab() *tab {
	e.t.Helper()
	ctx, cancel := chromedp.NewContext(browser(e.t), chromedp.WithNewBrowserContext())
	e.t.Cleanup(cancel)
	return openTab(e.t, ctx, e.http.URL)
}

// sibling opens another tab in the same browser context: it shares the cookies.
func (tb *tab) sibling() *tab {
	tb.t.Helper()
	ctx, cancel := chromedp.NewContext(tb.ctx)
	tb.t.Cleanup(cancel)
	return openTab(tb.t, ctx, tb.base)
}

// openTab opens the tab of a new chromedp context. The first action on a context
// binds the tab's life to the context it runs with, so it runs without the
// timeout every later action has.
func openTab(t *testing.T, ctx context.Context, base string) *tab {
	t.Helper()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, base: base}
}

// do runs actions in the tab, failing the test on an error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression in the tab.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screen is what the tab's terminal shows, as text.
func (tb *tab) screen() string {
	return eval[string](tb, `window.stratd ? window.stratd.screen() : ""`)
}

// waitFor waits until a JavaScript condition holds in the tab, polling it in the
// page.
func (tb *tab) waitFor(cond, what string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(25*time.Millisecond)))
	if err != nil {
		tb.t.Fatalf("waiting for %s: %v; the terminal shows:\n%s", what, err, tb.screen())
	}
}

// waitScreen waits until the terminal shows every one of want.
func (tb *tab) waitScreen(want ...string) {
	tb.t.Helper()
	js, _ := json.Marshal(want)
	tb.waitFor(fmt.Sprintf(`window.stratd && %s.every(w => window.stratd.screen().includes(w))`,
		js), fmt.Sprintf("the terminal to show %q", want))
}

// typeText types into the terminal: text as the browser's text input, and
// each "\r" as the Enter key.
func (tb *tab) typeText(text string) {
	tb.t.Helper()
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Evaluate[chromedp.Void](`window.stratd.term.focus()`)}
	for i, part := range strings.Split(text, "\r") {
		if i > 0 {
			steps = append(steps, pressEnter)
		}
		if part != "" {
			steps = append(steps, insertText(part))
		}
	}
	tb.do(steps...)
}

// insertText types text as the browser's text input does, one input event.
func insertText(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// pressEnter presses and releases Enter. (chromedp.KeyEvent would add a char
// event that the terminal takes for a second key.)
var pressEnter = pressKey("Enter", "Enter", 13, 0)

// pressKey presses and releases one key with modifiers (chromedp.ModifierCtrl…).
func pressKey(key, code string, keyCode, modifiers int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{
			input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp,
		} {
			_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: key, Code: code, Modifiers: modifiers,
				WindowsVirtualKeyCode: keyCode, NativeVirtualKeyCode: keyCode,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// paste pastes text into the terminal the way the browser does.
func (tb *tab) paste(text string) {
	tb.t.Helper()
	js, _ := json.Marshal(text)
	tb.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const data = new DataTransfer();
		data.setData("text/plain", %s);
		document.querySelector(".xterm-helper-textarea").dispatchEvent(
			new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
	})()`, js)))
}

// screenshot writes a picture of the tab to the artefact folder.
func (tb *tab) screenshot(name string) string {
	tb.t.Helper()
	dir := os.Getenv("STRATD_TEST_ARTIFACTS")
	if dir == "" {
		dir = tb.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
	return path
}

// sshTerminal is an OpenSSH client in a tmux terminal.
type sshTerminal struct {
	t      *testing.T
	socket string
}

// sshInto serves SSH on the env's registry and attaches an OpenSSH client, as
// person name (an operator), to kernel in a tmux terminal.
func (e *testEnv) sshInto(name, kernelName string) *sshTerminal {
	e.t.Helper()
	for _, tool := range []string{"ssh", "tmux"} {
		if _, err := exec.LookPath(tool); err != nil {
			e.t.Skipf("%s is not installed (apt-get install openssh-client tmux)", tool)
		}
	}
	dir := e.t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, name)
	if err != nil {
		e.t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_"+name)
	write(e.t, keyFile, string(pem.EncodeToMemory(block)))
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		e.t.Fatal(err)
	}
	_, hostKey, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, _ := gossh.NewSignerFromKey(hostKey)

	srv, err := sshd.New(sshd.Config{
		Addr:       "127.0.0.1:0",
		HostSigner: hostSigner,
		Auth: oneKey{key: string(signer.PublicKey().Marshal()),
			id: keys.Identity{Name: name, Role: keys.Operator}},
		Registry: e.reg,
		UI: func(u *sshd.UISession) tea.Model {
			return tui.New(u.Client, tui.Options{Context: u.Session.Context()})
		},
		Logger:  log.NewWithOptions(e.logs, log.Options{Prefix: "sshd"}),
		Version: "test",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	addr, err := srv.Listen()
	if err != nil {
		e.t.Fatal(err)
	}
	go srv.Serve()
	e.t.Cleanup(func() { srv.Close() })

	_, port, _ := net.SplitHostPort(addr.String())
	st := &sshTerminal{t: e.t, socket: filepath.Join(dir, "tmux.sock")}
	command := fmt.Sprintf("env HOME=%s TERM=xterm-256color ssh -F /dev/null -i %s "+
		"-o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "+
		"-o LogLevel=ERROR -p %s -t 127.0.0.1 attach %s", dir, keyFile, port, kernelName)
	st.tmux("new-session", "-d", "-s", "ssh", "-x", "100", "-y", "30", command)
	e.t.Cleanup(func() { exec.Command("tmux", "-S", st.socket, "kill-server").Run() })
	return st
}

// oneKey lets one key in.
type oneKey struct {
	key string
	id  keys.Identity
}

func (o oneKey) Lookup(key gossh.PublicKey) (keys.Identity, bool) {
	return o.id, string(key.Marshal()) == o.key
}

func (st *sshTerminal) tmux(args ...string) string {
	st.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", st.socket}, args...)...).
		CombinedOutput()
	if err != nil {
		st.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// waitScreen waits until the terminal shows every one of want. tmux has no
// event to wait on, so this reads the screen again until a deadline.
func (st *sshTerminal) waitScreen(want ...string) {
	st.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		screen := st.tmux("capture-pane", "-p", "-t", "ssh")
		missing := ""
		for _, w := range want {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			st.t.Fatalf("the SSH terminal never showed %q; it shows:\n%s", missing, screen)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestBrowserTabsAndSSHShareOneKernel(t *testing.T) {
	e := newTestEnv(t)
	browser(t)
	ssh := e.sshInto("sam", "shared")

	// The one-time link logs the owner in; the token leaves the address bar and
	// the session cookie is out of the page's reach.
	a := e.newTab()
	a.do(chromedp.Navigate(e.http.URL + "/?token=" + e.srv.sessions.oneTimeToken()))
	a.waitScreen(">>>", "shared")
	if loc := eval[string](a, `location.search`); loc != "?kernel=shared" {
		t.Errorf("address after login: %q, want the kernel and no token", loc)
	}
	if c := eval[string](a, `document.cookie`); c != "" {
		t.Errorf("the page can read cookies: %q", c)
	}

	// A second tab of the same browser is logged in by the cookie.
	a2 := a.sibling()
	a2.do(chromedp.Navigate(e.http.URL + "/"))
	a2.waitScreen(">>>", "shared")
	ssh.waitScreen(">>>", "shared")

	// What one tab types, every tab and the SSH client see, with the typist's name.
	a.typeText("x = 6 * 7\r")
	a.typeText(`print("answer", x)` + "\r")
	a2.waitScreen("owen >>> x = 6 * 7", "answer 42")
	ssh.waitScreen("owen >>> x = 6 * 7", "answer 42")

	// A tab opened late sees the transcript replayed, and what it types reaches
	// the others.
	b := e.newTab()
	b.do(chromedp.Navigate(e.http.URL + "/?token=" + e.tokens["olivia"]))
	b.waitScreen("owen >>> x = 6 * 7", "answer 42")
	b.typeText(`print("olivia says", x + 1)` + "\r")
	a.waitScreen(`olivia >>> print("olivia says", x + 1)`, "olivia says 43")
	ssh.waitScreen("olivia says 43")

	// Paste arrives as one piece of input.
	a.paste("pasted = 5")
	a.typeText("\r")
	waitEntry(t, e.k, kernel.KindInput, "owen", "pasted = 5")

	// The mouse wheel scrolls the transcript back.
	a.typeText(`for i in range(60): print("row", i)` + "\r\r")
	a.waitScreen("row 59")
	a.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseWheel, 300, 300,
		func(p *input.DispatchMouseEventParams) {
			// The protocol wants both deltas, and a zero is left out of the
			// message: a hundredth of a pixel sideways stands in for none.
			p.DeltaX, p.DeltaY = 0.01, -600
		}))
	a.waitFor(`!window.stratd.screen().includes("row 59")`, "the wheel to scroll back")

	a.screenshot("browser-tab.png")

	// Closing a tab detaches it; the kernel keeps running.
	tabs := countVia(e.k, "web")
	chromedp.Cancel(a2.ctx)
	waitEntry(t, e.k, kernel.KindSystem, kernel.OriginSystem, "owen detached")
	if n := countVia(e.k, "web"); n != tabs-1 {
		t.Errorf("web attachments after closing a tab: %d, want %d", n, tabs-1)
	}
	if st := e.k.Status(); st.State != kernel.StateRunning {
		t.Fatalf("kernel %s after a tab closed", st.State)
	}
}

func countVia(k *kernel.Kernel, via string) int {
	n := 0
	for _, a := range k.Who() {
		if a.Via == via {
			n++
		}
	}
	return n
}

func TestBrowserWithoutTokenIsRefused(t *testing.T) {
	e := newTestEnv(t)
	tb := e.newTab()
	for _, path := range []string{"/", "/?token=stratd_made-up"} {
		ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(e.http.URL+path))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 401 {
			t.Errorf("%s: status %d, want 401", path, resp.Status)
		}
		body := eval[string](tb, `document.body.innerText`)
		if !strings.Contains(body, "stratd keys token") {
			t.Errorf("%s: the page does not say how to get a token:\n%s", path, body)
		}
		if eval[bool](tb, `!!document.querySelector(".xterm")`) {
			t.Errorf("%s: a terminal without a token", path)
		}
	}
}

func TestBrowserViewerCannotType(t *testing.T) {
	e := newTestEnv(t)
	tb := e.newTab()
	tb.do(chromedp.Navigate(e.http.URL + "/?token=" + e.tokens["vera"]))
	tb.waitScreen("read-only", "shared")
	if who := eval[string](tb, `document.getElementById("who").textContent`); who !=
		"vera (viewer)" {
		t.Errorf("header says %q, want vera (viewer)", who)
	}

	tb.typeText("hacked = 1\r")
	olivia := kernel.Person{Name: "olivia", Role: keys.Operator}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if _, err := e.k.Exec(ctx, olivia, "after = 1"); err != nil {
		t.Fatal(err)
	}
	for _, en := range e.k.History(1000) {
		if en.Origin == "vera" && en.Kind == kernel.KindInput {
			t.Fatalf("a viewer's input reached the kernel: %+v", en)
		}
	}

	// The page fits the terminal to the window and the REPL follows: its
	// read-only badge keeps to the right edge.
	badgeAtEdge := `(() => {
		const t = window.stratd.term;
		const top = window.stratd.screen().split("\n")[0].trimEnd();
		return top.endsWith("read-only") && top.length === t.cols - 1 ? t.cols : 0;
	})()`
	tb.waitFor(badgeAtEdge, "the read-only badge at the right edge")
	before := eval[int](tb, `window.stratd.term.cols`)
	tb.do(chromedp.EmulateViewport(640, 480))
	tb.waitFor(badgeAtEdge+" && window.stratd.term.cols < "+strconv.Itoa(before),
		"the REPL to follow the narrower window")
}

func TestBrowserReconnectsPicksKernelsAndDetaches(t *testing.T) {
	e := newTestEnv(t)
	e.startKernel("other")
	tb := e.newTab()
	tb.do(chromedp.Navigate(e.http.URL + "/?token=" + e.tokens["olivia"] + "&kernel=shared"))
	tb.waitScreen(">>>", "shared")
	tb.waitFor(`document.body.dataset.connects === "1"`, "the first connection")

	// Every kernel is on offer in the header.
	names := eval[[]string](tb,
		`[...document.querySelectorAll("#kernel option")].map(o => o.value)`)
	if strings.Join(names, ",") != "other,shared" {
		t.Errorf("kernel menu %v, want other and shared", names)
	}

	e.srv.closeSockets()
	tb.waitFor(`document.body.dataset.connects === "2" &&
		document.body.dataset.state === "connected"`, "the page to reconnect")
	tb.waitScreen(">>>", "shared")
	if loc := eval[string](tb, `location.search`); loc != "?kernel=shared" {
		t.Errorf("address after reconnecting: %q", loc)
	}

	// Picking another kernel in the menu attaches the tab to it.
	tb.do(chromedp.Evaluate[chromedp.Void](`(() => {
		const menu = document.getElementById("kernel");
		menu.value = "other";
		menu.dispatchEvent(new Event("change"));
	})()`))
	tb.waitFor(`location.search === "?kernel=other" &&
		document.body.dataset.state === "connected"`, "the tab to move to the other kernel")
	tb.waitScreen("other")
	waitEntry(t, e.k, kernel.KindSystem, kernel.OriginSystem, "olivia detached")

	// Ctrl+D detaches for good: the page waits for Enter before attaching again.
	connects := eval[string](tb, `document.body.dataset.connects`)
	tb.do(chromedp.Evaluate[chromedp.Void](`window.stratd.term.focus()`),
		pressKey("d", "KeyD", 68, int64(chromedp.ModifierCtrl)))
	tb.waitFor(`document.body.dataset.state === "detached" &&
		!document.getElementById("notice").hidden`, "the page to say it detached")
	if got := eval[string](tb, `document.body.dataset.connects`); got != connects {
		t.Fatalf("the page attached again by itself after a detach")
	}
	tb.do(pressEnter)
	tb.waitFor(`document.body.dataset.state === "connected"`, "Enter to attach again")
}
