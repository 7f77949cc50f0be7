package web

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratd/stratd/keys"
)

func TestTokensAreStoredHashed(t *testing.T) {
	home := t.TempDir()
	tokens := OpenTokens(home)
	secret, replaced, err := tokens.Create("alice", keys.Operator)
	if err != nil || replaced {
		t.Fatalf("create: %v, replaced %v", err, replaced)
	}

	path := filepath.Join(home, TokenFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("mode %04o, want 0600", mode)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), strings.TrimPrefix(secret, tokenPrefix)) {
		t.Fatalf("the file holds the token itself:\n%s", data)
	}

	// Another process (a daemon) finds it.
	tok, ok := OpenTokens(home).Lookup(secret)
	if !ok || tok.Name != "alice" || tok.Role != keys.Operator {
		t.Fatalf("lookup: %+v, %v", tok, ok)
	}
	if _, ok := tokens.Lookup(secret + "x"); ok {
		t.Fatal("a wrong token was accepted")
	}
}

func TestTokenReplaceAndRevoke(t *testing.T) {
	home := t.TempDir()
	tokens := OpenTokens(home)
	first, _, err := tokens.Create("bob", keys.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	daemon := OpenTokens(home) // a reader that has the file cached
	if _, ok := daemon.Lookup(first); !ok {
		t.Fatal("new token not found")
	}

	second, replaced, err := tokens.Create("bob", keys.Admin)
	if err != nil || !replaced {
		t.Fatalf("replace: %v, replaced %v", err, replaced)
	}
	if _, ok := daemon.Lookup(first); ok {
		t.Fatal("the replaced token still works")
	}
	if tok, ok := daemon.Lookup(second); !ok || tok.Role != keys.Admin {
		t.Fatalf("the new token: %+v, %v", tok, ok)
	}

	if err := tokens.Revoke("bob"); err != nil {
		t.Fatal(err)
	}
	if _, ok := daemon.Lookup(second); ok {
		t.Fatal("a revoked token still works")
	}
	if err := tokens.Revoke("bob"); err == nil {
		t.Fatal("revoking an unknown token did not fail")
	}
	if list, err := tokens.List(); err != nil || len(list) != 0 {
		t.Fatalf("list after revoking: %v, %v", list, err)
	}
}

func TestTokenNames(t *testing.T) {
	tokens := OpenTokens(t.TempDir())
	for _, bad := range []string{"", "two words", "-dash", "a/b", strings.Repeat("x", 65)} {
		if _, _, err := tokens.Create(bad, keys.Viewer); !errors.Is(err, ErrBadName) {
			t.Errorf("name %q: %v, want ErrBadName", bad, err)
		}
	}
	if _, _, err := tokens.Create("carol@desk-2.example", keys.Viewer); err != nil {
		t.Errorf("a name like a key comment: %v", err)
	}
}

func TestTokenFileOthersCanReadIsRefused(t *testing.T) {
	home := t.TempDir()
	tokens := OpenTokens(home)
	secret, _, err := tokens.Create("dave", keys.Operator)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tokens.Path(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := OpenTokens(home).Lookup(secret); ok {
		t.Fatal("a token from a file others may read let someone in")
	}
	if _, err := tokens.List(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("list: %v, want the chmod that fixes it", err)
	}
}

// The vendored xterm.js must be the one package-lock.json names: whoever bumps
// the version there runs the build script (web/ui/README.md).
func TestVendoredTerminalMatchesLockFile(t *testing.T) {
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	readJSON(t, "ui/package-lock.json", &lock)
	var vendored map[string]string
	readJSON(t, "static/vendor/versions.json", &vendored)
	for name, version := range vendored {
		if locked := lock.Packages["node_modules/"+name].Version; locked != version {
			t.Errorf("%s: vendored %s, package-lock.json has %s; run the build in web/ui",
				name, version, locked)
		}
	}
	if len(vendored) != 2 {
		t.Errorf("versions.json lists %v, want xterm and its fit addon", vendored)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
