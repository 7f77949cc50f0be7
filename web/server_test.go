package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/stratd/stratd/kernel"
)

func TestOneTimeTokenSetsCookieAndRedirects(t *testing.T) {
	e := newTestEnv(t)
	login := e.srv.sessions.oneTimeToken()
	c := e.client()

	resp, _ := e.get(c, "/?token="+login+"&kernel=shared")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", resp.StatusCode)
	}
	if loc := resp.Header.Get("Location"); loc != "/?kernel=shared" {
		t.Errorf("redirected to %q, want the same page without the token", loc)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v, want one", cookies)
	}
	ck := cookies[0]
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Errorf("cookie %v: want HttpOnly, SameSite=Strict, Path=/", ck)
	}

	resp, body := e.get(c, "/?kernel=shared")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "/static/app.js") {
		t.Fatalf("with the cookie: status %d, body:\n%s", resp.StatusCode, body)
	}

	// The token works once: another browser is refused.
	resp, body = e.get(e.client(), "/?token="+login)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "been used") {
		t.Fatalf("second use: status %d, body:\n%s", resp.StatusCode, body)
	}
	if e.srv.LoginURL() != "" {
		t.Errorf("LoginURL after use = %q, want empty", e.srv.LoginURL())
	}
}

func TestNoTokenNoTerminal(t *testing.T) {
	e := newTestEnv(t)
	c := e.client()

	resp, body := e.get(c, "/")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "stratd keys token") {
		t.Fatalf("no token: status %d, want 401 with how to get one; body:\n%s",
			resp.StatusCode, body)
	}
	resp, body = e.get(c, "/?token=stratd_not-a-token")
	if resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("bad token: status %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	resp, body = e.get(c, "/api/kernels")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Fatalf("api without a session: status %d, body %s", resp.StatusCode, body)
	}
	_, resp, err := e.dial(c, "kernel=shared", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("socket without a session: %v, %v", err, resp)
	}

	// A made-up cookie is no session either.
	u, _ := url.Parse(e.http.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName(u.Host), Value: "forged"}})
	if resp, _ := e.get(c, "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged cookie: status %d", resp.StatusCode)
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newTestEnv(t)
	for _, path := range []string{"/", "/static/app.js", "/api/kernels"} {
		resp, _ := e.get(e.client(), path)
		for name, want := range map[string]string{
			"X-Frame-Options":        "DENY",
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp,
			"default-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
}

func TestKernelList(t *testing.T) {
	e := newTestEnv(t)
	e.startKernel("second")
	c := e.client()
	e.login(c, e.tokens["vera"])

	resp, body := e.get(c, "/api/kernels")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var reply kernelsReply
	if err := json.Unmarshal([]byte(body), &reply); err != nil {
		t.Fatal(err)
	}
	if reply.Person != (personInfo{Name: "vera", Role: "viewer"}) {
		t.Errorf("person %+v, want vera the viewer", reply.Person)
	}
	if len(reply.Kernels) != 2 || reply.Kernels[0].Name != "second" ||
		reply.Kernels[1].Name != "shared" {
		t.Errorf("kernels %+v, want second and shared", reply.Kernels)
	}
}

func TestOriginIsChecked(t *testing.T) {
	e := newTestEnv(t)
	c := e.client()
	e.login(c, e.tokens["olivia"])

	evil := http.Header{"Origin": {"http://evil.example"}}
	_, resp, err := e.dial(c, "kernel=shared", evil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another site's origin: %v, %v; want 403", err, resp)
	}

	same := http.Header{"Origin": {e.http.URL}}
	conn, _, err := e.dial(c, "kernel=shared", same)
	if err != nil {
		t.Fatalf("this server's origin: %v", err)
	}
	conn.CloseNow()
}

func TestOperatorTypesIntoTheKernel(t *testing.T) {
	e := newTestEnv(t)
	tm := e.openTerminal(t, "olivia", "kernel=shared&cols=100&rows=30")
	tm.waitFor(">>>")

	tm.send("x = 6 * 7\r")
	waitEntry(t, e.k, kernel.KindInput, "olivia", "x = 6 * 7")
	tm.send("print(x)\r")
	tm.waitFor("42")
}

func TestViewerCannotType(t *testing.T) {
	e := newTestEnv(t)
	tm := e.openTerminal(t, "vera", "kernel=shared")
	tm.waitFor("read-only")
	tm.send("y = 1\r")

	// An operator's input after the viewer's: once it is in the transcript, the
	// viewer's would be too, had it got through.
	otm := e.openTerminal(t, "olivia", "kernel=shared")
	otm.waitFor(">>>")
	otm.send("z = 2\r")
	waitEntry(t, e.k, kernel.KindInput, "olivia", "z = 2")
	for _, en := range e.k.History(1000) {
		if en.Kind == kernel.KindInput && en.Origin == "vera" {
			t.Fatalf("a viewer's input reached the kernel: %+v", en)
		}
	}
}

func TestClosingTheTabDetachesAndTheKernelRuns(t *testing.T) {
	e := newTestEnv(t)
	tm := e.openTerminal(t, "olivia", "kernel=shared")
	conn := tm.conn
	tm.waitFor(">>>")
	if who := e.k.Who(); len(who) != 1 || who[0].Name != "olivia" || who[0].Via != "web" {
		t.Fatalf("attached: %+v, want olivia via web", who)
	}

	conn.Close(websocket.StatusGoingAway, "")
	waitEntry(t, e.k, kernel.KindSystem, kernel.OriginSystem, "olivia detached")
	if st := e.k.Status(); st.State != kernel.StateRunning {
		t.Fatalf("kernel state after the tab closed: %s", st.State)
	}
}

func TestDetachEndsTheSocketNormally(t *testing.T) {
	e := newTestEnv(t)
	tm := e.openTerminal(t, "olivia", "kernel=shared")
	tm.waitFor(">>>")

	tm.send("\x04") // Ctrl+D on an empty line
	ce := tm.waitClosed()
	if ce.Code != websocket.StatusNormalClosure || ce.Reason != "detached" {
		t.Fatalf("closed with %v, want a normal closure, detached", ce)
	}
	if e.k.Status().State != kernel.StateRunning {
		t.Fatal("the kernel stopped when a tab detached")
	}
}

func TestUnknownKernel(t *testing.T) {
	e := newTestEnv(t)
	c := e.client()
	e.login(c, e.tokens["olivia"])
	conn, _, err := e.dial(c, "kernel=nope", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	ce := (&terminal{t: t, conn: conn}).waitClosed()
	if ce.Code != closeNoKernel || !strings.Contains(ce.Reason, "running: shared") {
		t.Fatalf("closed with %v, want %d naming the running kernels", ce, closeNoKernel)
	}
}

func TestRevokedTokenEndsTheSession(t *testing.T) {
	e := newTestEnv(t)
	c := e.client()
	e.login(c, e.tokens["olivia"])
	if resp, _ := e.get(c, "/api/kernels"); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d before revoking", resp.StatusCode)
	}
	if err := OpenTokens(e.home).Revoke("olivia"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.get(c, "/api/kernels"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d after revoking, want 401", resp.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := newTestEnv(t)
	c := e.client()
	e.login(c, e.tokens["olivia"])
	resp, err := c.Post(e.http.URL+"/logout", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, _ := e.get(c, "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d after logging out, want 401", resp.StatusCode)
	}
}

func TestShutdownClosesSockets(t *testing.T) {
	e := newTestEnv(t)
	tm := e.openTerminal(t, "olivia", "kernel=shared")
	tm.waitFor(">>>")

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- e.srv.Shutdown(ctx) }()
	if ce := tm.waitClosed(); ce.Code != websocket.StatusGoingAway {
		t.Fatalf("closed with %v, want going away", ce)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if e.k.Status().State != kernel.StateRunning {
		t.Fatal("the kernel stopped with the web server")
	}
}

func TestTruncateReason(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	got := truncateReason(long)
	if len(got) > 123 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("truncateReason: %d bytes, valid %v: %q", len(got), utf8.ValidString(got), got)
	}
	if got := truncateReason("short"); got != "short" {
		t.Errorf("a short reason changed: %q", got)
	}
}
