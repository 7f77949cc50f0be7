package kernel

// TODO(lead): being replaced by the real implementation; signatures are fixed.

import (
	"context"

	"charm.land/log/v2"
	"github.com/stratd/stratd/strategy"
)

// Options configures a kernel.
type Options struct {
	StateDir string      // folder for the journal; "" keeps the transcript in memory only
	Logger   *log.Logger // may be nil
}

// Kernel is one running strategy with its transcript.
type Kernel struct{}

// ExecResult is what one input produced.
type ExecResult struct {
	Entries []Entry // the input's output entries (result, stdout, error, log, order...)
	Failed  bool    // the input raised an error or was interrupted
}

// New builds a kernel for cfg; Start runs its loop.
func New(cfg *strategy.Config, opts Options) (*Kernel, error) { panic("todo") }

// Name is the kernel's name.
func (k *Kernel) Name() string { panic("todo") }

// Config is the config the kernel was started from.
func (k *Kernel) Config() *strategy.Config { panic("todo") }

// Attach records p as attached (via "ssh", "local" or "web") and returns a Client.
func (k *Kernel) Attach(p Person, via string) Client { panic("todo") }

// Exec runs code for p and waits for its output. If ctx ends first the input still
// runs and its output still lands in the transcript.
func (k *Kernel) Exec(ctx context.Context, p Person, code string) (ExecResult, error) {
	panic("todo")
}

// Interrupt stops the running input on behalf of by; false if nothing was running.
func (k *Kernel) Interrupt(by Person) bool { panic("todo") }

// Subscribe returns the transcript after since, then the live stream.
func (k *Kernel) Subscribe(since uint64) Subscriber { panic("todo") }

// History returns the last n entries held in memory (all of them when n <= 0).
func (k *Kernel) History(n int) []Entry { panic("todo") }

// Status returns the current status.
func (k *Kernel) Status() Status { panic("todo") }

// Who lists the people attached now.
func (k *Kernel) Who() []Attachment { panic("todo") }

// Stop stops the kernel (calling on_stop) and waits until it has stopped.
func (k *Kernel) Stop(by string) { panic("todo") }

// Done is closed once the kernel has stopped.
func (k *Kernel) Done() <-chan struct{} { panic("todo") }

// RegistryOptions configures a Registry.
type RegistryOptions struct {
	Home    string // $STRATD_HOME: connection files go to Home/kernels, state to Home/state
	Addr    string // the SSH address written into connection files
	HostKey string // the daemon's host key in authorized_keys form
	Version string
	Logger  *log.Logger
}

// Registry holds the kernels of one daemon.
type Registry struct{}

// NewRegistry returns an empty registry.
func NewRegistry(opts RegistryOptions) *Registry { panic("todo") }

// Start loads the config at path and starts its kernel; the name must be unused.
func (r *Registry) Start(path string) (*Kernel, error) { panic("todo") }

// Get finds a running kernel by name; the error lists the running ones.
func (r *Registry) Get(name string) (*Kernel, error) { panic("todo") }

// List returns the running kernels sorted by name.
func (r *Registry) List() []*Kernel { panic("todo") }

// Stop stops a kernel by name and removes its connection file.
func (r *Registry) Stop(name, by string) error { panic("todo") }

// Empty is closed when the last kernel of a registry that had kernels has stopped.
func (r *Registry) Empty() <-chan struct{} { panic("todo") }

// Close stops every kernel.
func (r *Registry) Close() { panic("todo") }
