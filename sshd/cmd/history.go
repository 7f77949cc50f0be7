package cmd

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
)

type historyOptions struct {
	last   int
	follow bool
	json   bool
}

func newHistoryCmd(env *Env) *cobra.Command {
	var opts historyOptions
	c := &cobra.Command{
		Use:   "history NAME",
		Short: "Print a kernel's transcript, as text or JSON lines",
		Long: "Print a kernel's transcript, as text or JSON lines (one entry per line).\n" +
			"With --follow, keep printing new entries until you disconnect or the\n" +
			"kernel stops.",
		Args: argsNamed([]string{"NAME"}),
		RunE: func(_ *cobra.Command, args []string) error {
			return runHistory(env, args[0], opts)
		},
	}
	c.Flags().IntVarP(&opts.last, "lines", "n", 0,
		"print only the last N entries (default: all held in memory)")
	c.Flags().BoolVarP(&opts.follow, "follow", "f", false, "keep printing new entries")
	c.Flags().BoolVar(&opts.json, "json", false, "print one JSON object per line")
	return c
}

func runHistory(env *Env, name string, opts historyOptions) error {
	if opts.last < 0 {
		return usageErr("history: -n must be 0 (all) or more, not %d", opts.last)
	}
	k, err := FindKernel(env.Registry, name)
	if err != nil {
		return err
	}

	w := &transcriptWriter{env: env, json: opts.json}
	backlog := k.History(opts.last)
	for _, e := range backlog {
		if err := w.entry(e); err != nil {
			return failErr("write: %w", err)
		}
	}
	if !opts.follow {
		return nil
	}

	// Subscribe from the last entry printed: the kernel hands over everything after
	// it and then the live stream, so nothing is lost or printed twice.
	var since uint64
	if len(backlog) > 0 {
		since = backlog[len(backlog)-1].Seq
	}
	return follow(env, k, since, w)
}

func follow(env *Env, k *kernel.Kernel, since uint64, w *transcriptWriter) error {
	sub := k.Subscribe(since)
	defer sub.Close()

	last := since
	for {
		u, err := sub.Next(env.Ctx)
		switch {
		case errors.Is(err, kernel.ErrStopped):
			fmt.Fprintf(env.Stderr, "kernel %s stopped\n", k.Name())
			return nil
		case err != nil && env.Ctx.Err() != nil:
			return nil // the client went away
		case err != nil:
			return failErr("follow %s: %w", k.Name(), err)
		}

		if u.Missed > 0 {
			if err := w.missed(u.Missed); err != nil {
				return nil
			}
		}
		for _, e := range u.Entries {
			if e.Seq <= last {
				continue
			}
			last = e.Seq
			if err := w.entry(e); err != nil {
				return nil // the client went away
			}
		}
	}
}

// transcriptWriter prints entries as text lines or JSON lines.
type transcriptWriter struct {
	env  *Env
	json bool
}

func (w *transcriptWriter) entry(e kernel.Entry) error {
	if w.json {
		return json.NewEncoder(w.env.Stdout).Encode(e)
	}
	_, err := fmt.Fprintln(w.env.Stdout, e.String())
	return err
}

// missed says that n entries were skipped because this reader fell behind. In
// JSON mode it is an object with only a "missed" field.
func (w *transcriptWriter) missed(n uint64) error {
	if w.json {
		return json.NewEncoder(w.env.Stdout).Encode(struct {
			Missed uint64 `json:"missed"`
		}{n})
	}
	_, err := fmt.Fprintf(w.env.Stdout, "... %d entries missed: this reader fell behind\n", n)
	return err
}
