package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/keys"
)

func newKeysCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage who may connect (authorized_keys) and with which role",
	}
	cmd.AddCommand(newKeysListCmd(a), newKeysAddCmd(a), newKeysRemoveCmd(a))
	return cmd
}

func (a *app) store() (*keys.Store, error) {
	return keys.Ensure(a.home, a.logger())
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
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tFINGERPRINT")
			for _, k := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Role, k.Fingerprint)
			}
			return tw.Flush()
		},
	}
}

func newKeysAddCmd(a *app) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "add PUBKEY_FILE|-|'ssh-ed25519 AAAA… name'",
		Short: "Authorize a public key with a role (default operator)",
		Long: "Authorize a public key. The key's comment is the name others see. " +
			"Give a .pub file, - for standard input, or the key line itself.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := keys.ParseRole(role)
			if err != nil {
				return usageError("%v", err)
			}
			line, err := readKeyArg(args[0], a.stdin)
			if err != nil {
				return err
			}
			s, err := a.store()
			if err != nil {
				return err
			}
			k, err := s.Add(line, r)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "authorized %s as %s (%s)\n", k.Name, k.Role, k.Fingerprint)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "operator", "viewer, operator or admin")
	return cmd
}

// readKeyArg returns the key line an argument names: a file, stdin, or the line.
func readKeyArg(arg string, stdin io.Reader) (string, error) {
	if arg == "-" {
		b, err := io.ReadAll(stdin)
		return strings.TrimSpace(string(b)), err
	}
	if strings.HasPrefix(arg, "ssh-") || strings.HasPrefix(arg, "ecdsa-") ||
		strings.Contains(arg, " AAAA") {
		return arg, nil
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return "", usageError("read public key: %v", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func newKeysRemoveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "remove FINGERPRINT|NAME",
		Short: "Remove a key from authorized_keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.store()
			if err != nil {
				return err
			}
			removed, err := s.Remove(args[0])
			if err != nil {
				return err
			}
			for _, k := range removed {
				fmt.Fprintf(a.stdout, "removed %s (%s, %s)\n", k.Name, k.Role, k.Fingerprint)
			}
			return nil
		},
	}
}
