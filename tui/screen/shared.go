package screen

import (
	"hash/maphash"

	"github.com/charmbracelet/colorprofile"
	"github.com/stratd/stratd/tui/internal/memo"
)

// Many screens show the same frames: every session of one kernel at one size,
// scrolled to the bottom with nothing typed, draws the same lines one update
// after another. What turns one such frame into the next is then the same bytes
// for each of them, so the first screen to work them out leaves them here and
// the others write them as they are. A hash finds a candidate; the frames are
// compared line by line before it is used (lines shared between sessions are the
// same strings, which compare at once).

// diffKey names the change from one frame to another on a terminal of a profile.
type diffKey struct {
	from, to uint64
	profile  colorprofile.Profile
}

// diff is the bytes that turn from into to.
type diff struct {
	from, to *frame
	out      []byte
}

// diffs keeps the newest diffs: the screens of one update ask for theirs within
// moments of each other.
var diffs = diffCache{memo.New[diffKey, *diff](64)}

type diffCache struct{ m *memo.Cache[diffKey, *diff] }

// find returns the diff from old to f if a screen worked it out already.
func (c diffCache) find(k diffKey, old, f *frame) *diff {
	d, ok := c.m.Peek(k)
	if !ok || !sameFrame(d.from, old) || !sameFrame(d.to, f) ||
		d.from.width != old.width || d.from.height != old.height {
		return nil
	}
	return d
}

// add keeps out, the bytes that turn old into f. f must not change after this.
func (c diffCache) add(k diffKey, old, f *frame, out []byte) {
	c.m.Add(k, &diff{from: old, to: f, out: append([]byte(nil), out...)})
}

var frameSeed = maphash.MakeSeed()

// hash returns a hash of everything the frame shows, worked out once.
func (f *frame) hash() uint64 {
	if f.sum != 0 {
		return f.sum
	}
	var h maphash.Hash
	h.SetSeed(frameSeed)
	for _, line := range f.lines {
		h.WriteString(line)
		h.WriteByte('\n')
	}
	var b [8]byte
	for _, v := range []int{f.width, f.height, f.cursorX, f.cursorY, int(f.mouse),
		f.kittyFlags, flags(f.cursor, f.alt, f.paste, f.focus)} {
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		h.Write(b[:])
	}
	h.WriteString(f.title)
	f.sum = h.Sum64() | 1 // never 0
	return f.sum
}

func flags(bs ...bool) int {
	n := 0
	for i, b := range bs {
		if b {
			n |= 1 << i
		}
	}
	return n
}
