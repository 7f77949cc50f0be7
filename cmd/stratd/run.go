package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/strategy"
)

func newRunCmd(a *app) *cobra.Command {
	var (
		kernelOnly bool
		listen     string
		webAddr    string
	)
	cmd := &cobra.Command{
		Use:   "run CONFIG",
		Short: "Run a strategy: with the REPL in this terminal, or as a daemon",
		Long: "Run the strategy of CONFIG in a kernel. By default the REPL UI runs in this " +
			"terminal and the kernel ends when you quit it; --listen also serves SSH so " +
			"others can join. With --kernel-only it runs as a daemon: SSH on --listen " +
			"(a free loopback port by default), a connection file, and no UI, until " +
			"SIGINT/SIGTERM or `stratd kernel stop`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// Check the config before opening anything, so a typo fails fast.
			cfg, err := strategy.LoadConfig(args[0])
			if err != nil {
				return &exitCode{code: exitError, err: err}
			}
			if webAddr != "" && !kernelOnly {
				return usageError("--web needs --kernel-only: the browser terminal is " +
					"served by the daemon")
			}
			if kernelOnly {
				if listen == "" {
					listen = "127.0.0.1:0"
				}
				return a.runKernelOnly(cfg, listen, webAddr)
			}
			return a.runInteractive(cfg, listen)
		},
	}
	cmd.Flags().BoolVar(&kernelOnly, "kernel-only", false,
		"run as a daemon: no UI, SSH and a connection file")
	cmd.Flags().StringVar(&listen, "listen", "",
		"also serve SSH on this address (default with --kernel-only: 127.0.0.1:0)")
	addLimitFlags(cmd)
	cmd.Flags().StringVar(&webAddr, "web", "", "with --kernel-only, also serve the "+
		"browser terminal on this address (e.g. 127.0.0.1:8080; port 0 picks one)")
	return cmd
}

func (a *app) runKernelOnly(cfg *strategy.Config, listen, webAddr string) error {
	d, err := a.startDaemon(listen)
	if err != nil {
		return err
	}
	if err := d.startWeb(a, webAddr); err != nil {
		d.close()
		return err
	}
	k, err := d.reg.Start(cfg.Path)
	if err != nil {
		d.close()
		return &exitCode{code: exitError, err: err}
	}
	a.printHints(k, d)
	d.printWebHint(a.stdout, 9)
	return d.wait(true)
}

// printHints tells the person how to reach the kernel; every line works as printed.
func (a *app) printHints(k *kernel.Kernel, d *daemon) {
	home := ""
	if a.home != defaultHome() {
		home = " --home " + shellQuote(a.home)
	}
	name := k.Name()
	self := selfCommand()
	w := a.stdout
	fmt.Fprintf(w, "Kernel %s is running (strategy %s), SSH on %s\n", name,
		k.Status().Strategy, d.addr)
	fmt.Fprintf(w, "Connection file: %s\n", d.reg.ConnFile(name))
	fmt.Fprintf(w, "  attach:  %s connect%s %s\n", self, home, name)
	// The client key is always authorized; keys of ~/.ssh are only when they were
	// there on first start, so name the key that surely works.
	fmt.Fprintf(w, "  ssh:     ssh -i %s -p %s -t %s attach %s\n",
		shellQuote(filepath.Join(a.home, keys.ClientKeyFile)), port(d.addr), host(d.addr), name)
	fmt.Fprintf(w, "  run:     %s exec%s %s 'portfolio()'\n", self, home, name)
	fmt.Fprintf(w, "  list:    %s kernel list%s\n", self, home)
	fmt.Fprintf(w, "  stop:    %s kernel stop%s %s\n", self, home, name)
	d.printHostKey(w, "  ")
}

// selfCommand is how to run this very binary from a shell: "stratd" when that is
// what the PATH finds, else its absolute path (as under `go run`, whose binary lives
// as long as the daemon does), so the hints work as printed.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "stratd"
	}
	if onPath, err := exec.LookPath("stratd"); err == nil {
		a, errA := filepath.EvalSymlinks(exe)
		b, errB := filepath.EvalSymlinks(onPath)
		if errA == nil && errB == nil && a == b {
			return "stratd"
		}
	}
	return shellQuote(exe)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("/._-+=:@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
