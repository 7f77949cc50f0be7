package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"charm.land/log/v2"
	"golang.org/x/crypto/ssh"
)

// fakeHome points $HOME at a new temporary folder (so no test ever reads the
// real ~/.ssh) and returns it.
func fakeHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

// newHome returns a path for a stratd home that does not exist yet, so Ensure
// creates it with mode 0700 (t.TempDir's own folders are 0755, which Ensure
// refuses).
func newHome(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "stratd")
}

// addUserKey writes a public key file into home/.ssh and returns the key.
func addUserKey(t *testing.T, home, file, comment string) ssh.PublicKey {
	t.Helper()
	key, line := newPublicKey(t)
	dir := filepath.Join(home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(line+" "+comment+"\n"),
		0o644); err != nil {
		t.Fatal(err)
	}
	return key
}

// ensure runs Ensure on dir with a logger writing into the returned buffer.
func ensure(t *testing.T, dir string) (*Store, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	s, err := Ensure(dir, log.New(&buf))
	if err != nil {
		t.Fatalf("ensure: %v", err)
	}
	return s, &buf
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", filepath.Base(path), got, want)
	}
}

func TestEnsureCreatesEverything(t *testing.T) {
	userHome := fakeHome(t)
	alice := addUserKey(t, userHome, "id_ed25519.pub", "alice@laptop")
	if err := os.WriteFile(filepath.Join(userHome, ".ssh", "broken.pub"),
		[]byte("ssh-ed25519 not-base64\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "stratd")

	s, logs := ensure(t, dir)

	checkMode(t, dir, 0o700)
	for _, name := range []string{HostKeyFile, ClientKeyFile, AuthorizedKeysFile} {
		checkMode(t, filepath.Join(dir, name), 0o600)
	}
	if s.Home() != dir {
		t.Errorf("home %q, want %q", s.Home(), dir)
	}

	pub, err := os.ReadFile(filepath.Join(dir, ClientKeyFile+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil || !bytes.Equal(parsed.Marshal(), s.ClientSigner().PublicKey().Marshal()) {
		t.Errorf("client .pub does not hold the client key: %v", err)
	}

	id, ok := s.Lookup(alice)
	if !ok || id.Name != "alice@laptop" || id.Role != Admin {
		t.Errorf("~/.ssh key: identity %+v, %v; want alice@laptop as admin", id, ok)
	}
	if id, ok := s.Lookup(s.ClientSigner().PublicKey()); !ok || id.Role != Admin {
		t.Errorf("client key: identity %+v, %v; want admin", id, ok)
	}
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Errorf("list: %d keys, %v; want the client key and alice's", len(list), err)
	}

	out := logs.String()
	for _, want := range []string{"created authorized_keys", "alice@laptop",
		"skipping malformed public key", "broken.pub"} {
		if !strings.Contains(out, want) {
			t.Errorf("log does not mention %q:\n%s", want, out)
		}
	}
}

func TestEnsureSecondStartReadsTheSameKeys(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	first, _ := ensure(t, dir)

	// A hand edit must survive the next start.
	path := filepath.Join(dir, AuthorizedKeysFile)
	edited := []byte("# emptied by hand\n")
	if err := os.WriteFile(path, edited, 0o600); err != nil {
		t.Fatal(err)
	}

	second, _ := ensure(t, dir)
	if first.HostKeyLine() != second.HostKeyLine() {
		t.Error("host key changed between starts")
	}
	a, b := first.ClientSigner().PublicKey(), second.ClientSigner().PublicKey()
	if !bytes.Equal(a.Marshal(), b.Marshal()) {
		t.Error("client key changed between starts")
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, edited) {
		t.Errorf("authorized_keys was rewritten: %q", got)
	}
}

func TestEnsureWithoutUserKeys(t *testing.T) {
	fakeHome(t)
	s, _ := ensure(t, newHome(t))
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Role != Admin {
		t.Fatalf("list %+v, %v; want only the client key as admin", list, err)
	}
}

func TestEnsureRefusesWideModes(t *testing.T) {
	fakeHome(t)
	for _, tc := range []struct {
		file string // "" for the home folder itself
		mode os.FileMode
		fix  string
	}{
		{"", 0o755, "chmod 700 "},
		{"", 0o710, "chmod 700 "},
		{HostKeyFile, 0o644, "chmod 600 "},
		{ClientKeyFile, 0o640, "chmod 600 "},
		{AuthorizedKeysFile, 0o666, "chmod 600 "},
	} {
		dir := newHome(t)
		ensure(t, dir)
		path := filepath.Join(dir, tc.file)
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}

		_, err := Ensure(dir, nil)
		if err == nil {
			t.Errorf("%s with mode %04o was accepted", path, tc.mode)
			continue
		}
		if want := tc.fix + path; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
		checkMode(t, path, tc.mode) // refused, not silently changed
	}
}

func TestEnsureQuotesPathsInFixes(t *testing.T) {
	fakeHome(t)
	dir := filepath.Join(t.TempDir(), "my home")
	ensure(t, dir)
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	_, err := Ensure(dir, nil)
	if want := "chmod 700 '" + dir + "'"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v does not say %q", err, want)
	}
}

func TestEnsureRefusesMalformedKey(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, HostKeyFile)
	if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := Ensure(dir, nil)
	if err == nil {
		t.Fatal("a malformed host key was accepted")
	}
	for _, want := range []string{path, "remove it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if got, _ := os.ReadFile(path); string(got) != "garbage\n" {
		t.Error("the malformed key file was overwritten")
	}
}

func TestEnsureRewritesStalePublicKey(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	s, _ := ensure(t, dir)
	pubPath := filepath.Join(dir, ClientKeyFile+".pub")
	_, other := newPublicKey(t)
	if err := os.WriteFile(pubPath, []byte(other+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ensure(t, dir)
	data, _ := os.ReadFile(pubPath)
	want := authorizedKeyText(s.ClientSigner().PublicKey())
	if !strings.HasPrefix(string(data), want) {
		t.Errorf("stale .pub not rewritten: %q", data)
	}
}

func TestHostKeyLine(t *testing.T) {
	fakeHome(t)
	s, _ := ensure(t, newHome(t))
	line := s.HostKeyLine()
	if strings.Contains(line, "\n") || strings.Count(line, " ") != 1 {
		t.Errorf("host key line %q is not \"TYPE BASE64\"", line)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key.Marshal(), s.HostSigner().PublicKey().Marshal()) {
		t.Error("host key line does not hold the host key")
	}
	if key.Type() != ssh.KeyAlgoED25519 {
		t.Errorf("host key type %s, want ed25519", key.Type())
	}
}

func TestLookupPicksUpFileChanges(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	s, logs := ensure(t, dir)
	key, line := newPublicKey(t)
	if _, ok := s.Lookup(key); ok {
		t.Fatal("a new key is authorized")
	}

	// An edit in place, as an editor or `cat >>` would make it, with a bad
	// line that must not lock the good one out.
	path := filepath.Join(dir, AuthorizedKeysFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	edit := "role=chief nonsense\nrole=viewer " + line + " vic\n"
	if _, err := f.WriteString(edit); err != nil {
		t.Fatal(err)
	}
	f.Close()

	id, ok := s.Lookup(key)
	if !ok || id.Name != "vic" || id.Role != Viewer {
		t.Fatalf("after the edit: %+v, %v; want vic as viewer", id, ok)
	}
	if _, ok := s.Lookup(s.ClientSigner().PublicKey()); !ok {
		t.Error("the client key was lost after the edit")
	}
	if !strings.Contains(logs.String(), "skipping bad line") {
		t.Errorf("bad line not logged:\n%s", logs)
	}

	// Another process's `keys remove` replaces the file.
	other, _ := Ensure(dir, nil)
	if _, err := other.Remove("vic"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(key); ok {
		t.Error("a removed key is still authorized")
	}
}

func TestLookupWithoutFileAuthorizesNobody(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	s, _ := ensure(t, dir)
	if err := os.Remove(filepath.Join(dir, AuthorizedKeysFile)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(s.ClientSigner().PublicKey()); ok {
		t.Error("a key is authorized without authorized_keys")
	}
}

func TestAddRemoveRoundTrip(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	s, _ := ensure(t, dir)
	key, line := newPublicKey(t)

	added, existed, err := s.Add(NewKey{Line: line + " bob@box\n", Role: Viewer})
	if err != nil {
		t.Fatalf("add: %v", err)
	}
	if added.Name != "bob@box" || added.Role != Viewer || added.Line == 0 || existed {
		t.Errorf("added %+v", added)
	}
	if id, ok := s.Lookup(key); !ok || id.Role != Viewer || id.Name != "bob@box" {
		t.Errorf("lookup after add: %+v, %v", id, ok)
	}
	checkMode(t, filepath.Join(dir, AuthorizedKeysFile), 0o600)

	// The same key again changes its role rather than adding a line.
	updated, existed, err := s.Add(NewKey{Line: line, Role: Admin})
	if err != nil || !existed {
		t.Fatalf("add again: %v (existed %v)", err, existed)
	}
	if updated.Role != Admin || updated.Name != "bob@box" || updated.Line != added.Line {
		t.Errorf("updated %+v, want bob@box as admin on line %d", updated, added.Line)
	}
	list, _ := s.List()
	if len(list) != 2 {
		t.Errorf("list holds %d keys after adding a key twice, want 2", len(list))
	}
	if id, _ := s.Lookup(key); id.Role != Admin {
		t.Errorf("role after update: %v", id.Role)
	}

	removed, err := s.Remove("bob@box")
	if err != nil || len(removed) != 1 || removed[0].Fingerprint != Fingerprint(key) {
		t.Fatalf("remove: %+v, %v", removed, err)
	}
	if _, ok := s.Lookup(key); ok {
		t.Error("removed key still authorized")
	}
	data, _ := os.ReadFile(filepath.Join(dir, AuthorizedKeysFile))
	if !strings.HasPrefix(string(data), "# stratd authorized_keys") {
		t.Errorf("remove lost the file's comments:\n%s", data)
	}
}

func TestAddDefaultsAndRefusals(t *testing.T) {
	fakeHome(t)
	s, _ := ensure(t, newHome(t))
	_, a := newPublicKey(t)
	_, b := newPublicKey(t)

	k, _, err := s.Add(NewKey{Line: a})
	if err != nil || k.Role != Operator {
		t.Errorf("add without role: %+v, %v; want operator", k, err)
	}
	k, _, err = s.Add(NewKey{Line: "role=viewer " + b + " vera"})
	if err != nil || k.Role != Viewer {
		t.Errorf("add with role option: %+v, %v; want viewer", k, err)
	}

	// A new name keeps the role the key has; a new role keeps its name.
	k, _, err = s.Add(NewKey{Line: b, Name: "Vera V."})
	if err != nil || k.Role != Viewer || k.Name != "Vera V." {
		t.Errorf("rename: %+v, %v; want Vera V. as viewer", k, err)
	}
	k, _, err = s.Add(NewKey{Line: b + " ignored", Role: Admin, Name: "vera"})
	if err != nil || k.Role != Admin || k.Name != "vera" {
		t.Errorf("--name over the comment: %+v, %v; want vera as admin", k, err)
	}

	for _, bad := range []NewKey{{Line: ""}, {Line: "not a key"},
		{Line: a + "\n" + b}, {Line: a, Name: " "}, {Line: a, Name: "x\x1b[2J"},
		{Line: a, Role: Role(9)}} {
		if _, _, err := s.Add(bad); err == nil {
			t.Errorf("add %+v: no error", bad)
		}
	}
}

func TestRemoveByFingerprintAndNoMatch(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	s, _ := ensure(t, dir)
	key, line := newPublicKey(t)
	if _, _, err := s.Add(NewKey{Line: line + " carol", Role: Operator}); err != nil {
		t.Fatal(err)
	}

	_, err := s.Remove("nobody")
	if err == nil || !strings.Contains(err.Error(), "carol (SHA256:") {
		t.Errorf("no-match error does not list the keys: %v", err)
	}

	fp := Fingerprint(key)
	removed, err := s.Remove(strings.TrimPrefix(fp, "SHA256:"))
	if err != nil || len(removed) != 1 || removed[0].Name != "carol" {
		t.Errorf("remove by bare fingerprint: %+v, %v", removed, err)
	}
}

func TestBadLinesBlockAddButNotRemove(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	s, _ := ensure(t, dir)
	_, line := newPublicKey(t)
	if _, _, err := s.Add(NewKey{Line: line + " dan", Role: Operator}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, AuthorizedKeysFile)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("role=king garbage\n")
	f.Close()

	list, err := s.List()
	if err == nil || len(list) != 2 {
		t.Errorf("list: %d keys, %v; want 2 keys and an error", len(list), err)
	}
	_, other := newPublicKey(t)
	_, _, err = s.Add(NewKey{Line: other, Role: Viewer})
	if err == nil || !strings.Contains(err.Error(), "fix") {
		t.Errorf("add into a file with a bad line: %v", err)
	}
	if _, err := s.Remove("dan"); err != nil {
		t.Errorf("remove with a bad line elsewhere: %v", err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "role=king garbage") {
		t.Error("remove dropped the bad line instead of keeping it")
	}
}

func TestConcurrentLookupAndAdd(t *testing.T) {
	fakeHome(t)
	s, _ := ensure(t, newHome(t))
	client := s.ClientSigner().PublicKey()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, ok := s.Lookup(client); !ok {
					t.Error("client key not authorized during writes")
					return
				}
			}
		})
	}
	for range 10 {
		_, line := newPublicKey(t)
		if _, _, err := s.Add(NewKey{Line: line, Role: Viewer}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
}

func TestConcurrentFirstStartsAgree(t *testing.T) {
	fakeHome(t)
	dir := filepath.Join(t.TempDir(), "stratd")

	stores := make([]*Store, 8)
	errs := make([]error, len(stores))
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Ensure(dir, nil) })
	}
	wg.Wait()

	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("start %d: %v", i, errs[i])
		}
		if s.HostKeyLine() != stores[0].HostKeyLine() {
			t.Errorf("start %d uses another host key", i)
		}
		if _, ok := s.Lookup(s.ClientSigner().PublicKey()); !ok {
			t.Errorf("start %d: its client key is not in authorized_keys", i)
		}
	}
}

func TestRefreshLogsChangesMadeElsewhere(t *testing.T) {
	fakeHome(t)
	dir := newHome(t)
	s, logs := ensure(t, dir)
	_, line := newPublicKey(t)

	// A change through this store is the caller's to report.
	if _, _, err := s.Add(NewKey{Line: line, Role: Viewer, Name: "vic"}); err != nil {
		t.Fatal(err)
	}
	s.Refresh()
	if strings.Contains(logs.String(), "key added") {
		t.Errorf("the store logged its own change:\n%s", logs)
	}

	// Another process promotes vic and adds wendy.
	other, _ := Ensure(dir, nil)
	if _, _, err := other.Add(NewKey{Line: line, Role: Admin}); err != nil {
		t.Fatal(err)
	}
	_, wendy := newPublicKey(t)
	if _, _, err := other.Add(NewKey{Line: wendy, Name: "wendy"}); err != nil {
		t.Fatal(err)
	}
	s.Refresh()
	out := logs.String()
	for _, want := range []string{"key changed name=vic role=admin was=viewer",
		"key added name=wendy role=operator", "outside this daemon"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}

	if _, err := other.Remove("wendy"); err != nil {
		t.Fatal(err)
	}
	s.Refresh()
	if !strings.Contains(logs.String(), "key removed name=wendy") {
		t.Errorf("removal not logged:\n%s", logs)
	}
}
