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
	problem string                   // last load failure logged, to log it only once
}

// Ensure opens the key material in home, creating what is missing: home
// itself (mode 0700), the host key, the client key pair and authorized_keys.
// Existing files are read and never replaced. A new authorized_keys holds the
// local client key and the user's ~/.ssh/*.pub keys (from $HOME), all as
// admin, and the log lists them.
//
// A private key or authorized_keys file that group or others may read is
// narrowed to mode 0600 with a warning rather than refused: stratd can repair
// that itself. A private key file that cannot be parsed is an error that says
// to remove it. logger may be nil.
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
	if err := ensureHome(home, lg); err != nil {
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
	s.refreshLocked()
	s.mu.Unlock()
	return s, nil
}

// ensureHome creates the home folder, or warns when an existing one lets
// others replace files in it.
func ensureHome(home string, lg *log.Logger) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("keys: create home %s: %w", home, err)
	}
	info, err := os.Stat(home)
	if err != nil {
		return fmt.Errorf("keys: check home %s: %w", home, err)
	}
	if info.Mode().Perm()&0o022 != 0 {
		lg.Warn("home folder is writable by others, who could replace authorized_keys; "+
			"run chmod 700 on it", "path", home)
	}
	return nil
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
		return fixMode(path, s.log)
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

	s.refreshLocked()
	k, ok := s.byKey[string(key.Marshal())]
	if !ok {
		return Identity{}, false
	}
	return k.Identity(), true
}

// refreshLocked loads authorized_keys again if it changed since the last
// load. s.mu must be held.
func (s *Store) refreshLocked() {
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
	s.stat, s.byKey = info, byKey
	s.log.Info("loaded authorized_keys", "path", path, "keys", len(byKey))
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

// Add authorizes the public key in line (authorized_keys form, such as the
// contents of a .pub file; options in front are allowed) with role. A role of
// 0 takes the line's own role option, or Operator.
//
// Adding a key that is already authorized does not add a second line: the
// existing line gets the new role, and the new comment when line has one;
// its other options stay. Add refuses to change a file with bad lines, and
// names them, so they get fixed first.
func (s *Store) Add(line string, role Role) (AuthorizedKey, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return AuthorizedKey{}, errors.New("add key: no public key given")
	}
	if strings.ContainsAny(line, "\r\n") {
		return AuthorizedKey{}, errors.New("add key: the text has several lines; " +
			"add one key at a time")
	}
	added, err := parseKeyLine(line)
	if err != nil {
		return AuthorizedKey{}, fmt.Errorf("add key: %w", err)
	}
	switch {
	case role == 0:
		role = added.Role
	case role < Viewer || role > Admin:
		return AuthorizedKey{}, fmt.Errorf("add key: invalid %v", role)
	}
	added.Role = role

	s.mu.Lock()
	defer s.mu.Unlock()

	lines, found, bad, err := s.readLocked()
	if err != nil {
		return AuthorizedKey{}, err
	}
	if len(bad) > 0 {
		return AuthorizedKey{}, fmt.Errorf("fix %s before adding keys: %w",
			s.AuthorizedKeysPath(), errors.Join(bad...))
	}

	result, updated := updateKey(lines, found, added)
	if !updated {
		lines = append(lines, added.String())
		added.Line = len(lines)
		result = added
	}
	if err := s.writeLocked(lines); err != nil {
		return AuthorizedKey{}, err
	}

	verb := "authorized key"
	if updated {
		verb = "updated authorized key"
	}
	s.log.Info(verb, "name", result.Name, "role", result.Role,
		"fingerprint", result.Fingerprint)
	return result, nil
}

// updateKey rewrites, in lines, every entry of found holding added's key to
// added's role (and comment, when it has one). It returns the first updated
// entry, and false when the key was not there.
func updateKey(lines []string, found []AuthorizedKey, added AuthorizedKey) (AuthorizedKey, bool) {
	var first AuthorizedKey
	updated := false
	for _, k := range found {
		if string(k.Key.Marshal()) != string(added.Key.Marshal()) {
			continue
		}
		k.Role = added.Role
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
	for _, k := range removed {
		s.log.Info("removed authorized key", "name", k.Name, "role", k.Role,
			"fingerprint", k.Fingerprint)
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
// 0600, and makes the next Lookup load it. s.mu must be held.
func (s *Store) writeLocked(lines []string) error {
	data := strings.Join(lines, "\n")
	if len(lines) > 0 {
		data += "\n"
	}
	if err := writeAtomic(s.AuthorizedKeysPath(), []byte(data), 0o600); err != nil {
		return fmt.Errorf("write authorized_keys: %w", err)
	}
	s.stat = nil
	return nil
}
