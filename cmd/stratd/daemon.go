package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"charm.land/log/v2"
	"github.com/spf13/cobra"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd"
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
	errc  chan error // the SSH server's end

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
	})
	if err != nil {
		return nil, err
	}
	addr, err := srv.Listen()
	if err != nil {
		return nil, err
	}
	reg.SetAddr(addr.String())
	d := &daemon{log: logger, store: store, reg: reg, srv: srv, addr: addr,
		errc: make(chan error, 1)}
	go func() { d.errc <- srv.Serve() }()
	return d, nil
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
}

func newServeCmd(a *app) *cobra.Command {
	var listen string
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
			return d.wait(false)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:2222", "SSH listen address")
	return cmd
}

func host(addr net.Addr) string {
	h, _, _ := net.SplitHostPort(addr.String())
	return h
}

func port(addr net.Addr) string {
	_, p, _ := net.SplitHostPort(addr.String())
	return p
}
