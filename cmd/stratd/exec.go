package main

import (
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newExecCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "exec NAME|FILE [CODE]",
		Short: "Run code in a kernel and print its output",
		Long: "Run CODE (or standard input) in the kernel, as one input of the shared " +
			"REPL. Results and prints go to stdout, errors to stderr. Exit status: 0 ok, " +
			"1 error in the code, 2 bad usage or unknown kernel.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var code io.Reader
			if len(args) > 1 {
				code = strings.NewReader(strings.Join(args[1:], " "))
			} else {
				if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
					return usageError("no code given: pass CODE or pipe it on stdin, " +
						"e.g. `echo 'portfolio()' | stratd exec NAME`")
				}
				code = a.stdin
			}
			cf, err := a.findKernel(args[0])
			if err != nil {
				return err
			}
			// The code travels on stdin, so no quoting survives a remote shell split.
			status, err := a.remote(args[0], "exec "+cf.Name, code)
			if err != nil {
				return err
			}
			if status != 0 {
				return &exitCode{code: status}
			}
			return nil
		},
	}
}
