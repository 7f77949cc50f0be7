package cmd

import (
	"fmt"

	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
)

// access is the one place that says which role each command needs. Paths are
// command words without the root's name. A command missing from this table needs
// the admin role, so a new command is never open by accident.
var access = map[string]keys.Role{
	rootName: keys.Viewer, // no command: the usage message
	"help":   keys.Viewer,
	"attach": keys.Viewer, // the UI makes a viewer's session read-only
	"who":    keys.Viewer,

	"history":     keys.Viewer,
	"kernel":      keys.Viewer, // no subcommand: the usage message
	"kernel list": keys.Viewer,

	"exec":             keys.Operator,
	"kernel interrupt": keys.Operator,
	"kernel pause":     keys.Operator,
	"kernel resume":    keys.Operator,

	"kernel start":   keys.Admin,
	"kernel stop":    keys.Admin,
	"kernel restart": keys.Admin,

	"keys":        keys.Admin,
	"keys list":   keys.Admin,
	"keys add":    keys.Admin,
	"keys remove": keys.Admin,
}

// Needs returns the role a command needs, by its words: "kernel stop".
func Needs(command string) keys.Role {
	if role, ok := access[command]; ok {
		return role
	}
	return keys.Admin
}

// Authorize returns nil if p may run command ("kernel stop"), and otherwise an error
// that says which role is needed, with exit status 1.
func Authorize(command string, p kernel.Person) error {
	need := Needs(command)
	if p.Role.Allows(need) {
		return nil
	}
	return &exitError{code: ExitFailed, err: fmt.Errorf(
		"permission denied: `%s` needs the %s role; you are %s (%s)",
		command, need, p.Role, p.Name)}
}
