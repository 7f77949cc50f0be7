package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
)

func newKernelCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kernel",
		Short: "List, stop and tidy the kernels found in connection files",
	}
	cmd.AddCommand(newKernelListCmd(a), newKernelStopCmd(a), newKernelPruneCmd(a))
	return cmd
}

// listedKernel is one row of `kernel list`.
type listedKernel struct {
	Name     string    `json:"name"`
	State    string    `json:"state"` // the daemon's word for it, or "stale"/"unknown"
	Strategy string    `json:"strategy"`
	Addr     string    `json:"addr"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Equity   float64   `json:"equity,omitempty"`
	PnL      float64   `json:"pnl,omitempty"`
	Attached int       `json:"attached"`
	File     string    `json:"file"`
	Problem  string    `json:"problem,omitempty"` // why it is stale or unknown
}

// checkAll probes every connection file concurrently.
func (a *app) checkAll() ([]listedKernel, []error) {
	files, errs := kernel.ListConnFiles(a.home)
	rows := make([]listedKernel, len(files))
	var wg sync.WaitGroup
	for i, cf := range files {
		wg.Go(func() {
			row := listedKernel{Name: cf.Name, Strategy: cf.Strategy, Addr: cf.Addr,
				PID: cf.PID, Started: cf.Started, File: cf.Path}
			rk, err := a.probe(context.Background(), cf)
			var se *staleError
			switch {
			case errors.As(err, &se):
				row.State, row.Problem = "stale", se.why
			case err != nil:
				row.State, row.Problem = "unknown", err.Error()
			default:
				row.State, row.Equity, row.PnL, row.Attached = rk.State, rk.Equity, rk.PnL,
					rk.Attached
			}
			rows[i] = row
		})
	}
	wg.Wait()
	return rows, errs
}

func newKernelListCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List kernels from their connection files, each checked live",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, errs := a.checkAll()
			for _, err := range errs {
				fmt.Fprintln(a.stderr, "stratd: skipping", err)
			}
			if asJSON {
				if rows == nil {
					rows = []listedKernel{}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.stdout, "no kernels: start one with `stratd run CONFIG "+
					"--kernel-only` (connection files live in %s)\n", kernel.KernelsDir(a.home))
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tSTRATEGY\tADDR\tPID\tSTARTED\tATTACHED\tNOTE")
			stale := 0
			for _, r := range rows {
				note := r.Problem
				if r.State == "stale" {
					stale++
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", r.Name, r.State,
					r.Strategy, r.Addr, r.PID, r.Started.Local().Format("2006-01-02 15:04"),
					r.Attached, note)
			}
			tw.Flush()
			if stale > 0 {
				fmt.Fprintf(a.stdout, "%d stale connection file(s): remove them with "+
					"`stratd kernel prune`\n", stale)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newKernelStopCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "stop NAME|FILE",
		Short: "Stop a kernel through its daemon and wait until it is gone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cf, err := a.findKernel(args[0])
			if err != nil {
				return err
			}
			code, err := a.remote(args[0], "kernel stop "+cf.Name, nil)
			var se *staleError
			if errors.As(err, &se) {
				return &exitCode{code: exitError, err: err}
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return &exitCode{code: code}
			}
			// The daemon removes the file before it answers, so success here means the
			// kernel really stopped.
			if _, err := os.Stat(cf.Path); err == nil {
				return fmt.Errorf("the daemon said %s stopped but its connection file %s "+
					"is still there", cf.Name, cf.Path)
			}
			return nil
		},
	}
}

func newKernelPruneCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "prune",
		Short: "Remove connection files whose kernel no longer runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows, errs := a.checkAll()
			removed := 0
			for _, r := range rows {
				if r.State != "stale" {
					continue
				}
				if err := os.Remove(r.File); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("remove %s: %w", r.File, err)
				}
				fmt.Fprintf(a.stdout, "removed %s (%s: %s)\n", r.File, r.Name, r.Problem)
				removed++
			}
			for _, err := range errs {
				fmt.Fprintln(a.stderr, "stratd: not touching", err)
			}
			fmt.Fprintf(a.stdout, "%d stale connection file(s) removed\n", removed)
			return nil
		},
	}
}
