package web

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stratd/stratd/keys"
)

// TokenFile is the file under $STRATD_HOME that holds the named web tokens.
const TokenFile = "web_tokens"

// tokenPrefix starts every token, so that a token pasted somewhere it should not
// be is easy to recognise (and to search for).
const tokenPrefix = "stratd_"

// tokenNamePattern is what a token's name may look like: it is the name others
// see in the transcript, like a key's comment.
var tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ErrBadName is wrapped by the error of Create for a name it cannot take.
var ErrBadName = errors.New("bad token name")

// Token is a named web token: who logs in with it and with which role. The
// token itself is never stored, only its SHA-256 hash.
type Token struct {
	Name    string
	Role    keys.Role
	Created time.Time

	hash [sha256.Size]byte
}

// Tokens is the token file of one stratd home. `stratd keys token` writes it;
// a daemon reads it, again whenever it changes, so a token made or revoked
// while the daemon runs counts at once. Its methods are safe for concurrent
// use; two processes changing the file at the same moment may lose one change.
type Tokens struct {
	path string

	mu     sync.Mutex  // protects the fields below
	stat   os.FileInfo // the file as last read; nil: read it again
	tokens []Token
}

// OpenTokens returns the token file of home. The file need not exist.
func OpenTokens(home string) *Tokens {
	return &Tokens{path: filepath.Join(home, TokenFile)}
}

// Path is where the tokens are kept.
func (t *Tokens) Path() string { return t.path }

// NewSecret returns a fresh random token.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails, per its documentation
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func hashSecret(secret string) [sha256.Size]byte {
	return sha256.Sum256([]byte(secret))
}

// Create makes a new token for name with role and returns it; it is shown only
// this once. A token of the same name is replaced (replaced is true): the old
// one stops working.
func (t *Tokens) Create(name string, role keys.Role) (secret string, replaced bool,
	err error) {
	if !tokenNamePattern.MatchString(name) {
		return "", false, fmt.Errorf("%w %q: use letters, digits and . _ @ -, at most 64",
			ErrBadName, name)
	}
	if role < keys.Viewer || role > keys.Admin {
		return "", false, fmt.Errorf("bad role %v: use viewer, operator or admin", role)
	}
	secret = NewSecret()

	t.mu.Lock()
	defer t.mu.Unlock()
	list, err := t.readLocked()
	if err != nil {
		return "", false, err
	}
	n := len(list)
	list = slices.DeleteFunc(list, func(tok Token) bool { return tok.Name == name })
	replaced = len(list) < n
	list = append(list, Token{Name: name, Role: role, Created: time.Now().UTC().Truncate(
		time.Second), hash: hashSecret(secret)})
	if err := t.writeLocked(list); err != nil {
		return "", false, err
	}
	return secret, replaced, nil
}

// Revoke removes the token called name; sessions opened with it end at their
// next request.
func (t *Tokens) Revoke(name string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	list, err := t.readLocked()
	if err != nil {
		return err
	}
	n := len(list)
	list = slices.DeleteFunc(list, func(tok Token) bool { return tok.Name == name })
	if len(list) == n {
		return fmt.Errorf("no web token named %q; see `stratd keys token --list`", name)
	}
	return t.writeLocked(list)
}

// List returns the tokens sorted by name.
func (t *Tokens) List() ([]Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list, err := t.readLocked()
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list, nil
}

// Lookup finds the token whose secret is given. A file that cannot be read lets
// no one in.
func (t *Tokens) Lookup(secret string) (Token, bool) {
	if !strings.HasPrefix(secret, tokenPrefix) {
		return Token{}, false
	}
	return t.lookupHash(hashSecret(secret))
}

// lookupHash finds a token by the hash of its secret; sessions keep the hash,
// never the secret, and look it up again on every request.
func (t *Tokens) lookupHash(h [sha256.Size]byte) (Token, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list, err := t.readLocked()
	if err != nil {
		return Token{}, false
	}
	for _, tok := range list {
		if subtle.ConstantTimeCompare(tok.hash[:], h[:]) == 1 {
			return tok, true
		}
	}
	return Token{}, false
}

// readLocked returns a copy of the tokens in the file, reading it again only
// when it has changed since the last read.
func (t *Tokens) readLocked() ([]Token, error) {
	info, err := os.Stat(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		t.stat, t.tokens = nil, nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read web tokens: %w", err)
	}
	if t.stat != nil && os.SameFile(t.stat, info) && t.stat.ModTime().Equal(info.ModTime()) &&
		t.stat.Size() == info.Size() {
		return append([]Token(nil), t.tokens...), nil
	}
	if mode := info.Mode().Perm(); mode&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o, so others may read it: fix it with "+
			"`chmod 600 %s`", t.path, mode, t.path)
	}
	data, err := os.ReadFile(t.path)
	if err != nil {
		return nil, fmt.Errorf("read web tokens: %w", err)
	}
	list, err := parseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	t.stat, t.tokens = info, list
	return append([]Token(nil), list...), nil
}

// The file holds one token a line: NAME ROLE sha256:HEX CREATED.
const tokenFileHeader = "# stratd web tokens, made with `stratd keys token`: " +
	"NAME ROLE sha256:HASH CREATED\n"

func parseTokens(data []byte) ([]Token, error) {
	var list []Token
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		tok, err := parseTokenLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		list = append(list, tok)
	}
	return list, nil
}

func parseTokenLine(line string) (Token, error) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return Token{}, errors.New("want NAME ROLE sha256:HASH CREATED")
	}
	role, err := keys.ParseRole(f[1])
	if err != nil {
		return Token{}, err
	}
	hexHash, ok := strings.CutPrefix(f[2], "sha256:")
	raw, err := hex.DecodeString(hexHash)
	if !ok || err != nil || len(raw) != sha256.Size {
		return Token{}, fmt.Errorf("bad hash %q", f[2])
	}
	created, err := time.Parse(time.RFC3339, f[3])
	if err != nil {
		return Token{}, fmt.Errorf("bad time %q", f[3])
	}
	tok := Token{Name: f[0], Role: role, Created: created}
	copy(tok.hash[:], raw)
	return tok, nil
}

// writeLocked replaces the file with list, through a temporary file and a
// rename so that a daemon never reads half of it.
func (t *Tokens) writeLocked(list []Token) error {
	var b bytes.Buffer
	b.WriteString(tokenFileHeader)
	for _, tok := range list {
		fmt.Fprintf(&b, "%s %s sha256:%s %s\n", tok.Name, tok.Role,
			hex.EncodeToString(tok.hash[:]), tok.Created.Format(time.RFC3339))
	}

	f, err := os.CreateTemp(filepath.Dir(t.path), "."+TokenFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("write web tokens: %w", err)
	}
	_, err = f.Write(b.Bytes())
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), t.path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write web tokens: %w", err)
	}
	t.stat = nil // read it back next time
	return nil
}
