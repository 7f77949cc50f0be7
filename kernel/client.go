package kernel

import (
	"context"
	"errors"
	"time"

	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/strategy"
)

// Errors a Client returns.
var (
	// ErrReadOnly is returned when a viewer tries to run input or interrupt.
	ErrReadOnly = errors.New("read-only: viewers cannot run input; " +
		"ask an admin for the operator role")
	// ErrStopped is returned once the kernel has stopped.
	ErrStopped = errors.New("kernel stopped")
)

// Person is someone using a kernel. Name comes from their key, never from the SSH
// user name.
type Person struct {
	Name string
	Role keys.Role
}

// State is a kernel's lifecycle state.
type State string

// Kernel states.
const (
	StateStarting State = "starting"
	StateRunning  State = "running"
	StatePaused   State = "paused"
	StateStopped  State = "stopped"
)

// Attachment is one person attached to a kernel.
type Attachment struct {
	Name  string    `json:"name"`
	Role  string    `json:"role"`
	Since time.Time `json:"since"`
	Via   string    `json:"via"` // "ssh", "local", "web"
}

// Status is what a kernel publishes to its subscribers when it changes.
type Status struct {
	Name        string            `json:"name"`
	Strategy    string            `json:"strategy"`
	Description string            `json:"description,omitempty"`
	State       State             `json:"state"`
	Busy        bool              `json:"busy"` // an input is running
	Queued      int               `json:"queued"`
	Account     strategy.Snapshot `json:"account"`
	Attached    []Attachment      `json:"attached"`
	LastSeq     uint64            `json:"last_seq"`
	Started     time.Time         `json:"started"`

	// Version numbers the statuses published in this process, across all its
	// kernels: two statuses with the same non-zero Version are the same status, so
	// views can share what they draw from one. Zero for a status made elsewhere.
	Version uint64 `json:"-"`
}

// Update is what a subscriber receives: new entries in seq order, how many entries it
// missed because it fell behind the in-memory history, and the newest status if it
// changed since the last update.
type Update struct {
	Entries []Entry
	Missed  uint64
	Status  *Status
}

// Client is what a UI uses to talk to one kernel on behalf of one person. The TUI and
// the web front depend on this interface only, never on kernel internals.
type Client interface {
	// Person is who this client acts for.
	Person() Person
	// Exec queues code to run; its input entry and output reach every subscriber.
	Exec(code string) error
	// Interrupt stops the input running now, if any.
	Interrupt() error
	// Subscribe returns the entries after since, then the live stream.
	Subscribe(since uint64) Subscriber
	// Complete returns whole-line completions for text.
	Complete(ctx context.Context, text string) []string
	// Status returns the current status.
	Status() Status
	// Detach ends this client's attachment; the kernel keeps running.
	Detach()
}

// Subscriber delivers a kernel's transcript to one reader.
type Subscriber interface {
	// Next blocks until there is something new, ctx is done, or the kernel stopped
	// (ErrStopped, after every remaining entry has been delivered).
	Next(ctx context.Context) (Update, error)
	// Close releases the subscription.
	Close()
}
