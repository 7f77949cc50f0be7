package keys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode"

	"charm.land/log/v2"
	"golang.org/x/crypto/ssh"
)

// The files Ensure keeps in the stratd home.
const (
	// HostKeyFile is the daemon's SSH host key (OpenSSH private key, 0600).
	HostKeyFile = "ssh_host_ed25519_key"
	// ClientKeyFile is the key the local CLI logs in with (0600); its public
	// half is next to it with a ".pub" suffix.
	ClientKeyFile = "client_ed25519_key"
	// AuthorizedKeysFile lists the keys that may log in, with their roles.
	AuthorizedKeysFile = "authorized_keys"
)

// Store is the key material of one stratd home: the host key, the local
// client key and the authorized keys. Its methods are safe for concurrent use.
//
// Writes to authorized_keys are atomic (a temporary file renamed into place),
// so a daemon reading the file never sees half of it. Two `stratd keys`
// commands changing the file at the very same moment may lose one change.
type Store struct {
	home   string
	host   ssh.Signer
	client ssh.Signer
	log    *log.Logger

	mu      sync.Mutex               // protects the fields below
	stat    os.FileInfo              // authorized_keys as last loaded; nil: load again
	byKey   map[string]AuthorizedKey // first line of each key, by its wire form
	loaded  bool                     // byKey was loaded once; later loads log changes
	problem string                   // last load failure logged, to log it only once
}

// Ensure opens the key material in home, creating what is missing: home
// itself (mode 0700), the host key, the client key pair and authorized_keys.
// Existing files are read and never replaced. A new authorized_keys holds the
// local client key and the user's ~/.ssh/*.pub keys (from $HOME), all as
// admin, and the log lists them.
//
// Ensure refuses a home that group or others may access (it must be 0700),
// and a private key or authorized_keys file they may access (it must be
// 0600): the error says which chmod fixes it. A private key file that cannot
// be parsed is an error that says to remove it. logger may be nil.
func Ensure(home string, logger *log.Logger) (*Store, error) {
	if logger == nil {
		logger = log.New(io.Discard)
	}
	lg := logger.WithPrefix("keys")

	if home == "" {
		return nil, errors.New("keys: no stratd home folder given")
	}
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("keys: resolve home %s: %w", home, err)
	}
	if err := ensureHome(home); err != nil {
		return nil, err
	}

	host, err := ensurePrivateKey(filepath.Join(home, HostKeyFile), "host key",
		"stratd host key", "; connection files of running kernels then go stale", lg)
	if err != nil {
		return nil, err
	}

	owner := userAtHost()
	clientPath := filepath.Join(home, ClientKeyFile)
	client, err := ensurePrivateKey(clientPath, "client key", owner,
		"; daemons on other hosts then need the new key (`stratd keys add`)", lg)
	if err != nil {
		return nil, err
	}
	if err := ensurePublicKeyFile(clientPath+".pub", client, owner, lg); err != nil {
		return nil, err
	}

	s := &Store{home: home, host: host, client: client, log: lg}
	if err := s.ensureAuthorizedKeys(owner); err != nil {
		return nil, err
	}

	// Load now so a bad line is reported at start, not at the first login.
	s.mu.Lock()
	s.refreshLocked(false)
	s.mu.Unlock()
	return s, nil
}

// ensureHome creates the home folder with mode 0700, or refuses an existing one
// that group or others may access: they could read the keys in it or replace
// authorized_keys.
func ensureHome(home string) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("keys: create home %s: %w", home, err)
	}
	info, err := os.Stat(home)
	if err != nil {
		return fmt.Errorf("keys: check home %s: %w", home, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("keys: stratd home %s is not a folder", home)
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("keys: stratd home %s has mode %04o, so others may read its "+
			"keys or replace authorized_keys; fix it with `chmod 700 %s`",
			home, mode, shellQuote(home))
	}
	return nil
}

// shellQuote quotes s for a POSIX shell when it needs it, so a printed command
// works when pasted.
func shellQuote(s string) string {
	safe := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("/._-+=:@%,", r)
	}
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !safe(r) }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// userAtHost names the local user for the client key's comment.
func userAtHost() string {
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	host, _ := os.Hostname()
	switch {
	case name != "" && host != "":
		return name + "@" + host
	case name != "":
		return name
	}
	return "stratd-client"
}

// Home returns the folder the store keeps its files in (an absolute path).
func (s *Store) Home() string { return s.home }

// HostSigner returns the daemon's host key.
func (s *Store) HostSigner() ssh.Signer { return s.host }

// ClientSigner returns the key the local CLI logs in with.
func (s *Store) ClientSigner() ssh.Signer { return s.client }

// HostKeyLine returns the host's public key in authorized_keys form
// ("ssh-ed25519 AAAA…"), without comment or trailing newline. Connection
// files carry it as host_key.
func (s *Store) HostKeyLine() string { return authorizedKeyText(s.host.PublicKey()) }

// AuthorizedKeysPath returns the path of the authorized_keys file.
func (s *Store) AuthorizedKeysPath() string {
	return filepath.Join(s.home, AuthorizedKeysFile)
}

// ensureAuthorizedKeys creates authorized_keys when it is missing, holding
// the local client key and the user's ~/.ssh keys as admin.
func (s *Store) ensureAuthorizedKeys(owner string) error {
	path := s.AuthorizedKeysPath()
	_, err := os.Stat(path)
	if err == nil {
		return checkSecretMode(path)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keys: check %s: %w", path, err)
	}

	local := newAuthorizedKey(s.client.PublicKey(), owner, Admin)
	seeds := []seed{{key: local, from: filepath.Join(s.home, ClientKeyFile+".pub")}}
	seeds = append(seeds, s.userSSHKeys()...)
	seeds = dedupeSeeds(seeds)

	var b strings.Builder
	b.WriteString(authorizedKeysHeader)
	for _, sd := range seeds {
		b.WriteString(sd.key.String() + "\n")
	}

	err = writeNew(path, []byte(b.String()), 0o600)
	if errors.Is(err, errExists) {
		return nil // another stratd made it a moment ago: use theirs
	}
	if err != nil {
		return fmt.Errorf("keys: create %s: %w", path, err)
	}

	s.log.Info("created authorized_keys; these keys may log in as admin",
		"path", path, "keys", len(seeds))
	for _, sd := range seeds {
		s.log.Info("authorized key", "name", sd.key.Name, "role", sd.key.Role,
			"fingerprint", sd.key.Fingerprint, "from", sd.from)
	}
	return nil
}

// authorizedKeysHeader opens a new authorized_keys file.
const authorizedKeysHeader = `# stratd authorized_keys: one public key per line, in OpenSSH format.
# An option in front of a key sets its role: role=viewer, role=operator
# (the default when there is none) or role=admin. The comment after the key
# is the name others see. Manage it with: stratd keys list|add|remove
`

// seed is a key for a new authorized_keys and the file it came from.
type seed struct {
	key  AuthorizedKey
	from string
}

// userSSHKeys reads the public keys in $HOME/.ssh/*.pub as admin keys,
// skipping (with a log line) files that cannot be read or parsed and
// certificates.
func (s *Store) userSSHKeys() []seed {
	home := os.Getenv("HOME")
	if home == "" {
		s.log.Warn("HOME is not set; no ~/.ssh keys are authorized")
		return nil
	}
	files, err := filepath.Glob(filepath.Join(home, ".ssh", "*.pub"))
	if err != nil || len(files) == 0 {
		s.log.Info("no public keys found in ~/.ssh", "folder", filepath.Join(home, ".ssh"))
		return nil
	}
	sort.Strings(files)

	var seeds []seed
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			s.log.Warn("skipping unreadable public key", "path", file, "err", err)
			continue
		}
		found, bad := parseAuthorizedLines(data)
		for _, err := range bad {
			s.log.Warn("skipping malformed public key", "path", file, "err", err)
		}
		for _, k := range found {
			if _, ok := k.Key.(*ssh.Certificate); ok {
				s.log.Warn("skipping certificate", "path", file)
				continue
			}
			key := newAuthorizedKey(k.Key, k.Comment, Admin)
			seeds = append(seeds, seed{key: key, from: file})
		}
	}
	return seeds
}

// dedupeSeeds keeps the first seed of each key.
func dedupeSeeds(seeds []seed) []seed {
	seen := make(map[string]bool)
	var out []seed
	for _, sd := range seeds {
		wire := string(sd.key.Key.Marshal())
		if !seen[wire] {
			seen[wire] = true
			out = append(out, sd)
		}
	}
	return out
}

// newAuthorizedKey builds an entry for key with a comment and a role.
func newAuthorizedKey(key ssh.PublicKey, comment string, role Role) AuthorizedKey {
	fp := Fingerprint(key)
	return AuthorizedKey{
		Key:         key,
		Name:        nameFor(comment, fp),
		Comment:     comment,
		Role:        role,
		Fingerprint: fp,
	}
}

// Lookup returns the identity of an authorized key, and false when the key
// is not authorized. It reads authorized_keys again whenever the file has
// changed, so `stratd keys add|remove` takes effect without a restart.
//
// A bad line in the file is logged and skipped: the other keys keep working
// rather than everyone being locked out. When the file cannot be read at
// all, no key is authorized.
func (s *Store) Lookup(key ssh.PublicKey) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.refreshLocked(true)
	k, ok := s.byKey[string(key.Marshal())]
	if !ok {
		return Identity{}, false
	}
	return k.Identity(), true
}

// Refresh reads authorized_keys again if it changed since it was last read,
// and logs every key that was added, removed or given another role by a
// change made outside this Store (another process, an editor). A daemon calls
// it now and then so such changes are logged, and acted on, promptly.
func (s *Store) Refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked(true)
}

// refreshLocked loads authorized_keys again if it changed since the last
// load; with logChanges, each key added, removed or changed is logged. s.mu
// must be held.
func (s *Store) refreshLocked(logChanges bool) {
	path := s.AuthorizedKeysPath()
	info, err := os.Stat(path)
	if err == nil && s.stat != nil && sameVersion(info, s.stat) {
		return
	}

	data, info, err := readWithInfo(path)
	if err != nil {
		s.stat, s.byKey = nil, nil
		if msg := err.Error(); msg != s.problem {
			s.problem = msg
			s.log.Error("cannot read authorized_keys; no key may log in", "err", err)
		}
		return
	}
	s.problem = ""

	found, bad := parseAuthorizedLines(data)
	for _, err := range bad {
		s.log.Warn("skipping bad line in authorized_keys", "path", path, "err", err)
	}
	byKey := make(map[string]AuthorizedKey, len(found))
	for _, k := range found {
		if len(k.Options) > 0 {
			s.log.Warn("authorized_keys options other than role are not enforced",
				"line", k.Line, "name", k.Name,
				"options", strings.Join(k.Options, ","))
		}
		wire := string(k.Key.Marshal())
		if _, dup := byKey[wire]; !dup {
			byKey[wire] = k
		}
	}

	switch {
	case !s.loaded:
		counts := CountRoles(found)
		s.log.Info("loaded authorized_keys", "path", path, "admin", counts[Admin],
			"operator", counts[Operator], "viewer", counts[Viewer])
	case logChanges:
		s.logChanges(s.byKey, byKey)
	}
	s.stat, s.byKey, s.loaded = info, byKey, true
}

// logChanges logs, one line each, the keys added, removed or given another role
// between two loads of authorized_keys.
func (s *Store) logChanges(before, after map[string]AuthorizedKey) {
	const why = "authorized_keys changed outside this daemon"
	for wire, k := range after {
		old, ok := before[wire]
		switch {
		case !ok:
			s.log.Info("key added", "name", k.Name, "role", k.Role,
				"fingerprint", k.Fingerprint, "by", why)
		case old.Role != k.Role || old.Name != k.Name:
			s.log.Info("key changed", "name", k.Name, "role", k.Role, "was", old.Role,
				"was_name", old.Name, "fingerprint", k.Fingerprint, "by", why)
		}
	}
	for wire, k := range before {
		if _, ok := after[wire]; !ok {
			s.log.Info("key removed", "name", k.Name, "role", k.Role,
				"fingerprint", k.Fingerprint, "by", why)
		}
	}
}

// CountRoles counts keys by role.
func CountRoles(keys []AuthorizedKey) map[Role]int {
	counts := make(map[Role]int, 3)
	for _, k := range keys {
		counts[k.Role]++
	}
	return counts
}

// readWithInfo reads a file and returns the file information of the very
// version it read.
func readWithInfo(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	return data, info, nil
}

// sameVersion reports whether two stats describe the same version of a file.
// A rename into place changes the file identity; an edit in place changes the
// modification time or the size.
func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// List returns the keys in authorized_keys in file order. When some lines are
// bad, it returns the valid keys together with an error naming the bad lines.
func (s *Store) List() ([]AuthorizedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	_, found, bad, err := s.readLocked()
	if err != nil {
		return nil, err
	}
	return found, errors.Join(bad...)
}

// NewKey is a key to authorize with Store.Add.
type NewKey struct {
	// Line is the public key in authorized_keys form, such as the contents of a
	// .pub file; options in front (role=…) are allowed.
	Line string
	// Role is the key's role. 0 takes the line's role option, else the role the
	// key already has, else Operator.
	Role Role
	// Name, when set, replaces the line's comment: it is the name others see.
	Name string
}

// Add authorizes a key and returns its entry, and whether the key was already
// there. Adding a key that is already authorized does not add a second line:
// the existing line gets the new role, and the new name when there is one;
// its other options stay. Add refuses to change a file with bad lines, and
// names them, so they get fixed first.
//
// Add and Remove do not log: the caller says who made the change.
func (s *Store) Add(nk NewKey) (AuthorizedKey, bool, error) {
	added, roleGiven, err := parseNewKey(nk)
	if err != nil {
		return AuthorizedKey{}, false, fmt.Errorf("add key: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	lines, found, bad, err := s.readLocked()
	if err != nil {
		return AuthorizedKey{}, false, err
	}
	if len(bad) > 0 {
		return AuthorizedKey{}, false, fmt.Errorf("fix %s before adding keys: %w",
			s.AuthorizedKeysPath(), errors.Join(bad...))
	}

	result, updated := updateKey(lines, found, added, roleGiven)
	if !updated {
		lines = append(lines, added.String())
		added.Line = len(lines)
		result = added
	}
	if err := s.writeLocked(lines); err != nil {
		return AuthorizedKey{}, false, err
	}
	return result, updated, nil
}

// parseNewKey checks a key to add and builds its entry. roleGiven says the
// role came from nk.Role or the line's role option rather than the default.
func parseNewKey(nk NewKey) (key AuthorizedKey, roleGiven bool, err error) {
	line := strings.TrimSpace(nk.Line)
	if line == "" {
		return AuthorizedKey{}, false, errors.New("no public key given")
	}
	if strings.ContainsAny(line, "\r\n") {
		return AuthorizedKey{}, false, errors.New("the text has several lines; " +
			"add one key at a time")
	}
	key, err = parseKeyLine(line)
	if err != nil {
		return AuthorizedKey{}, false, err
	}
	if _, ok := key.Key.(*ssh.Certificate); ok {
		return AuthorizedKey{}, false, errors.New("certificates are not supported; " +
			"add the plain public key")
	}

	if nk.Name != "" {
		name := strings.TrimSpace(nk.Name)
		if name == "" || strings.IndexFunc(name, unicode.IsControl) >= 0 {
			return AuthorizedKey{}, false, fmt.Errorf("name %q is empty or has control "+
				"characters", nk.Name)
		}
		key.Comment, key.Name = name, name
	}

	switch {
	case nk.Role == 0:
		_, _, options, _, _ := ssh.ParseAuthorizedKey([]byte(line))
		for _, opt := range options {
			if name, _, _ := strings.Cut(opt, "="); strings.EqualFold(name, "role") {
				roleGiven = true
			}
		}
	case nk.Role < Viewer || nk.Role > Admin:
		return AuthorizedKey{}, false, fmt.Errorf("invalid %v", nk.Role)
	default:
		key.Role, roleGiven = nk.Role, true
	}
	return key, roleGiven, nil
}

// updateKey rewrites, in lines, every entry of found holding added's key to
// added's role (when roleGiven) and comment (when it has one). It returns the
// first updated entry, and false when the key was not there.
func updateKey(lines []string, found []AuthorizedKey, added AuthorizedKey,
	roleGiven bool) (AuthorizedKey, bool) {
	var first AuthorizedKey
	updated := false
	for _, k := range found {
		if string(k.Key.Marshal()) != string(added.Key.Marshal()) {
			continue
		}
		if roleGiven {
			k.Role = added.Role
		}
		if added.Comment != "" {
			k.Comment, k.Name = added.Comment, added.Name
		}
		lines[k.Line-1] = k.String()
		if !updated {
			first, updated = k, true
		}
	}
	return first, updated
}

// Remove takes every key matching selector out of authorized_keys and returns
// them. selector is a fingerprint ("SHA256:…", the prefix may be left out) or
// a name (the comment); a name shared by several keys removes them all. When
// nothing matches, the error lists the keys there are.
//
// Remove works even when the file has bad lines (they are kept as they are
// and logged), so a key can always be revoked.
func (s *Store) Remove(selector string) ([]AuthorizedKey, error) {
	selector = strings.TrimSpace(selector)
	if selector == "" {
		return nil, errors.New("remove key: give a fingerprint or a name")
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	lines, found, bad, err := s.readLocked()
	if err != nil {
		return nil, err
	}
	for _, err := range bad {
		s.log.Warn("authorized_keys has a bad line; kept as it is", "err", err)
	}

	var removed []AuthorizedKey
	drop := make(map[int]bool)
	for _, k := range found {
		if k.matches(selector) {
			removed = append(removed, k)
			drop[k.Line-1] = true
		}
	}
	if len(removed) == 0 {
		return nil, noMatch(selector, found)
	}

	var kept []string
	for i, l := range lines {
		if !drop[i] {
			kept = append(kept, l)
		}
	}
	if err := s.writeLocked(kept); err != nil {
		return nil, err
	}
	return removed, nil
}

// matches reports whether selector names this key by fingerprint (with or
// without the "SHA256:" prefix), name or comment.
func (k AuthorizedKey) matches(selector string) bool {
	return selector == k.Fingerprint || "SHA256:"+selector == k.Fingerprint ||
		selector == k.Name || selector == k.Comment
}

// noMatch is the error for a selector that matches no key.
func noMatch(selector string, found []AuthorizedKey) error {
	if len(found) == 0 {
		return fmt.Errorf("no authorized key matches %q: authorized_keys holds no keys",
			selector)
	}
	names := make([]string, len(found))
	for i, k := range found {
		names[i] = fmt.Sprintf("%s (%s, %s)", k.Name, k.Fingerprint, k.Role)
	}
	return fmt.Errorf("no authorized key matches %q; authorized keys: %s",
		selector, strings.Join(names, ", "))
}

// readLocked reads authorized_keys as lines (without their newlines) and
// parses them. A missing file reads as empty. s.mu must be held.
func (s *Store) readLocked() (lines []string, found []AuthorizedKey, bad []error, err error) {
	data, err := os.ReadFile(s.AuthorizedKeysPath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("read authorized_keys: %w", err)
	}
	if len(data) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	found, bad = parseAuthorizedLines(data)
	return lines, found, bad, nil
}

// writeLocked replaces authorized_keys with lines, atomically and with mode
// 0600, and loads it at once without logging the change: the caller reports
// it, with who made it. s.mu must be held.
func (s *Store) writeLocked(lines []string) error {
	data := strings.Join(lines, "\n")
	if len(lines) > 0 {
		data += "\n"
	}
	if err := writeAtomic(s.AuthorizedKeysPath(), []byte(data), 0o600); err != nil {
		return fmt.Errorf("write authorized_keys: %w", err)
	}
	s.stat = nil
	s.refreshLocked(false)
	return nil
}
