package cmd

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"charm.land/log/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"golang.org/x/crypto/ssh"
)

// newKeyLine makes a fresh public key in authorized_keys form.
func newKeyLine(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// TestKeysCommands runs `keys list|add|remove` as an admin against a real store,
// and checks that each change is audited and reported.
func TestKeysCommands(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	store, err := keys.Ensure(filepath.Join(t.TempDir(), "stratd"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var audit bytes.Buffer
	changed := 0
	run := func(stdin string, args ...string) (string, string, int) {
		var stdout, stderr strings.Builder
		code := Run(Env{
			Person:      kernel.Person{Name: "ada", Role: keys.Admin},
			Stdin:       strings.NewReader(stdin),
			Stdout:      &stdout,
			Stderr:      &stderr,
			Keys:        store,
			Log:         log.New(&audit).With("person", "ada"),
			KeysChanged: func() { changed++ },
		}, args)
		return stdout.String(), stderr.String(), code
	}

	line := newKeyLine(t)
	out, errs, code := run("", "keys", "add", "--role", "viewer", "--name", "vera",
		line, "vera@laptop")
	if code != 0 || !strings.Contains(out, "authorized vera as viewer") {
		t.Fatalf("keys add: %d %q %q", code, out, errs)
	}
	out, _, code = run(line+"\n", "keys", "add", "--role", "operator")
	if code != 0 || !strings.Contains(out, "updated vera: operator") {
		t.Fatalf("keys add from stdin, again: %d %q", code, out)
	}
	out, _, code = run("", "keys", "list")
	if code != 0 || !strings.Contains(out, "vera") || !strings.Contains(out, "admin") {
		t.Fatalf("keys list: %d %q", code, out)
	}
	out, _, code = run("", "keys", "remove", "vera")
	if code != 0 || !strings.Contains(out, "removed vera (operator") {
		t.Fatalf("keys remove: %d %q", code, out)
	}
	if changed != 3 {
		t.Errorf("KeysChanged called %d times, want 3", changed)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"keys", "remove", "nobody"}, ExitFailed, `no authorized key matches "nobody"`},
		{[]string{"keys", "add", "--role", "king", line}, ExitUsage, "unknown role"},
		{[]string{"keys", "add", "not-a-key"}, ExitFailed, "not a public key"},
		{[]string{"keys", "remove"}, ExitUsage, "needs NAME|FINGERPRINT"},
	} {
		if _, errs, code := run("", tc.args...); code != tc.code ||
			!strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errs,
				tc.code, tc.want)
		}
	}

	log := audit.String()
	for _, want := range []string{"key added person=ada name=vera key_role=viewer",
		"key updated person=ada name=vera key_role=operator",
		"key removed person=ada name=vera"} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %q:\n%s", want, log)
		}
	}
}

func TestGroupPeople(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	people := groupPeople([]kernel.Attachment{
		{Name: "alice", Role: "operator", Since: t0.Add(time.Minute), Via: "ssh"},
		{Name: "vera", Role: "viewer", Since: t0, Via: "ssh"},
		{Name: "alice", Role: "operator", Since: t0, Via: "local"},
		{Name: "alice", Role: "operator", Since: t0.Add(2 * time.Minute), Via: "ssh"},
	})
	if len(people) != 2 {
		t.Fatalf("%d people, want alice and vera", len(people))
	}
	a := people[0]
	if a.name != "alice" || a.sessions != 3 || strings.Join(a.via, ",") != "ssh,local" ||
		!a.since.Equal(t0) {
		t.Errorf("alice: %+v", *a)
	}
	if v := people[1]; v.name != "vera" || v.sessions != 1 {
		t.Errorf("vera: %+v", *v)
	}
}
