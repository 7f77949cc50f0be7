package tui

import (
	"sync"

	"github.com/stratd/stratd/kernel"
)

// Every session attached to a kernel draws the same things: each entry of the
// transcript, the side panel and the list of who is attached come out alike in
// each session as wide as another. With hundreds of sessions, drawing them once
// per session is most of what an update costs the daemon (the attached list alone
// grows with the sessions, so drawing it per session is quadratic). Sessions share
// them here instead.

// sharedCache holds what was drawn once for many sessions. What is made for a
// key is made under the lock, so the sessions asking at the same moment wait for
// the first instead of all drawing the same thing. Only the newest keys are
// kept: sessions ask for the same thing within moments of each other.
type sharedCache[K comparable, V any] struct {
	mu    sync.Mutex
	limit int
	items map[K]V
	order []K // oldest first
}

func newSharedCache[K comparable, V any](limit int) *sharedCache[K, V] {
	return &sharedCache[K, V]{limit: limit, items: map[K]V{}}
}

// get returns the value for k, made by build if no session made it yet. Values
// are shared: nobody may change them.
func (c *sharedCache[K, V]) get(k K, build func() V) V {
	return c.getWith(k, func(K) V { return build() })
}

// getWith is get with a maker that takes the key, so that callers on hot paths
// need no closure.
func (c *sharedCache[K, V]) getWith(k K, build func(K) V) V {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.items[k]; ok {
		return v
	}
	v := build(k)
	c.items[k] = v
	c.order = append(c.order, k)
	if len(c.order) > c.limit {
		drop := len(c.order) - c.limit/2
		for _, old := range c.order[:drop] {
			delete(c.items, old)
		}
		c.order = append(c.order[:0], c.order[drop:]...)
	}
	return v
}

// statusKey names one thing drawn from one status. kernel.Status.Version is
// unique in the process, so sessions of different kernels never mix theirs up.
type statusKey struct {
	version       uint64
	what          string
	width, height int
}

var statusParts = newSharedCache[statusKey, []string](256)

// sharedLines returns the lines build draws from st, made once for every session
// that shows st. A status from elsewhere (Version 0) is not shared.
func sharedLines(st *kernel.Status, what string, width, height int,
	build func() []string) []string {
	if st.Version == 0 {
		return build()
	}
	return statusParts.get(statusKey{st.Version, what, width, height}, build)
}

// entryKey names an entry drawn at a width by everything that tells entries
// apart, so that two kernels' entries with the same seq are not taken for each
// other: an entry's drawing depends on its kind, origin and text alone.
type entryKey struct {
	seq          uint64
	kind         kernel.Kind
	origin, text string
	width        int
}

// entryItems holds the items of the newest entries, so that the sessions that
// receive an entry share one item (see item). Sessions keep theirs however long
// they like: the cache only forgets them.
var entryItems = newSharedCache[entryKey, *item](8192)

// entryDrawings holds the newest entries drawn; a late joiner's replay draws
// only the screenful it shows.
var entryDrawings = newSharedCache[entryKey, *drawing](4096)

// sharedEntryLines returns the entry it drawn at width by build, made once for
// every session.
func sharedEntryLines(it *item, width int, build func() *drawing) *drawing {
	if it.seq == 0 {
		return build()
	}
	return entryDrawings.get(entryKey{it.seq, it.kind, it.origin, it.text, width}, build)
}

// rowKey names a row of the body with the panel open: a transcript line padded
// to width, the rule, a panel line. Sessions of one kernel at one width show the
// same rows, so they share the strings instead of each making its own for every
// frame.
type rowKey struct {
	left, right string
	width       int
}

var rows = newSharedCache[rowKey, string](8192)

// sharedRow returns the row k names, made once for every session.
func sharedRow(k rowKey) string { return rows.getWith(k, besides) }

// sharedHeaderKey names a header: everything it shows. The equity history is a
// session's own (it starts when the session does), so it is part of the key.
type sharedHeaderKey struct {
	version                         uint64
	width                           int
	readOnly, stopped, interrupting bool
	interrupted                     string
	equity                          uint64 // hash of the sparkline's values
	points                          int
}

var headers = newSharedCache[sharedHeaderKey, []string](1024)
