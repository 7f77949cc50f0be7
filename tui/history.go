package tui

// maxHistory bounds the inputs Up and Down can recall.
const maxHistory = 500

// history is one person's inputs, oldest first, and where Up/Down browsing is.
type history struct {
	items    []string
	pos      int // the item shown while browsing
	browsing bool
	draft    string // what was typed before browsing began, restored at the end
}

// add records an input just sent and stops browsing.
func (h *history) add(s string) {
	h.reset()
	if n := len(h.items); n > 0 && h.items[n-1] == s {
		return
	}
	h.items = append(h.items, s)
	h.trim()
}

// insertOlder records an input that happened before the newest n inputs: one seen
// in the transcript (typed in an earlier session) while n inputs sent here have
// not come back yet.
func (h *history) insertOlder(s string, n int) {
	i := max(0, len(h.items)-n)
	if i > 0 && h.items[i-1] == s {
		return
	}
	h.items = append(h.items[:i], append([]string{s}, h.items[i:]...)...)
	if h.browsing && h.pos >= i {
		h.pos++
	}
	h.trim()
}

func (h *history) trim() {
	if over := len(h.items) - maxHistory; over > 0 {
		h.items = append([]string(nil), h.items[over:]...)
		h.pos = max(0, h.pos-over)
	}
}

// prev steps back in time; current is what is typed now, kept as the draft when
// browsing starts. ok is false when there is nothing older.
func (h *history) prev(current string) (s string, ok bool) {
	if !h.browsing {
		if len(h.items) == 0 {
			return "", false
		}
		h.browsing, h.draft, h.pos = true, current, len(h.items)
	}
	if h.pos == 0 {
		return "", false
	}
	h.pos--
	return h.items[h.pos], true
}

// next steps forward in time, ending with the draft; ok is false when not browsing.
func (h *history) next() (s string, ok bool) {
	if !h.browsing {
		return "", false
	}
	h.pos++
	if h.pos >= len(h.items) {
		h.browsing = false
		return h.draft, true
	}
	return h.items[h.pos], true
}

// reset stops browsing, keeping what is shown.
func (h *history) reset() { h.browsing = false }
