package cmd

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

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
	fmt.Fprintln(tw, "KERNEL\tNAME\tROLE\tSESSIONS\tVIA\tSINCE")
	for _, k := range kernels {
		people := groupPeople(k.Who())
		if len(people) == 0 {
			fmt.Fprintf(tw, "%s\t(nobody)\t\t\t\t\n", k.Name())
			continue
		}
		for _, p := range people {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s (%s)\n", k.Name(), p.name, p.role,
				p.sessions, strings.Join(p.via, ","),
				p.since.Local().Format("2006-01-02 15:04:05"), since(p.since))
		}
	}
	return writeErr(tw.Flush())
}

// person is one person attached to a kernel, however many sessions they have.
type person struct {
	name, role string
	sessions   int
	via        []string  // how they are attached ("ssh", "local"), each once
	since      time.Time // their first attachment
}

// groupPeople folds attachments into people: two sessions of one person (same
// name and role) are one row with two sessions. The order is that of the first
// attachment of each.
func groupPeople(attached []kernel.Attachment) []*person {
	var people []*person
	byKey := map[string]*person{}
	for _, a := range attached {
		key := a.Name + "\x00" + a.Role
		p, ok := byKey[key]
		if !ok {
			p = &person{name: a.Name, role: a.Role, since: a.Since}
			byKey[key] = p
			people = append(people, p)
		}
		p.sessions++
		if !slices.Contains(p.via, a.Via) {
			p.via = append(p.via, a.Via)
		}
		if a.Since.Before(p.since) {
			p.since = a.Since
		}
	}
	return people
}
