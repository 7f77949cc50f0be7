// Package keys owns stratd's key material: the daemon's host key, the local client
// key, and authorized_keys with a role per key. It imports nothing else from stratd.
package keys

import (
	"fmt"
	"strings"
)

// Role is a person's access level. Roles are ordered: a higher role may do
// everything a lower one may.
type Role int

// The roles, lowest first.
const (
	Viewer Role = iota + 1
	Operator
	Admin
)

// String returns the role's name as written in authorized_keys.
func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Operator:
		return "operator"
	case Admin:
		return "admin"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// ParseRole reads a role name (viewer, operator or admin).
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "viewer":
		return Viewer, nil
	case "operator":
		return Operator, nil
	case "admin":
		return Admin, nil
	}
	return 0, fmt.Errorf("unknown role %q: use viewer, operator or admin", s)
}

// Allows reports whether r is at least need.
func (r Role) Allows(need Role) bool { return r >= need }
