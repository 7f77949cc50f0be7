package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
)

func newExecCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "exec NAME [CODE]",
		Short: "Run code in a kernel and print its output",
		Long: "Run code in a kernel and print its output: results and prints on stdout,\n" +
			"errors on stderr. Without CODE the code is read from stdin. Exit status\n" +
			"0 ok, 1 the code failed (or your role may not run code), 2 bad usage or\n" +
			"unknown kernel.",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("exec needs NAME; usage: %s", c.UseLine())
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return runExec(env, args[0], args[1:])
		},
	}
	// Flags end at the kernel's name: `exec k -1` runs "-1".
	c.Flags().SetInterspersed(false)
	return c
}

func runExec(env *Env, name string, words []string) error {
	k, err := FindKernel(env.Registry, name)
	if err != nil {
		return err
	}

	code, err := execCode(env, words)
	if err != nil {
		return err
	}

	env.Log.Info("input", "kernel", k.Name(), "via", "exec", "code", Excerpt(code))
	res, err := k.Exec(env.Ctx, env.Person, code)
	switch {
	case errors.Is(err, kernel.ErrReadOnly):
		return failErr("%v", err)
	case err != nil && env.Ctx.Err() != nil:
		// The client went away; the input still runs and lands in the transcript.
		return silentFail
	case err != nil:
		return failErr("exec in %s: %w", name, err)
	}

	for _, e := range res.Entries {
		if err := writeOutput(env, e); err != nil {
			return failErr("write: %w", err)
		}
	}
	if res.Failed {
		return silentFail
	}
	return nil
}

// execCode is the code to run: the words after the kernel's name, or stdin.
func execCode(env *Env, words []string) (string, error) {
	code := strings.Join(words, " ")
	if len(words) == 0 {
		if env.TTY {
			return "", usageErr("exec: give CODE, or pipe the code on stdin without" +
				" a terminal (ssh -T)")
		}
		in, err := io.ReadAll(env.Stdin)
		if err != nil {
			return "", failErr("exec: read code from stdin: %w", err)
		}
		code = string(in)
	}
	if strings.TrimSpace(code) == "" {
		return "", usageErr("exec: nothing to run; give CODE or pipe it on stdin")
	}
	return code, nil
}

// writeOutput prints one entry an input produced: results and prints as they are,
// errors on stderr, anything else prefixed by its kind.
func writeOutput(env *Env, e kernel.Entry) error {
	text := strings.TrimSuffix(e.Text, "\n")
	var err error
	switch e.Kind {
	case kernel.KindInput:
	case kernel.KindResult, kernel.KindStdout:
		_, err = fmt.Fprintln(env.Stdout, text)
	case kernel.KindError:
		_, err = fmt.Fprintln(env.Stderr, text)
	default:
		_, err = fmt.Fprintf(env.Stdout, "%s: %s\n", e.Kind, text)
	}
	return err
}
