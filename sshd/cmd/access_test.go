package cmd

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
)

// TestAccessTableMatchesCommands keeps the access table and the command tree in
// step: a command without a row would silently need admin, and a row without a
// command is a typo.
func TestAccessTableMatchesCommands(t *testing.T) {
	root := New(&Env{})
	root.InitDefaultHelpCmd()

	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := commandPath(c)
		seen[path] = true
		if _, ok := access[path]; !ok {
			t.Errorf("command %q has no row in the access table", path)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)

	for path := range access {
		if !seen[path] {
			t.Errorf("access table row %q names no command", path)
		}
	}
}

func TestAuthorize(t *testing.T) {
	vera := kernel.Person{Name: "vera", Role: keys.Viewer}
	alice := kernel.Person{Name: "alice", Role: keys.Operator}
	ada := kernel.Person{Name: "ada", Role: keys.Admin}

	for _, tc := range []struct {
		command string
		p       kernel.Person
		ok      bool
	}{
		{"kernel list", vera, true},
		{"history", vera, true},
		{"who", vera, true},
		{"attach", vera, true},
		{"exec", vera, false},
		{"exec", alice, true},
		{"kernel interrupt", vera, false},
		{"kernel interrupt", alice, true},
		{"kernel pause", alice, true},
		{"kernel stop", alice, false},
		{"kernel start", alice, false},
		{"kernel restart", alice, false},
		{"kernel stop", ada, true},
		{"kernel start", ada, true},
		{"kernel restart", ada, true},
		{"keys list", alice, false},
		{"keys add", alice, false},
		{"keys remove", alice, false},
		{"keys list", ada, true},
		{"keys add", ada, true},
		{"keys remove", ada, true},
		{"some future command", alice, false},
		{"some future command", ada, true},
	} {
		err := Authorize(tc.command, tc.p)
		if (err == nil) != tc.ok {
			t.Errorf("Authorize(%q, %s) = %v, want allowed %v", tc.command, tc.p.Role, err, tc.ok)
		}
		if err != nil && ExitCode(err) != ExitFailed {
			t.Errorf("Authorize(%q, %s): exit code %d, want %d", tc.command, tc.p.Role,
				ExitCode(err), ExitFailed)
		}
	}

	err := Authorize("kernel stop", alice)
	want := "permission denied: `kernel stop` needs the admin role; you are operator (alice)"
	if err == nil || err.Error() != want {
		t.Fatalf("Authorize message = %v, want %q", err, want)
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{silentFail, ExitFailed},
		{failErr("x"), ExitFailed},
		{usageErr("x"), ExitUsage},
		{errors.New("cobra says: unknown flag"), ExitUsage},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// TestRunWithoutKernels runs commands directly, without SSH, to check the parts
// that need no kernel: usage errors and what a viewer may not do.
func TestRunWithoutKernels(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		role   keys.Role
		code   int
		stderr string
	}{
		{[]string{"bogus"}, keys.Viewer, ExitUsage, `unknown command "bogus"`},
		{[]string{"exec", "k", "1"}, keys.Viewer, ExitFailed, "needs the operator role"},
		{[]string{"kernel", "stop", "k"}, keys.Operator, ExitFailed, "needs the admin role"},
		{[]string{"keys", "list"}, keys.Operator, ExitFailed, "needs the admin role"},
		{[]string{"keys", "list"}, keys.Admin, ExitFailed, "manages no keys"},
		{[]string{"attach", "k"}, keys.Viewer, ExitUsage, "attach needs a terminal"},
		{[]string{"history"}, keys.Viewer, ExitUsage, "history needs NAME"},
		{[]string{"who", "a", "b"}, keys.Viewer, ExitUsage, "too many arguments"},
		{[]string{"help"}, keys.Viewer, ExitOK, ""},
	} {
		var stdout, stderr strings.Builder
		code := Run(Env{
			Person: kernel.Person{Name: "p", Role: tc.role},
			Stdin:  strings.NewReader(""),
			Stdout: &stdout,
			Stderr: &stderr,
		}, tc.args)
		if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%v as %s: exit %d, stderr %q; want %d and %q", tc.args, tc.role, code,
				stderr.String(), tc.code, tc.stderr)
		}
	}
}
