package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"charm.land/log/v2"
	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
	"github.com/stratd/stratd/web"
)

// shutdownGrace is how long sessions get to finish when the daemon stops, before
// their connections are closed.
const shutdownGrace = time.Second

// daemon is a registry of kernels served over SSH.
type daemon struct {
	log   *log.Logger
	store *keys.Store
	reg   *kernel.Registry
	srv   *sshd.Server
	addr  net.Addr
	errc  chan error  // the SSH server's end
	web   *web.Server // the browser terminal, with --web; see web.go

	signalled context.Context // done on SIGINT or SIGTERM
	stopSig   context.CancelFunc
}

// startDaemon opens the keys, listens on listen and serves SSH. Kernels are added
// with d.reg.Start once the address is known, so their connection files carry it.
func (a *app) startDaemon(listen string) (*daemon, error) {
	// Catch signals before anything is printed: whoever reads our output may signal
	// us as soon as they see it.
	sigCtx, stopSig := signal.NotifyContext(context.Background(), os.Interrupt,
		syscall.SIGTERM)
	d, err := a.openDaemon(listen)
	if err != nil {
		stopSig()
		return nil, err
	}
	d.signalled, d.stopSig = sigCtx, stopSig
	return d, nil
}

func (a *app) openDaemon(listen string) (*daemon, error) {
	tuneGC()
	logger := a.logger()
	store, err := keys.Ensure(a.home, logger.WithPrefix("keys"))
	if err != nil {
		return nil, err
	}
	reg := kernel.NewRegistry(kernel.RegistryOptions{
		Home:    a.home,
		HostKey: store.HostKeyLine(),
		Version: version,
		Logger:  logger.WithPrefix("kernel"),
	})
	srv, err := sshd.New(sshd.Config{
		Addr:       listen,
		HostSigner: store.HostSigner(),
		Auth:       store,
		Registry:   reg,
		Logger:     logger,
		UI:         sshUI,
		Picker:     sshPicker,
		Version:    version,
		Keys:       store,
		Limits:     daemonLimits(),
	})
	if err != nil {
		return nil, err
	}
	addr, err := srv.Listen()
	if err != nil {
		return nil, err
	}
	logger.Info("host key", "fingerprint", keys.Fingerprint(store.HostSigner().PublicKey()),
		"path", filepath.Join(store.Home(), keys.HostKeyFile))
	warnIfExposed(logger, addr, store)
	reg.SetAddr(addr.String())
	d := &daemon{log: logger, store: store, reg: reg, srv: srv, addr: addr,
		errc: make(chan error, 1)}
	go func() { d.errc <- srv.Serve() }()
	return d, nil
}

// daemonGCPercent is the daemon's GOGC unless the environment sets one. A daemon
// drawing for hundreds of terminals keeps a small heap (tens of MB) and makes a
// little garbage for every frame of every session; at Go's default of 100 it
// collected about once a second at 500 sessions, and the prints that met a
// collection were the slowest to reach every screen (BENCHMARKS.md). At 300 it
// collects a third as often for ~75 KiB more per idle session.
const daemonGCPercent = 300

// tuneGC sets the daemon's GC percentage, leaving an explicit GOGC alone.
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(daemonGCPercent)
	}
}

// wait blocks until a signal, the server failing, or (when untilEmpty) the last
// kernel stopping; then it stops every kernel and the server.
func (d *daemon) wait(untilEmpty bool) error {
	var empty <-chan struct{}
	if untilEmpty {
		empty = d.reg.Empty()
	}
	var err error
	select {
	case <-d.signalled.Done():
		d.log.Info("signal received, stopping kernels")
	case <-empty:
		d.log.Info("last kernel stopped, daemon exiting")
	case err = <-d.errc:
		d.log.Error("ssh server failed", "err", err)
	}
	d.close()
	return err
}

func (d *daemon) close() {
	defer d.stopSig()
	d.reg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil {
		d.log.Warn("ssh server shutdown", "err", err)
	}
	if d.web != nil {
		wctx, wcancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer wcancel()
		if err := d.web.Shutdown(wctx); err != nil {
			d.log.Warn("web server shutdown", "err", err)
		}
	}
}

func newServeCmd(a *app) *cobra.Command {
	var listen, webAddr string
	cmd := &cobra.Command{
		Use:   "serve [CONFIG…]",
		Short: "Run the multi-kernel daemon, one kernel per config",
		Long: "Run the daemon: one kernel per CONFIG, all served over SSH on --listen. " +
			"More kernels can be started over SSH (`kernel start CONFIG`). Runs until " +
			"SIGINT or SIGTERM, then stops every kernel and removes their connection files.",
		RunE: func(cmd *cobra.Command, configs []string) error {
			d, err := a.startDaemon(listen)
			if err != nil {
				return err
			}
			if err := d.startWeb(a, webAddr); err != nil {
				d.close()
				return err
			}
			failed := 0
			for _, path := range configs {
				k, err := d.reg.Start(path)
				if err != nil {
					failed++
					d.log.Error("kernel not started", "config", path, "err", err)
					fmt.Fprintf(a.stderr, "stratd: %s:\n%v\n", path, err)
					continue
				}
				d.log.Info("kernel running", "kernel", k.Name(), "conn", d.reg.ConnFile(k.Name()))
			}
			if len(configs) > 0 && failed == len(configs) {
				d.close()
				return &exitCode{code: exitError,
					err: errors.New("no kernel started: fix the configs above")}
			}
			fmt.Fprintf(a.stdout, "stratd serving %d kernel(s) on %s\n", len(d.reg.List()),
				d.addr)
			fmt.Fprintf(a.stdout, "  list:   ssh -p %s %s kernel list\n", port(d.addr), host(d.addr))
			fmt.Fprintf(a.stdout, "  attach: ssh -p %s -t %s\n", port(d.addr), host(d.addr))
			d.printHostKey(a.stdout, "  ")
			d.printWebHint(a.stdout, 8)
			return d.wait(false)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:2222", "SSH listen address")
	addLimitFlags(cmd)
	cmd.Flags().StringVar(&webAddr, "web", "", "also serve the browser terminal on this "+
		"address (e.g. 127.0.0.1:8080; port 0 picks one)")
	return cmd
}

// limitFlags holds the abuse-limit flags of serve and run. Building a command tree
// binds them, which also resets them to their defaults.
var limitFlags struct {
	sessionsPerKey int
	connsPerMinute int
}

// addLimitFlags adds the abuse-limit flags to a daemon command.
func addLimitFlags(cmd *cobra.Command) {
	cmd.Flags().IntVar(&limitFlags.sessionsPerKey, "max-sessions-per-key",
		sshd.DefaultSessionsPerKey, "SSH sessions one key may have open at once (0: no cap)")
	cmd.Flags().IntVar(&limitFlags.connsPerMinute, "max-connections-per-minute", 600,
		"new SSH connections one address may open per minute, a tenth of them at once "+
			"(0: no limit)")
}

// daemonLimits are the SSH server's limits as the flags set them.
func daemonLimits() sshd.Limits {
	var l sshd.Limits
	l.SessionsPerKey = limitFlags.sessionsPerKey
	if l.SessionsPerKey <= 0 {
		l.SessionsPerKey = -1 // sshd: no cap
	}
	if n := limitFlags.connsPerMinute; n > 0 {
		l.Conns = sshd.Rate{Burst: max(1, n/10), Every: time.Minute / time.Duration(n)}
	} else {
		l.Conns = sshd.Rate{Burst: -1} // sshd: no limit
	}
	return l
}

// warnIfExposed warns when the daemon listens beyond this machine, naming how many
// keys hold each role and who the admins are: anyone who can reach the port may
// then try to log in, and these people may run code in the kernels.
func warnIfExposed(lg *log.Logger, addr net.Addr, store *keys.Store) {
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		return
	}
	list, _ := store.List()
	counts := keys.CountRoles(list)
	var admins []string
	for _, k := range list {
		if k.Role == keys.Admin {
			admins = append(admins, k.Name)
		}
	}
	lg.Warn("listening beyond loopback: anyone who can reach this port may try to log "+
		"in; these roles are in force (stratd keys list)", "addr", addr,
		"admin", counts[keys.Admin], "operator", counts[keys.Operator],
		"viewer", counts[keys.Viewer], "admins", strings.Join(admins, ", "))
}

// printHostKey prints the daemon's host key fingerprint, and the line that makes
// OpenSSH trust it: stratd's own commands check it against the connection file.
func (d *daemon) printHostKey(w io.Writer, indent string) {
	pub := d.store.HostSigner().PublicKey()
	fmt.Fprintf(w, "%shost key: %s\n", indent, keys.Fingerprint(pub))
	known := "[" + host(d.addr) + "]:" + port(d.addr)
	fmt.Fprintf(w, "%strust:    echo %s >> ~/.ssh/known_hosts\n", indent,
		shellQuote(known+" "+d.store.HostKeyLine()))
}

func host(addr net.Addr) string {
	h, _, _ := net.SplitHostPort(addr.String())
	return h
}

func port(addr net.Addr) string {
	_, p, _ := net.SplitHostPort(addr.String())
	return p
}
