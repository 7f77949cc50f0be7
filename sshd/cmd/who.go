package cmd

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
)

func newWhoCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "who [NAME]",
		Short: "Show who is attached to a kernel, or to every kernel",
		Args:  argsNamed(nil, "NAME"),
		RunE: func(_ *cobra.Command, args []string) error {
			kernels := env.Registry.List()
			if len(args) == 1 {
				k, err := FindKernel(env.Registry, args[0])
				if err != nil {
					return err
				}
				kernels = []*kernel.Kernel{k}
			}
			return writeWho(env, kernels)
		},
	}
}

func writeWho(env *Env, kernels []*kernel.Kernel) error {
	if len(kernels) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "no kernels running")
		return writeErr(err)
	}

	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KERNEL\tNAME\tROLE\tVIA\tSINCE")
	for _, k := range kernels {
		people := k.Who()
		if len(people) == 0 {
			fmt.Fprintf(tw, "%s\t(nobody)\t\t\t\n", k.Name())
			continue
		}
		for _, a := range people {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s (%s)\n", k.Name(), a.Name, a.Role, a.Via,
				a.Since.Local().Format("2006-01-02 15:04:05"), since(a.Since))
		}
	}
	return writeErr(tw.Flush())
}
