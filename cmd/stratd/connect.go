package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/sshd/client"
)

func newConnectCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "connect NAME|FILE",
		Short: "Attach this terminal to a running kernel",
		Long: "Attach this terminal to a running kernel, like `ssh -t … attach NAME`. " +
			"The daemon's host key must match the connection file's. Ctrl+D detaches; " +
			"the kernel keeps running.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, err := a.findKernel(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
			c, err := a.dial(ctx, cf)
			cancel()
			if err != nil {
				return err
			}
			defer c.Close()
			return client.Attach(c, "attach "+cf.Name, os.Stdin, os.Stdout)
		},
	}
}
