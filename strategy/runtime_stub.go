package strategy

// TODO(agent A): replace this whole file with the real implementation, keeping
// these exported signatures.

import "time"

// Config is a loaded, validated strategy config.
type Config struct {
	Path        string // absolute path of the YAML file
	Name        string
	Description string
	Strategy    string // absolute path of the Starlark file
	Parameters  map[string]any
	Instruments []string
	Feed        FeedConfig
	Account     AccountConfig
	Kernel      KernelConfig
}

// FeedConfig says where bars come from.
type FeedConfig struct {
	Kind      string        // synthetic | csv
	Timeframe time.Duration // bar length in market time
	Interval  time.Duration // wall-clock time between bars; 0 = as fast as possible
	Seed      int64
	Path      string // csv: absolute path
}

// AccountConfig sets up the paper account.
type AccountConfig struct {
	Capital     float64
	FeeBps      float64
	SlippageBps float64
}

// KernelConfig tunes the kernel that runs this strategy.
type KernelConfig struct {
	History  int    // entries kept in memory for replay
	MaxSteps uint64 // Starlark steps allowed for one input or hook call
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) { panic("todo") }

// Runtime is one strategy instance: interpreter globals, ctx, feed and paper account.
type Runtime struct{}

// New compiles the strategy and runs its top level.
func New(cfg *Config, out Output) (*Runtime, error) { panic("todo") }

// Start calls on_start(ctx) if the script defines it.
func (r *Runtime) Start() error { panic("todo") }

// Exec runs one REPL input on behalf of origin.
func (r *Runtime) Exec(origin, code string) (string, error) { panic("todo") }

// Step delivers the next bar time.
func (r *Runtime) Step() bool { panic("todo") }

// Stop calls on_stop(ctx) if defined.
func (r *Runtime) Stop() error { panic("todo") }

// Cancel stops the Starlark code running now, from any goroutine.
func (r *Runtime) Cancel(reason string) { panic("todo") }

// Complete returns completions for the identifier or ctx member being typed.
func (r *Runtime) Complete(text string) []string { panic("todo") }

// Snapshot returns the account and market state.
func (r *Runtime) Snapshot() Snapshot { panic("todo") }

// Interval is the wall-clock time between bars.
func (r *Runtime) Interval() time.Duration { panic("todo") }
