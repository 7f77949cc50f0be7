package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/strategy"
)

func newCheckCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check CONFIG",
		Short: "Check a strategy config and compile its strategy, without running it",
		Long: "Check loads CONFIG and reports every problem in it at once, each with its " +
			"file:line; then it reads the feed (every row of a csv file), compiles the " +
			"strategy, runs its top level and checks its hooks, without starting it. " +
			"It prints one ok line and exits 0, or the problems and exits 1.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := strategy.LoadConfig(args[0])
			if err != nil {
				return &exitCode{code: exitError, err: err}
			}
			summary, err := strategy.Check(cfg)
			if err != nil {
				return &exitCode{code: exitError, err: err}
			}
			fmt.Fprintf(a.stdout, "ok: %s (%s)\n", cfg.Name, summary)
			return nil
		},
	}
}
