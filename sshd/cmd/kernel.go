package cmd

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
)

func newKernelCmd(env *Env) *cobra.Command {
	c := &cobra.Command{
		Use:   "kernel",
		Short: "List, start, stop, restart, interrupt, pause or resume kernels",
		RunE:  parentCmd,
	}
	c.AddCommand(
		newKernelListCmd(env),
		newKernelStartCmd(env),
		newKernelStopCmd(env),
		newKernelRestartCmd(env),
		newKernelInterruptCmd(env),
		newKernelPauseCmd(env, true),
		newKernelPauseCmd(env, false),
	)
	return c
}

// kernelInfo is one kernel as `kernel list --json` prints it.
type kernelInfo struct {
	Name        string       `json:"name"`
	Strategy    string       `json:"strategy"`
	Description string       `json:"description,omitempty"`
	State       kernel.State `json:"state"`
	Busy        bool         `json:"busy"`
	MarketTime  *time.Time   `json:"market_time,omitempty"`
	Equity      float64      `json:"equity"`
	PnL         float64      `json:"pnl"`
	Attached    int          `json:"attached"`
	Started     time.Time    `json:"started"`
	Config      string       `json:"config"`
	Addr        string       `json:"addr,omitempty"`
}

func newKernelListCmd(env *Env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the running kernels",
		Args:  argsNamed(nil),
		RunE: func(*cobra.Command, []string) error {
			infos := listKernels(env)
			if asJSON {
				return writeJSON(env, infos)
			}
			return writeKernelTable(env, infos)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return c
}

func listKernels(env *Env) []kernelInfo {
	infos := []kernelInfo{}
	for _, k := range env.Registry.List() {
		st := k.Status()
		info := kernelInfo{
			Name:        st.Name,
			Strategy:    st.Strategy,
			Description: st.Description,
			State:       st.State,
			Busy:        st.Busy,
			Equity:      st.Account.Equity,
			PnL:         st.Account.PnL,
			Attached:    len(k.Who()), // the status may lag a little behind
			Started:     st.Started,
			Addr:        env.Addr,
		}
		if t := st.Account.MarketTime; !t.IsZero() {
			info.MarketTime = &t
		}
		if cfg := k.Config(); cfg != nil {
			info.Config = cfg.Path
		}
		infos = append(infos, info)
	}
	return infos
}

func writeJSON(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return failErr("write: %w", err)
	}
	return nil
}

func writeKernelTable(env *Env, infos []kernelInfo) error {
	if len(infos) == 0 {
		_, err := fmt.Fprintln(env.Stdout,
			"no kernels running; start one with `kernel start CONFIG`")
		return writeErr(err)
	}

	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTRATEGY\tSTATE\tMARKET TIME\tEQUITY\tPNL\tATTACHED\tSINCE")
	for _, in := range infos {
		market := "-"
		if in.MarketTime != nil {
			market = in.MarketTime.UTC().Format("2006-01-02 15:04")
		}
		state := string(in.State)
		if in.Busy {
			state += " (busy)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%+.2f\t%d\t%s\n",
			in.Name, in.Strategy, state, market, in.Equity, in.PnL, in.Attached,
			since(in.Started))
	}
	return writeErr(tw.Flush())
}

// since says how long ago t was, to the second.
func since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

// writeErr turns a failed write to the client into exit status 1.
func writeErr(err error) error {
	if err != nil {
		return failErr("write: %w", err)
	}
	return nil
}

func newKernelStartCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "start CONFIG",
		Short: "Start a kernel from a config file on the daemon's host",
		Long: "Start a kernel from a config file on the daemon's host. A relative\n" +
			"path is relative to the folder the daemon was started in.",
		Args: argsNamed([]string{"CONFIG"}),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := env.Registry.Start(args[0])
			if err != nil {
				env.Log.Warn("kernel start failed", "config", args[0], "err", err)
				return failErr("start kernel from %s: %w", args[0], err)
			}
			env.Log.Info("kernel start", "kernel", k.Name(), "config", args[0])
			_, err = fmt.Fprintf(env.Stdout, "started %s\n", k.Name())
			return writeErr(err)
		},
	}
}

func newKernelStopCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a kernel (calling its on_stop) for everyone",
		Args:  argsNamed([]string{"NAME"}),
		RunE: func(_ *cobra.Command, args []string) error {
			name := args[0]
			if _, err := FindKernel(env.Registry, name); err != nil {
				return err
			}
			if err := env.Registry.Stop(name, env.Person.Name); err != nil {
				env.Log.Warn("kernel stop failed", "kernel", name, "err", err)
				return failErr("stop kernel %s: %w", name, err)
			}
			env.Log.Info("kernel stop", "kernel", name)
			_, err := fmt.Fprintf(env.Stdout, "stopped %s\n", name)
			return writeErr(err)
		},
	}
}

func newKernelRestartCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart a kernel with a fresh interpreter, keeping its transcript",
		Long: "Restart a kernel: load its config again and build a fresh interpreter and\n" +
			"strategy; the transcript stays. If the new strategy does not load, the old\n" +
			"one keeps running and restart fails.",
		Args: argsNamed([]string{"NAME"}),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := FindKernel(env.Registry, args[0])
			if err != nil {
				return err
			}
			if err := k.Restart(env.Person.Name); err != nil {
				env.Log.Warn("kernel restart failed", "kernel", k.Name(), "err", err)
				return failErr("restart kernel %s: %w", k.Name(), err)
			}
			env.Log.Info("kernel restart", "kernel", k.Name())
			_, err = fmt.Fprintf(env.Stdout, "restarted %s\n", k.Name())
			return writeErr(err)
		},
	}
}

func newKernelInterruptCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "interrupt NAME",
		Short: "Interrupt the input running in a kernel",
		Args:  argsNamed([]string{"NAME"}),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := FindKernel(env.Registry, args[0])
			if err != nil {
				return err
			}
			msg := "interrupted the running input in " + k.Name()
			interrupted := k.Interrupt(env.Person)
			if !interrupted {
				msg = "nothing was running in " + k.Name()
			}
			env.Log.Info("kernel interrupt", "kernel", k.Name(), "interrupted", interrupted)
			_, err = fmt.Fprintln(env.Stdout, msg)
			return writeErr(err)
		},
	}
}

// newKernelPauseCmd builds `kernel pause` (pause true) or `kernel resume`.
func newKernelPauseCmd(env *Env, pause bool) *cobra.Command {
	verb, done, short := "resume", "resumed", "Deliver market bars to a paused kernel again"
	if pause {
		verb, done, short = "pause", "paused", "Stop delivering market bars to a kernel"
	}
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  argsNamed([]string{"NAME"}),
		RunE: func(_ *cobra.Command, args []string) error {
			k, err := FindKernel(env.Registry, args[0])
			if err != nil {
				return err
			}
			set := k.Resume
			if pause {
				set = k.Pause
			}
			if err := set(env.Person.Name); err != nil {
				return failErr("%s kernel %s: %w", verb, k.Name(), err)
			}
			env.Log.Info("kernel "+verb, "kernel", k.Name())
			_, err = fmt.Fprintf(env.Stdout, "%s %s\n", done, k.Name())
			return writeErr(err)
		},
	}
}
