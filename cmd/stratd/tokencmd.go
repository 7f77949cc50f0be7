package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/web"
)

// newKeysTokenCmd is `stratd keys token`: named tokens with a role for the web
// terminal, kept hashed in $STRATD_HOME/web_tokens.
func newKeysTokenCmd(a *app) *cobra.Command {
	var (
		name, role, revoke string
		list               bool
	)
	cmd := &cobra.Command{
		Use:   "token --name NAME [--role ROLE] | --list | --revoke NAME",
		Short: "Make, list or revoke tokens that log a browser in to the web terminal",
		Long: "Make a named token for the web terminal (`serve --web`, `run --kernel-only " +
			"--web`) and print it, once: only its hash is kept, in " + web.TokenFile +
			" in the stratd home. NAME is the name others see; ROLE works as for SSH keys " +
			"(viewer, operator, admin). Making a token with a name in use replaces that " +
			"token. A running daemon notices new and revoked tokens at once.",
		Example: "  stratd keys token --name alice --role operator\n" +
			"  stratd keys token --list\n" +
			"  stratd keys token --revoke alice",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := a.store(); err != nil { // makes the home if need be
				return err
			}
			set := 0
			for _, on := range []bool{name != "", list, revoke != ""} {
				if on {
					set++
				}
			}
			if set > 1 {
				return usageError("use one of --name, --list and --revoke")
			}
			tokens := web.OpenTokens(a.home)
			switch {
			case list:
				return a.listTokens(tokens)
			case revoke != "":
				if err := tokens.Revoke(revoke); err != nil {
					return &exitCode{code: exitError, err: err}
				}
				fmt.Fprintf(a.stdout, "revoked the web token of %s; its browser sessions end "+
					"at their next request\n", revoke)
				return nil
			case name == "":
				return usageError("say whose token it is with --name NAME (or use --list " +
					"or --revoke NAME)")
			}
			r, err := keys.ParseRole(role)
			if err != nil {
				return usageError("%v", err)
			}
			secret, replaced, err := tokens.Create(name, r)
			if errors.Is(err, web.ErrBadName) {
				return usageError("%v", err)
			}
			if err != nil {
				return err
			}
			if replaced {
				fmt.Fprintf(a.stdout, "replaced the earlier web token of %s\n", name)
			}
			fmt.Fprintf(a.stdout, "web token for %s (%s), shown only this once:\n\n  %s\n\n",
				name, r, secret)
			fmt.Fprintf(a.stdout, "Log in by opening the daemon's web address with it, e.g.\n"+
				"  http://127.0.0.1:PORT/?token=%s\n", secret)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "whose token: the name others see")
	cmd.Flags().StringVar(&role, "role", "operator", "viewer, operator or admin")
	cmd.Flags().BoolVar(&list, "list", false, "list the tokens (names and roles)")
	cmd.Flags().StringVar(&revoke, "revoke", "", "revoke the token called `NAME`")
	return cmd
}

func (a *app) listTokens(tokens *web.Tokens) error {
	list, err := tokens.List()
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(a.stdout, "no web tokens; make one with `stratd keys token --name "+
			"NAME --role ROLE`")
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Role, t.Created.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
