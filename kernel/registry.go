package kernel

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"charm.land/log/v2"
	"github.com/stratd/stratd/strategy"
)

// RegistryOptions configures a Registry.
type RegistryOptions struct {
	// Home is $STRATD_HOME: connection files go to Home/kernels, journals and account
	// snapshots to Home/state. Without it kernels keep them in memory only.
	Home    string
	Addr    string // the SSH address written into connection files; "" writes none
	HostKey string // the daemon's host key in authorized_keys form
	Version string
	Logger  *log.Logger
}

// Registry holds the kernels of one daemon, by name, and their connection files.
type Registry struct {
	opts RegistryOptions

	mu      sync.Mutex // protects the fields below
	kernels map[string]*entry
	had     bool
	empty   chan struct{}
}

type entry struct {
	k        *Kernel
	connFile string
}

// NewRegistry returns an empty registry.
func NewRegistry(opts RegistryOptions) *Registry {
	if opts.Logger == nil {
		opts.Logger = log.New(nilWriter{})
	}
	return &Registry{opts: opts, kernels: make(map[string]*entry), empty: make(chan struct{})}
}

// SetAddr sets the SSH address written into the connection files of kernels started
// from now on; the daemon knows it only once its listener is open.
func (r *Registry) SetAddr(addr string) {
	r.mu.Lock()
	r.opts.Addr = addr
	r.mu.Unlock()
}

// Start loads the config at path and starts its kernel; the name must be unused.
func (r *Registry) Start(path string) (*Kernel, error) {
	cfg, err := strategy.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if _, taken := r.kernels[cfg.Name]; taken {
		r.mu.Unlock()
		return nil, fmt.Errorf("kernel %q is already running: stop it first or give the "+
			"config another name", cfg.Name)
	}
	// Hold the name while the kernel starts, so two starts cannot race for it.
	r.kernels[cfg.Name] = &entry{}
	r.mu.Unlock()

	state := ""
	if r.opts.Home != "" {
		state = StateDir(r.opts.Home, cfg.Name)
	}
	k, err := New(cfg, Options{StateDir: state, Logger: r.opts.Logger})
	if err != nil {
		r.mu.Lock()
		delete(r.kernels, cfg.Name)
		r.mu.Unlock()
		return nil, err
	}
	e := &entry{k: k}
	r.mu.Lock()
	addr := r.opts.Addr
	r.mu.Unlock()
	if addr != "" && r.opts.Home != "" {
		e.connFile, err = WriteConnFile(r.opts.Home, ConnFile{
			Name:     cfg.Name,
			Strategy: baseName(cfg.Strategy),
			Addr:     addr,
			HostKey:  r.opts.HostKey,
			PID:      os.Getpid(),
			Started:  k.Started(),
			Config:   cfg.Path,
			Version:  r.opts.Version,
		})
		if err != nil {
			k.Stop("stratd (connection file failed)")
			r.mu.Lock()
			delete(r.kernels, cfg.Name)
			r.mu.Unlock()
			return nil, err
		}
		r.opts.Logger.Info("connection file written", "kernel", cfg.Name, "path", e.connFile)
	}
	r.mu.Lock()
	r.kernels[cfg.Name] = e
	r.had = true
	r.mu.Unlock()
	return k, nil
}

// Get finds a running kernel by name; the error lists the running ones.
func (r *Registry) Get(name string) (*Kernel, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.kernels[name]; ok && e.k != nil {
		return e.k, nil
	}
	return nil, r.notFoundLocked(name)
}

// ErrNotFound is wrapped by the errors of lookups for a kernel that is not running.
var ErrNotFound = errors.New("kernel not found")

func (r *Registry) notFoundLocked(name string) error {
	names := r.namesLocked()
	if len(names) == 0 {
		return fmt.Errorf("%w: kernel %q not found; no kernels are running", ErrNotFound, name)
	}
	return fmt.Errorf("%w: kernel %q not found; running: %s", ErrNotFound, name,
		strings.Join(names, ", "))
}

func (r *Registry) namesLocked() []string {
	var names []string
	for n, e := range r.kernels {
		if e.k != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// ConnFile returns the path of a running kernel's connection file, or "".
func (r *Registry) ConnFile(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.kernels[name]; ok {
		return e.connFile
	}
	return ""
}

// List returns the running kernels sorted by name.
func (r *Registry) List() []*Kernel {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Kernel
	for _, n := range r.namesLocked() {
		out = append(out, r.kernels[n].k)
	}
	return out
}

// Stop stops a kernel by name, waits for it, and removes its connection file.
func (r *Registry) Stop(name, by string) error {
	r.mu.Lock()
	e, ok := r.kernels[name]
	if !ok || e.k == nil {
		err := r.notFoundLocked(name)
		r.mu.Unlock()
		return err
	}
	delete(r.kernels, name)
	r.mu.Unlock()

	r.stop(e, by)

	r.mu.Lock()
	if len(r.kernels) == 0 && r.had {
		select {
		case <-r.empty:
		default:
			close(r.empty)
		}
	}
	r.mu.Unlock()
	return nil
}

func (r *Registry) stop(e *entry, by string) {
	e.k.Stop(by)
	if e.connFile != "" {
		if err := os.Remove(e.connFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			r.opts.Logger.Warn("remove connection file", "path", e.connFile, "err", err)
		}
	}
}

// Empty is closed when the last kernel of a registry that had kernels has been
// stopped with Stop.
func (r *Registry) Empty() <-chan struct{} { return r.empty }

// Close stops every kernel and removes their connection files.
func (r *Registry) Close() {
	r.mu.Lock()
	var all []*entry
	for n, e := range r.kernels {
		if e.k != nil {
			all = append(all, e)
			delete(r.kernels, n)
		}
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range all {
		wg.Go(func() { r.stop(e, "stratd (daemon shutting down)") })
	}
	wg.Wait()
}
