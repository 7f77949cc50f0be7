// Package cmd holds the commands people run over SSH (`ssh -p PORT HOST COMMAND`):
// `kernel list|start|stop|restart|interrupt|pause|resume`, `exec`, `history`, `who`,
// `attach` and `keys list|add|remove`.
//
// Every SSH session gets a fresh cobra command tree wired to that session's stdin,
// stdout and stderr, so nothing leaks from one session to the next. What each role
// may run is decided in one table (access.go) and checked before any command runs.
// Every input, kernel control and key change is written to the audit log (Env.Log)
// with who did it and from where.
//
// Exit statuses: 0 the command did what was asked; 1 it ran and failed (an error in
// the code given to exec, a config that does not load) or was refused (the person's
// role does not allow it); 2 bad usage (unknown command, bad flags, unknown kernel).
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"

	"charm.land/log/v2"
	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
)

// Exit statuses of a command session.
const (
	ExitOK     = 0 // the command did what was asked
	ExitFailed = 1 // the command ran and failed, or the role does not allow it
	ExitUsage  = 2 // bad usage or unknown kernel
)

// rootName is the root command's name, and its row in the access table.
const rootName = "stratd"

// Env is what one command session runs against.
type Env struct {
	// Ctx ends when the client disconnects; long commands (history --follow) stop
	// then. Input given to exec keeps running in the kernel regardless.
	Ctx      context.Context
	Registry *kernel.Registry
	Person   kernel.Person
	// Addr is the SSH address of this daemon, reported by `kernel list --json`.
	Addr string
	// TTY says the session has a terminal; exec then refuses to read code from it.
	TTY    bool
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer

	// Log receives the audit trail: one line per input, kernel start, stop, restart,
	// interrupt, pause or resume, and key change. The caller sets who and from where
	// on it (log.With), so each line names them. nil discards.
	Log *log.Logger
	// Keys is the daemon's authorized_keys, for `keys …`; nil when it has none.
	Keys KeyStore
	// KeysChanged, when set, is called after `keys add|remove` changed the keys,
	// so sessions of a removed or demoted key can be closed.
	KeysChanged func()
}

// KeyStore is the daemon's authorized_keys as `keys …` manages it. *keys.Store
// implements it.
type KeyStore interface {
	// List returns the keys in file order, and an error naming any bad lines.
	List() ([]keys.AuthorizedKey, error)
	// Add authorizes a key, or updates the one there; true when it was there.
	Add(k keys.NewKey) (keys.AuthorizedKey, bool, error)
	// Remove takes the keys with a name or fingerprint out.
	Remove(selector string) ([]keys.AuthorizedKey, error)
}

// exitError ends a command with a given exit status. An empty message prints
// nothing: the command has already said what went wrong.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErr is bad usage: exit status 2.
func usageErr(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// failErr is a command that ran and failed: exit status 1.
func failErr(format string, args ...any) error {
	return &exitError{code: ExitFailed, err: fmt.Errorf(format, args...)}
}

// silentFail is exit status 1 with nothing more to say.
var silentFail = &exitError{code: ExitFailed}

// ExitCode returns the exit status for an error returned by a command: 0 for nil,
// the status it carries, and 2 for anything else (cobra's own errors are all about
// usage: unknown commands, bad flags, wrong argument counts).
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}

// Run runs one command line (the words after the host, as the client sent them)
// and returns its exit status. Errors go to env.Stderr.
func Run(env Env, args []string) int {
	root := New(&env)
	root.SetArgs(args)

	err := root.ExecuteContext(env.Ctx)
	if err != nil && err.Error() != "" {
		fmt.Fprintln(env.Stderr, err)
	}
	return ExitCode(err)
}

// New builds a fresh command tree for one session. Most callers want Run.
func New(env *Env) *cobra.Command {
	if env.Ctx == nil {
		env.Ctx = context.Background()
	}
	if env.Log == nil {
		env.Log = log.New(io.Discard)
	}
	display := sshCommand(env.Addr)
	root := &cobra.Command{
		Use:   rootName,
		Short: "Run and inspect stratd kernels over SSH",
		Long: "Run and inspect stratd kernels over SSH: " + display + " COMMAND.\n" +
			"Without a command, and with a terminal (ssh -t), attach to a kernel.",
		// Help texts show the command line people type: "ssh -p 2222 HOST exec".
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: display},
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q; %s", args[0], commandList(c))
			}
			return nil
		},
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			return Authorize(commandPath(c), env.Person)
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("no command given; %s", commandList(c))
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageErr("%s: %v; see `%s --help`", commandPath(c), err, commandPath(c))
	})

	root.AddCommand(
		newAttachCmd(env),
		newExecCmd(env),
		newHistoryCmd(env),
		newKernelCmd(env),
		newKeysCmd(env),
		newWhoCmd(env),
	)
	return root
}

// sshCommand is the ssh command line that reaches a daemon listening on addr,
// for help texts: "ssh -p 2222 127.0.0.1", or "ssh -p PORT HOST" when unknown.
func sshCommand(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "ssh -p PORT HOST"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "HOST"
	}
	return "ssh -p " + port + " " + host
}

// commandPath is a command's words without the root: "kernel stop". The root
// itself is rootName.
func commandPath(c *cobra.Command) string {
	var words []string
	for ; c.HasParent(); c = c.Parent() {
		words = append([]string{c.Name()}, words...)
	}
	if len(words) == 0 {
		return rootName
	}
	return strings.Join(words, " ")
}

// commandList names the commands under c, for messages about unknown commands.
func commandList(c *cobra.Command) string {
	var names []string
	for _, sub := range c.Commands() {
		if sub.IsAvailableCommand() {
			names = append(names, sub.Name())
		}
	}
	sort.Strings(names)
	more := "`help`"
	if c.HasParent() {
		more = "`" + commandPath(c) + " --help`"
	}
	return fmt.Sprintf("commands: %s (%s for more)", strings.Join(names, ", "), more)
}

// parentCmd returns the RunE of a command that only groups subcommands: it says
// which subcommands exist.
func parentCmd(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unknown command %q; %s", commandPath(c)+" "+args[0], commandList(c))
	}
	return usageErr("%s needs a subcommand; %s", commandPath(c), commandList(c))
}

// argsNamed checks that a command got the arguments it names: required first, then
// optional ones.
func argsNamed(required []string, optional ...string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < len(required) {
			return usageErr("%s needs %s; usage: %s", commandPath(c),
				strings.Join(required[len(args):], " and "), c.UseLine())
		}
		if len(args) > len(required)+len(optional) {
			return usageErr("%s: too many arguments (%d); usage: %s", commandPath(c),
				len(args), c.UseLine())
		}
		return nil
	}
}

// FindKernel finds a running kernel by name. The error names the running kernels
// and carries exit status 2.
func FindKernel(r *kernel.Registry, name string) (*kernel.Kernel, error) {
	k, err := r.Get(name)
	if err == nil {
		return k, nil
	}

	running := r.List()
	if len(running) == 0 {
		return nil, usageErr("kernel %q not found; no kernels running", name)
	}
	names := make([]string, len(running))
	for i, k := range running {
		names[i] = k.Name()
	}
	return nil, usageErr("kernel %q not found; running: %s", name, strings.Join(names, ", "))
}

// Excerpt shortens code for the audit log: at most 120 bytes, cut on a rune
// boundary. The whole input is in the kernel's transcript.
func Excerpt(code string) string {
	const maxLen = 120
	code = strings.TrimSpace(code)
	if len(code) <= maxLen {
		return code
	}
	return strings.ToValidUTF8(code[:maxLen], "") + "…"
}
