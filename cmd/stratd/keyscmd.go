package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"charm.land/log/v2"
	"github.com/spf13/cobra"
	"github.com/stratd/stratd/keys"
)

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage who may connect (authorized_keys) and with which role",
		Long: "Manage " + keys.AuthorizedKeysFile + " in the stratd home: who may connect and " +
			"with which role (viewer, operator or admin). A running daemon picks up changes " +
			"at once and closes the sessions of a removed key. Admins can do the same over " +
			"SSH: ssh -p PORT HOST keys list|add|remove.",
	}
	cmd.AddCommand(newKeysListCmd(a), newKeysAddCmd(a), newKeysRemoveCmd(a),
		newKeysTokenCmd(a))
	return cmd
}

// store opens the home's keys. Its routine log lines are for daemons; here the
// command's own output says what happened, so only warnings are shown.
func (a *app) store() (*keys.Store, error) {
	lg := a.logger()
	if !a.debug {
		lg.SetLevel(log.WarnLevel)
	}
	return keys.Ensure(a.home, lg)
}

func newKeysListCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List authorized keys with their roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil && len(list) == 0 {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tFINGERPRINT")
			for _, k := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Role, k.Fingerprint)
			}
			if ferr := tw.Flush(); ferr != nil {
				return ferr
			}
			return err // bad lines, listed after the good keys
		},
	}
}

func newKeysAddCmd(a *app) *cobra.Command {
	var role, name string
	cmd := &cobra.Command{
		Use:   "add [--role ROLE] [--name NAME] KEY|FILE|-",
		Short: "Authorize a public key with a role (default operator)",
		Long: "Authorize a public key: give a .pub file, - for standard input, or the key " +
			"itself ('ssh-ed25519 AAAA… comment'). The name others see is --name, or else " +
			"the key's comment. A key that is already there gets the new role and name.",
		Example: "  stratd keys add --role viewer --name vera vera.pub\n" +
			"  stratd keys add --role admin ssh-ed25519 AAAAC3Nza… ada@laptop",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var r keys.Role
			if role != "" {
				var err error
				if r, err = keys.ParseRole(role); err != nil {
					return usageError("%v", err)
				}
			}
			line, err := readKeyArg(args, a.stdin)
			if err != nil {
				return err
			}
			s, err := a.store()
			if err != nil {
				return err
			}
			k, existed, err := s.Add(keys.NewKey{Line: line, Role: r, Name: name})
			if err != nil {
				return &exitCode{code: exitError, err: err}
			}
			verb := "authorized"
			if existed {
				verb = "updated"
			}
			fmt.Fprintf(a.stdout, "%s %s as %s (%s)\n", verb, k.Name, k.Role, k.Fingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "",
		"viewer, operator or admin (default: the key's role= option, its current role, "+
			"or operator)")
	cmd.Flags().StringVar(&name, "name", "", "the name others see (default: the key's comment)")
	return cmd
}

// readKeyArg returns the key line the arguments name: stdin ("-"), a key given as
// one or several words ("ssh-ed25519 AAAA… name"), or a file holding it.
func readKeyArg(args []string, stdin io.Reader) (string, error) {
	arg := strings.Join(args, " ")
	switch {
	case arg == "-":
		b, err := io.ReadAll(stdin)
		if err != nil {
			return "", fmt.Errorf("read public key from stdin: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case len(args) > 1 || strings.Contains(arg, " AAAA") || strings.HasPrefix(arg, "ssh-") ||
		strings.HasPrefix(arg, "ecdsa-") || strings.HasPrefix(arg, "role="):
		return arg, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", usageError("read public key: %v; give a .pub file, - for stdin, or "+
			"the key itself", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func newKeysRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME|FINGERPRINT",
		Short: "Remove a key from authorized_keys; a daemon closes its sessions",
		Long: "Remove every key with this name or fingerprint (SHA256:…, as `keys list` " +
			"shows it). Running daemons close the sessions of a removed key.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			removed, err := s.Remove(args[0])
			if err != nil {
				return &exitCode{code: exitError, err: err}
			}
			for _, k := range removed {
				fmt.Fprintf(a.stdout, "removed %s (%s, %s)\n", k.Name, k.Role, k.Fingerprint)
			}
			return nil
		},
	}
}
