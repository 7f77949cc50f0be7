package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// newPublicKey makes a fresh ed25519 public key and its authorized_keys text
// ("ssh-ed25519 AAAA…", no comment).
func newPublicKey(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key, authorizedKeyText(key)
}

func TestParseAuthorizedKeysRoles(t *testing.T) {
	_, a := newPublicKey(t)
	_, b := newPublicKey(t)
	_, c := newPublicKey(t)
	_, d := newPublicKey(t)
	data := strings.Join([]string{
		"# a comment line",
		"",
		"role=viewer " + a + " vera@desk",
		b + " otto@desk",
		`from="10.0.0.0/8",role=admin ` + c + " ada@desk",
		"   ",
		`role="operator" ` + d,
	}, "\n")

	keys, err := ParseAuthorizedKeys([]byte(data))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	want := []struct {
		name string
		role Role
		line int
		opts int
	}{
		{"vera@desk", Viewer, 3, 0},
		{"otto@desk", Operator, 4, 0},
		{"ada@desk", Admin, 5, 1},
		{"", Operator, 7, 0},
	}
	if len(keys) != len(want) {
		t.Fatalf("got %d keys, want %d", len(keys), len(want))
	}
	for i, w := range want {
		k := keys[i]
		if w.name != "" && k.Name != w.name {
			t.Errorf("key %d: name %q, want %q", i, k.Name, w.name)
		}
		if k.Role != w.role || k.Line != w.line || len(k.Options) != w.opts {
			t.Errorf("key %d: role %v line %d options %v; want %v line %d, %d options",
				i, k.Role, k.Line, k.Options, w.role, w.line, w.opts)
		}
		if k.Fingerprint != ssh.FingerprintSHA256(k.Key) {
			t.Errorf("key %d: fingerprint %q", i, k.Fingerprint)
		}
	}
	if keys[2].Options[0] != `from="10.0.0.0/8"` {
		t.Errorf("other option not kept: %q", keys[2].Options)
	}
}

func TestParseAuthorizedKeysBadLines(t *testing.T) {
	_, a := newPublicKey(t)
	_, b := newPublicKey(t)
	data := "role=admin " + a + " ada\n\nrole=boss " + b + " bob\nnot a key at all\n"

	keys, err := ParseAuthorizedKeys([]byte(data))
	if err == nil {
		t.Fatal("no error for an unknown role and a malformed line")
	}
	msg := err.Error()
	for _, want := range []string{"authorized_keys:3:", `"boss"`, "authorized_keys:4:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if len(keys) != 1 || keys[0].Name != "ada" || keys[0].Role != Admin {
		t.Errorf("valid line not returned alongside the error: %+v", keys)
	}
}

func TestNameWithoutComment(t *testing.T) {
	key, line := newPublicKey(t)
	keys, err := ParseAuthorizedKeys([]byte(line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint(key)
	want := "key-" + strings.TrimPrefix(fp, "SHA256:")[:8]
	if keys[0].Name != want || keys[0].Comment != "" {
		t.Errorf("name %q comment %q, want name %q", keys[0].Name, keys[0].Comment, want)
	}
	if id := keys[0].Identity(); id.Name != want || id.Fingerprint != fp {
		t.Errorf("identity %+v", id)
	}
}

func TestNameDropsControlCharacters(t *testing.T) {
	_, line := newPublicKey(t)
	keys, err := ParseAuthorizedKeys([]byte(line + " eve\x1b[2J@desk\n"))
	if err != nil {
		t.Fatal(err)
	}
	if keys[0].Name != "eve[2J@desk" {
		t.Errorf("name %q still holds control characters", keys[0].Name)
	}
}

func TestAuthorizedKeyStringRoundTrip(t *testing.T) {
	_, line := newPublicKey(t)
	in := `role=viewer,no-pty ` + line + " vera at desk"
	keys, err := ParseAuthorizedKeys([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := keys[0].String(); got != in {
		t.Errorf("String() = %q, want %q", got, in)
	}
}

func TestRoleOrder(t *testing.T) {
	if !Admin.Allows(Operator) || !Operator.Allows(Viewer) || Viewer.Allows(Operator) {
		t.Error("roles are not ordered viewer < operator < admin")
	}
	for _, r := range []Role{Viewer, Operator, Admin} {
		got, err := ParseRole(r.String())
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %v, %v", r.String(), got, err)
		}
	}
}
