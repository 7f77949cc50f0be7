package tui

import (
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/tui/internal/memo"
)

// Every session attached to a kernel draws the same things: each entry of the
// transcript, the side panel and the list of who is attached come out alike in
// each session as wide as another. With hundreds of sessions, drawing them once
// per session is most of what an update costs the daemon (the attached list alone
// grows with the sessions, so drawing it per session is quadratic). Sessions share
// them here instead, in memo caches that keep the newest.

// statusKey names one thing drawn from one status. kernel.Status.Version is
// unique in the process, so sessions of different kernels never mix theirs up.
type statusKey struct {
	version       uint64
	what          string
	width, height int
}

var statusParts = memo.New[statusKey, []string](256)

// sharedLines returns the lines build draws from st, made once for every session
// that shows st. A status from elsewhere (Version 0) is not shared.
func sharedLines(st *kernel.Status, what string, width, height int,
	build func() []string) []string {
	if st.Version == 0 {
		return build()
	}
	return statusParts.Get(statusKey{st.Version, what, width, height},
		func(statusKey) []string { return build() })
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
var entryItems = memo.New[entryKey, *item](8192)

// entryDrawings holds the newest entries drawn; a late joiner's replay draws
// only the screenful it shows.
var entryDrawings = memo.New[entryKey, *drawing](4096)

// sharedEntryLines returns the entry it drawn at width by build, made once for
// every session.
func sharedEntryLines(it *item, width int, build func() *drawing) *drawing {
	if it.seq == 0 {
		return build()
	}
	return entryDrawings.Get(entryKey{it.seq, it.kind, it.origin, it.text, width},
		func(entryKey) *drawing { return build() })
}

// rowKey names a row of the body with the panel open: a transcript line padded
// to width, the rule, a panel line. Sessions of one kernel at one width show the
// same rows, so they share the strings instead of each making its own for every
// frame.
type rowKey struct {
	left, right string
	width       int
}

var rows = memo.New[rowKey, string](8192)

// sharedRow returns the row k names, made once for every session.
func sharedRow(k rowKey) string { return rows.Get(k, besides) }

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

var headers = memo.New[sharedHeaderKey, []string](1024)
