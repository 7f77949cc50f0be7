package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/keys"
)

func newKeysCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "List, add or remove the keys that may connect (admins)",
		Long: "Manage the daemon's authorized_keys: who may connect and with which role\n" +
			"(viewer, operator or admin). Changes apply at once; the sessions of a removed\n" +
			"key, or of a key given another role, are closed.",
		RunE: parentCmd,
	}
	c.AddCommand(newKeysListCmd(env), newKeysAddCmd(env), newKeysRemoveCmd(env))
	return c
}

// keyStore returns the daemon's keys, or an error when it manages none.
func keyStore(env *Env) (KeyStore, error) {
	if env.Keys == nil {
		return nil, failErr("this daemon manages no keys; edit authorized_keys on its host")
	}
	return env.Keys, nil
}

func newKeysListCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the authorized keys with their roles",
		Args:  argsNamed(nil),
		RunE: func(*cobra.Command, []string) error {
			store, err := keyStore(env)
			if err != nil {
				return err
			}
			list, bad := store.List()
			if bad != nil && len(list) == 0 {
				return failErr("%v", bad)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tFINGERPRINT")
			for _, k := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Role, k.Fingerprint)
			}
			if err := writeErr(tw.Flush()); err != nil {
				return err
			}
			if bad != nil {
				return failErr("%v", bad)
			}
			return nil
		},
	}
}

func newKeysAddCmd(env *Env) *cobra.Command {
	var role, name string
	c := &cobra.Command{
		Use:   "add [--role ROLE] [--name NAME] [KEY]",
		Short: "Authorize a public key (given as words, or on stdin) with a role",
		Long: "Authorize a public key, given after the flags ('ssh-ed25519 AAAA… comment')\n" +
			"or on stdin. The name others see is --name, or else the key's comment. A key\n" +
			"that is already authorized gets the new role and name.",
		Example: "  ssh -p PORT HOST keys add --role viewer --name vera < vera.pub",
		RunE: func(_ *cobra.Command, args []string) error {
			return runKeysAdd(env, role, name, args)
		},
	}
	c.Flags().StringVar(&role, "role", "",
		"viewer, operator or admin (default: the key's current role, or operator)")
	c.Flags().StringVar(&name, "name", "", "the name others see (default: the key's comment)")
	return c
}

func runKeysAdd(env *Env, role, name string, args []string) error {
	store, err := keyStore(env)
	if err != nil {
		return err
	}
	var r keys.Role
	if role != "" {
		if r, err = keys.ParseRole(role); err != nil {
			return usageErr("keys add: %v", err)
		}
	}
	line := strings.Join(args, " ")
	if len(args) == 0 || line == "-" {
		if env.TTY {
			return usageErr("keys add: give the key, or pipe it on stdin without a " +
				"terminal (ssh -T)")
		}
		in, err := io.ReadAll(io.LimitReader(env.Stdin, 64<<10))
		if err != nil {
			return failErr("keys add: read the key from stdin: %w", err)
		}
		line = strings.TrimSpace(string(in))
	}

	k, existed, err := store.Add(keys.NewKey{Line: line, Role: r, Name: name})
	if err != nil {
		return failErr("%v", err)
	}
	verb := "key added"
	if existed {
		verb = "key updated"
	}
	env.Log.Info(verb, "name", k.Name, "key_role", k.Role, "fingerprint", k.Fingerprint)
	if env.KeysChanged != nil {
		env.KeysChanged()
	}
	if existed {
		_, err = fmt.Fprintf(env.Stdout, "updated %s: %s (%s)\n", k.Name, k.Role, k.Fingerprint)
	} else {
		_, err = fmt.Fprintf(env.Stdout, "authorized %s as %s (%s)\n", k.Name, k.Role,
			k.Fingerprint)
	}
	return writeErr(err)
}

func newKeysRemoveCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME|FINGERPRINT",
		Short: "Remove keys by name or fingerprint, closing their sessions",
		Args:  argsNamed([]string{"NAME|FINGERPRINT"}),
		RunE: func(_ *cobra.Command, args []string) error {
			store, err := keyStore(env)
			if err != nil {
				return err
			}
			removed, err := store.Remove(args[0])
			if err != nil {
				return failErr("%v", err)
			}
			for _, k := range removed {
				env.Log.Info("key removed", "name", k.Name, "key_role", k.Role,
					"fingerprint", k.Fingerprint)
			}
			if env.KeysChanged != nil {
				env.KeysChanged()
			}
			for _, k := range removed {
				if _, err := fmt.Fprintf(env.Stdout, "removed %s (%s, %s)\n", k.Name, k.Role,
					k.Fingerprint); err != nil {
					return writeErr(err)
				}
			}
			return nil
		},
	}
}
