package cmd

import "github.com/spf13/cobra"

// attachNeedsTerminal is what `attach` says when the session has no terminal.
const attachNeedsTerminal = "attach needs a terminal: use ssh -t"

// newAttachCmd is only reached without a terminal: with one, the SSH server routes
// `attach` to the terminal UI before any command runs. It exists so that help lists
// it and so that a session without a terminal gets a clear answer.
func newAttachCmd(*Env) *cobra.Command {
	return &cobra.Command{
		Use:   "attach [NAME]",
		Short: "Attach this terminal to a kernel (needs ssh -t)",
		Long: "Attach this terminal to a kernel's REPL. Without NAME, attach to the only\n" +
			"kernel or pick one from a list. Needs a terminal: ssh -t HOST attach NAME.",
		Args: argsNamed(nil, "NAME"),
		RunE: func(*cobra.Command, []string) error {
			return usageErr("%s", attachNeedsTerminal)
		},
	}
}
