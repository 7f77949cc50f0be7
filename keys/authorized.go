package keys

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// Identity is who a key belongs to, as the rest of stratd sees it.
type Identity struct {
	// Name is shown to others. It comes from the key's comment in
	// authorized_keys, never from the SSH user name, which anyone can choose.
	Name string
	// Role is what the key's holder may do.
	Role Role
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:…").
	Fingerprint string
}

// AuthorizedKey is one key line of an authorized_keys file.
type AuthorizedKey struct {
	// Key is the public key.
	Key ssh.PublicKey
	// Name is the name shown to others: the comment, or "key-" and the
	// start of the fingerprint when the line has no comment.
	Name string
	// Comment is the text after the key, as written.
	Comment string
	// Role is set by the role= option; Operator when the line has none.
	Role Role
	// Options holds the line's other options (from=, command=…) as written.
	// They are kept in the file but stratd does not enforce them.
	Options []string
	// Fingerprint is the key's SHA256 fingerprint ("SHA256:…").
	Fingerprint string
	// Line is the 1-based line number in the file the key was read from.
	Line int
}

// Identity returns the identity a session authenticated with this key gets.
func (k AuthorizedKey) Identity() Identity {
	return Identity{Name: k.Name, Role: k.Role, Fingerprint: k.Fingerprint}
}

// String formats the key as an authorized_keys line, role option first.
func (k AuthorizedKey) String() string {
	opts := append([]string{"role=" + k.Role.String()}, k.Options...)
	line := strings.Join(opts, ",") + " " + authorizedKeyText(k.Key)
	if k.Comment != "" {
		line += " " + k.Comment
	}
	return line
}

// Fingerprint returns the key's SHA256 fingerprint, as OpenSSH prints it
// ("SHA256:" and unpadded base64).
func Fingerprint(key ssh.PublicKey) string {
	return ssh.FingerprintSHA256(key)
}

// ParseAuthorizedKeys reads an authorized_keys file in OpenSSH format. Blank
// lines and lines starting with # are skipped. An option role=viewer,
// role=operator or role=admin in front of a key sets its role; a key without
// one is an Operator. Other options are kept in AuthorizedKey.Options.
//
// A line that is not a valid key, or that names an unknown role, is an error
// of the form "authorized_keys:LINE: …"; all such errors are joined. The valid
// keys are returned even then, so a caller that must keep serving can.
func ParseAuthorizedKeys(data []byte) ([]AuthorizedKey, error) {
	keys, bad := parseAuthorizedLines(data)
	return keys, errors.Join(bad...)
}

// parseAuthorizedLines parses every line of data, returning the valid keys and
// one error per bad line.
func parseAuthorizedLines(data []byte) ([]AuthorizedKey, []error) {
	var keys []AuthorizedKey
	var bad []error
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSpace(string(raw))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}

		key, err := parseKeyLine(line)
		if err != nil {
			bad = append(bad, fmt.Errorf("authorized_keys:%d: %w", i+1, err))
			continue
		}
		key.Line = i + 1
		keys = append(keys, key)
	}
	return keys, bad
}

// parseKeyLine parses one authorized_keys line that is neither blank nor a
// comment.
func parseKeyLine(line string) (AuthorizedKey, error) {
	pub, comment, options, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return AuthorizedKey{}, fmt.Errorf("not a public key in authorized_keys form: %w",
			err)
	}

	key := AuthorizedKey{
		Key:         pub,
		Comment:     strings.TrimSpace(comment),
		Role:        Operator,
		Fingerprint: Fingerprint(pub),
	}
	key.Name = nameFor(key.Comment, key.Fingerprint)

	roleSeen := false
	for _, opt := range options {
		name, value, hasValue := strings.Cut(opt, "=")
		if !strings.EqualFold(name, "role") {
			key.Options = append(key.Options, opt)
			continue
		}
		if !hasValue {
			return AuthorizedKey{}, errors.New("option role needs a value: " +
				"role=viewer, role=operator or role=admin")
		}
		if roleSeen {
			return AuthorizedKey{}, errors.New("more than one role option")
		}
		role, err := ParseRole(strings.Trim(value, `"`))
		if err != nil {
			return AuthorizedKey{}, err
		}
		key.Role, roleSeen = role, true
	}
	return key, nil
}

// nameFor is the name a key is shown under: its comment without control
// characters (they could rewrite other people's terminals), or "key-" and the
// first 8 characters of the fingerprint's hash when there is no comment.
func nameFor(comment, fingerprint string) string {
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, comment)
	name = strings.TrimSpace(name)
	if name != "" {
		return name
	}

	hash := strings.TrimPrefix(fingerprint, "SHA256:")
	if len(hash) > 8 {
		hash = hash[:8]
	}
	return "key-" + hash
}

// authorizedKeyText is the key in authorized_keys form ("TYPE BASE64"),
// without comment or newline.
func authorizedKeyText(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}
