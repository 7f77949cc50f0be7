package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd/client"
	gossh "golang.org/x/crypto/ssh"
)

// probeTimeout bounds every liveness check, so a dead or wedged daemon never hangs a
// command.
const probeTimeout = 4 * time.Second

// remoteKernel is one kernel as a daemon reports it in `kernel list --json`.
type remoteKernel struct {
	Name     string  `json:"name"`
	Strategy string  `json:"strategy"`
	State    string  `json:"state"`
	Equity   float64 `json:"equity"`
	PnL      float64 `json:"pnl"`
	Attached int     `json:"attached"`
}

// localUser is the SSH user name sent to daemons. Identity comes from the key, so the
// name is only a courtesy.
func localUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "stratd"
}

// clientKey loads the local client key, creating the home on first use.
func (a *app) clientKey() (*keys.Store, error) {
	return keys.Ensure(a.home, nil)
}

// dial connects to the daemon named by a connection file, checking its host key
// against the file's: a mismatch is refused before anything is sent.
func (a *app) dial(ctx context.Context, cf *kernel.ConnFile) (*gossh.Client, error) {
	store, err := a.clientKey()
	if err != nil {
		return nil, err
	}
	if pidGone(cf) {
		return nil, &staleError{cf: cf, why: fmt.Sprintf("its daemon (pid %d) is gone", cf.PID)}
	}
	c, err := client.Dial(ctx, client.Target{Addr: cf.Addr, HostKey: cf.HostKey},
		store.ClientSigner(), localUser())
	if errors.Is(err, client.ErrHostKeyMismatch) {
		return nil, fmt.Errorf("%w (connection file %s)", err, cf.Path)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// staleError says a connection file no longer leads to a running kernel.
type staleError struct {
	cf  *kernel.ConnFile
	why string
}

func (e *staleError) Error() string {
	return fmt.Sprintf("kernel %q is not running: %s (stale connection file %s); "+
		"remove stale files with `stratd kernel prune`", e.cf.Name, e.why, e.cf.Path)
}

// pidGone reports whether the connection file's daemon ran on this machine and its
// process no longer exists.
func pidGone(cf *kernel.ConnFile) bool {
	host, _, err := net.SplitHostPort(cf.Addr)
	if err != nil || cf.PID <= 0 {
		return false
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return false
	}
	err = syscall.Kill(cf.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}

// probe checks a connection file against its daemon: the kernel as the daemon sees
// it, or why the file is stale. Refused keys and other errors are not staleness: the
// daemon is there, we just cannot ask it.
func (a *app) probe(ctx context.Context, cf *kernel.ConnFile) (*remoteKernel, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	c, err := a.dial(ctx, cf)
	if err != nil {
		var se *staleError
		if errors.As(err, &se) {
			return nil, err
		}
		if errors.Is(err, client.ErrNoDaemon) {
			return nil, &staleError{cf: cf, why: "nothing answers at " + cf.Addr}
		}
		if errors.Is(err, client.ErrHostKeyMismatch) {
			return nil, &staleError{cf: cf, why: "the server at " + cf.Addr + " has " +
				"another host key: another server answers there, or one impersonating " +
				"the daemon"}
		}
		return nil, err
	}
	defer c.Close()

	var out, errb bytes.Buffer
	code, err := client.Run(ctx, c, "kernel list --json", nil, &out, &errb)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("daemon at %s: %s", cf.Addr, strings.TrimSpace(errb.String()))
	}
	var list []remoteKernel
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		return nil, fmt.Errorf("daemon at %s answered `kernel list --json` with "+
			"something else: %v", cf.Addr, err)
	}
	for _, k := range list {
		if k.Name == cf.Name {
			return &k, nil
		}
	}
	return nil, &staleError{cf: cf, why: "its daemon at " + cf.Addr + " no longer runs it"}
}

// findKernel resolves NAME|FILE to a connection file.
func (a *app) findKernel(ref string) (*kernel.ConnFile, error) {
	cf, err := kernel.FindConnFile(a.home, ref)
	if err != nil {
		return nil, &exitCode{code: exitUsage, err: err}
	}
	return cf, nil
}

// remote runs one SSH command against the daemon of ref and returns its exit status.
func (a *app) remote(ref, command string, stdin io.Reader) (int, error) {
	cf, err := a.findKernel(ref)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	c, err := a.dial(ctx, cf)
	cancel()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return client.Run(context.Background(), c, command, stdin, a.stdout, a.stderr)
}
