package main

// The browser terminal's wiring, end to end: `keys token`, and daemons started
// with --web printing a login link that works. The page itself is tested in
// package web, in a real browser.

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	tokenPattern = regexp.MustCompile(`stratd_[A-Za-z0-9_-]{43}`)
	webLine      = regexp.MustCompile(`web: +(http://127\.0\.0\.1:\d+)/\?token=(\S+)`)
)

// webLogin waits for a daemon's login link and returns the server's address and
// the one-time token.
func webLogin(t *testing.T, d *proc) (base, token string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := webLine.FindStringSubmatch(d.stdout.String()); m != nil {
			return m[1], m[2]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no login link printed\nstdout: %s\nstderr: %s", d.stdout, d.stderr)
		}
		time.Sleep(20 * time.Millisecond) // the hint follows the line start waited for
	}
}

// browserClient is an HTTP client with cookies that shows redirects instead of
// following them.
func browserClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	must(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// whoAmI logs c in with token (unless it is "") and returns the person the
// kernel list names, or the status code when it is not 200.
func whoAmI(t *testing.T, c *http.Client, base, token string) (string, int) {
	t.Helper()
	if token != "" {
		resp, err := c.Get(base + "/?token=" + token)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			return "", resp.StatusCode
		}
	}
	resp, err := c.Get(base + "/api/kernels")
	must(t, err)
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode
	}
	var reply struct {
		Person struct{ Name, Role string }
	}
	must(t, json.NewDecoder(resp.Body).Decode(&reply))
	return reply.Person.Name + " " + reply.Person.Role, resp.StatusCode
}

func TestWebTokensAndLogin(t *testing.T) {
	e := newEnv(t)
	out, errs, code := e.stratd("", "keys", "token", "--name", "alice", "--role", "viewer")
	alice := tokenPattern.FindString(out)
	if code != 0 || alice == "" {
		t.Fatalf("keys token: code %d\n%s%s", code, out, errs)
	}
	info, err := os.Stat(filepath.Join(e.home, "web_tokens"))
	must(t, err)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("web_tokens mode %04o, want 0600", info.Mode().Perm())
	}
	if out, _, _ := e.stratd("", "keys", "token", "--list"); !regexp.MustCompile(
		`alice +viewer`).MatchString(out) {
		t.Errorf("token list:\n%s", out)
	}

	d := e.start("serve", e.config("webbed", ""), "--listen", "127.0.0.1:0",
		"--web", "127.0.0.1:0")
	base, oneTime := webLogin(t, d)

	// The printed link logs the daemon's owner in, once.
	if who, code := whoAmI(t, browserClient(t), base, oneTime); !strings.HasSuffix(who,
		" admin") {
		t.Errorf("the login link: %q (status %d), want the owner as admin", who, code)
	}
	if _, code := whoAmI(t, browserClient(t), base, oneTime); code != http.StatusUnauthorized {
		t.Errorf("the login link used again: status %d, want 401", code)
	}

	// Named tokens work, including one made while the daemon runs; a revoked one
	// ends its sessions.
	aliceBrowser := browserClient(t)
	if who, code := whoAmI(t, aliceBrowser, base, alice); who != "alice viewer" {
		t.Errorf("alice's token: %q (status %d)", who, code)
	}
	out, _, _ = e.stratd("", "keys", "token", "--name", "bob", "--role", "operator")
	if who, code := whoAmI(t, browserClient(t), base, tokenPattern.FindString(out)); who !=
		"bob operator" {
		t.Errorf("a token made while the daemon runs: %q (status %d)", who, code)
	}
	if out, errs, code := e.stratd("", "keys", "token", "--revoke", "alice"); code != 0 {
		t.Fatalf("revoke: code %d\n%s%s", code, out, errs)
	}
	if _, code := whoAmI(t, aliceBrowser, base, ""); code != http.StatusUnauthorized {
		t.Errorf("alice's session after revoking: status %d, want 401", code)
	}
}

func TestKernelOnlyPrintsTheWebLink(t *testing.T) {
	e := newEnv(t)
	d := e.start("run", e.config("solo", ""), "--kernel-only", "--web", "127.0.0.1:0")
	base, token := webLogin(t, d)
	if who, code := whoAmI(t, browserClient(t), base, token); code != http.StatusOK {
		t.Fatalf("login: %q, status %d", who, code)
	}
}

func TestWebUsageErrors(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("usage", "")
	for _, args := range [][]string{
		{"keys", "token"},
		{"keys", "token", "--name", "two words"},
		{"keys", "token", "--name", "x", "--role", "boss"},
		{"keys", "token", "--name", "x", "--list"},
		{"run", cfg, "--web", "127.0.0.1:0"},
	} {
		if out, errs, code := e.stratd("", args...); code != exitUsage {
			t.Errorf("stratd %v: code %d, want %d\n%s%s", args, code, exitUsage, out, errs)
		}
	}
	if _, _, code := e.stratd("", "keys", "token", "--revoke", "nobody"); code != exitError {
		t.Errorf("revoking an unknown token: code %d, want %d", code, exitError)
	}
}
