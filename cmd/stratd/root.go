package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"charm.land/log/v2"
	"github.com/spf13/cobra"
)

// version is stamped into connection files; set with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses shared with the SSH commands: 1 an error in the code or the
// operation, 2 bad usage or an unknown kernel.
const (
	exitError = 1
	exitUsage = 2
)

// exitCode is an error that carries the process exit status.
type exitCode struct {
	code int
	err  error
}

func (e *exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCode) Unwrap() error { return e.err }

// usageError marks err as bad usage (exit status 2).
func usageError(format string, a ...any) error {
	return &exitCode{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// app is what every command shares: where to write, and the home folder.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	home   string
	debug  bool
}

// logger returns the daemon's logger: charm log on stderr.
func (a *app) logger() *log.Logger {
	l := log.NewWithOptions(a.stderr, log.Options{ReportTimestamp: true, Prefix: "stratd"})
	if a.debug {
		l.SetLevel(log.DebugLevel)
	}
	return l
}

func defaultHome() string {
	if h := os.Getenv("STRATD_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".stratd")
	}
	return ".stratd"
}

// execute runs the command line args and returns the exit status.
func execute(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			fmt.Fprintln(stderr, "stratd:", ec.err)
		}
		return ec.code
	}
	fmt.Fprintln(stderr, "stratd:", err)
	if isUsage(err) {
		return exitUsage
	}
	return exitError
}

// isUsage tells cobra's own argument and flag errors apart from failures.
func isUsage(err error) bool {
	msg := err.Error()
	for _, s := range []string{"unknown command", "unknown flag", "unknown shorthand",
		"accepts ", "requires at least", "flag needs an argument", "invalid argument"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "stratd",
		Short: "Persistent, shared trading-strategy kernels over SSH",
		Long: "stratd runs trading strategies in persistent kernels. Any number of people " +
			"attach to the same kernel at once, over SSH or from this terminal, and share " +
			"one REPL and one transcript.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.PersistentFlags().StringVar(&a.home, "home", defaultHome(),
		"stratd home folder (keys, connection files, state); env STRATD_HOME")
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log debug messages")
	root.AddCommand(
		newRunCmd(a),
		newCheckCmd(a),
		newServeCmd(a),
		newConnectCmd(a),
		newKernelCmd(a),
		newExecCmd(a),
		newKeysCmd(a),
	)
	return root
}
