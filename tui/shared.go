package tui

import (
	"sync"
	"time"

	"github.com/stratd/stratd/kernel"
)

// Every session attached to a kernel draws the same things: each entry of the
// transcript, the side panel and the list of who is attached come out alike in
// each session as wide as another. With hundreds of sessions, drawing them once
// per session is most of what an update costs the daemon (the attached list alone
// grows with the sessions, so drawing it per session is quadratic). Sessions share
// them here instead.

// sharedCache holds lines drawn once for many sessions. What is made for a key is
// made under the lock, so the sessions asking at the same moment wait for the
// first instead of all drawing the same lines. Only the newest keys are kept:
// sessions ask for the same thing within moments of each other.
type sharedCache[K comparable] struct {
	mu    sync.Mutex
	limit int
	items map[K][]string
	order []K // oldest first
}

func newSharedCache[K comparable](limit int) *sharedCache[K] {
	return &sharedCache[K]{limit: limit, items: map[K][]string{}}
}

// get returns the lines for k, made by make if no session made them yet. The
// lines are shared: nobody may change them.
func (c *sharedCache[K]) get(k K, make func() []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if lines, ok := c.items[k]; ok {
		return lines
	}
	lines := make()
	c.items[k] = lines
	c.order = append(c.order, k)
	if len(c.order) > c.limit {
		drop := len(c.order) - c.limit/2
		for _, old := range c.order[:drop] {
			delete(c.items, old)
		}
		c.order = append(c.order[:0], c.order[drop:]...)
	}
	return lines
}

// statusKey names one thing drawn from one status. kernel.Status.Version is
// unique in the process, so sessions of different kernels never mix theirs up.
type statusKey struct {
	version       uint64
	what          string
	width, height int
}

var statusParts = newSharedCache[statusKey](256)

// sharedLines returns the lines make draws from st, made once for every session
// that shows st. A status from elsewhere (Version 0) is not shared.
func sharedLines(st *kernel.Status, what string, width, height int,
	make func() []string) []string {
	if st.Version == 0 {
		return make()
	}
	return statusParts.get(statusKey{st.Version, what, width, height}, make)
}

// entryKey names an entry drawn at a width: everything that tells entries apart,
// so that two kernels' entries with the same seq are not taken for each other.
type entryKey struct {
	seq          uint64
	time         time.Time
	kind         kernel.Kind
	origin, text string
	width        int
}

// entryLines holds the newest entries drawn; a late joiner's replay draws only
// the screenful it shows.
var entryLines = newSharedCache[entryKey](4096)

// sharedEntryLines returns e drawn at width by make, made once for every session.
func sharedEntryLines(e kernel.Entry, width int, make func() []string) []string {
	if e.Seq == 0 {
		return make()
	}
	return entryLines.get(entryKey{e.Seq, e.Time, e.Kind, e.Origin, e.Text, width}, make)
}
