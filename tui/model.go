// Package tui is stratd's terminal UI, built on Bubble Tea. The same models serve an
// SSH session (the wish bubbletea middleware gives the program the session as its
// terminal) and the local terminal of `stratd run`.
//
// A Model is the REPL of one person on one kernel: a header with the kernel's state
// and account, the shared transcript, an optional side panel with positions, orders
// and quotes, and an input line. A Picker lists several kernels and turns into the
// Model of the one picked.
//
// The UI talks to a kernel only through kernel.Client. It subscribes once and keeps
// a single read outstanding, so it never polls; every call that could wait on the
// kernel runs in a tea.Cmd, never in Update.
//
// A Model owns the client it is given: it closes its subscription and detaches
// exactly once, when the person presses Ctrl+D, when Close is called, or when
// Options.Context ends. Detaching never stops the kernel. Over SSH, with the wish
// bubbletea middleware, passing the session's context is enough:
//
//	func(sess ssh.Session) (tea.Model, []tea.ProgramOption) {
//		m := tui.New(client, tui.Options{Context: sess.Context(), Width: w, Height: h})
//		return m, []tea.ProgramOption{tea.WithoutSignalHandler()}
//	}
//
// Locally, run the program and call Close when it returns; Options.Owner tells the
// person that leaving stops the kernel, as it does for `stratd run`.
//
// The screen: a header (state, market time, equity and PnL, who is attached), the
// transcript (scrolled with PgUp/PgDn and the mouse wheel, cleared with Ctrl+L),
// the side panel (F2; open by default from widePanel columns), a completion list
// when Tab finds several, a hint line and the input. Keys are in input.go, layout
// and help in view.go.
package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
)

// readOnlyHint is shown to viewers in place of an input line.
const readOnlyHint = "read-only: you can watch but not type"

// Options configures a Model (and the Model a Picker makes).
type Options struct {
	// Width and Height are the terminal size to start with; 0 waits for the first
	// tea.WindowSizeMsg.
	Width, Height int

	// Context bounds the session: when it ends (an SSH session closes) the Model
	// releases its subscription and detaches. Nil means it never ends by itself.
	Context context.Context

	// MaxEntries is how many transcript entries the Model keeps on screen; older
	// ones are dropped from the view (the kernel keeps its own history). 0 means
	// 5000.
	MaxEntries int

	// Panel starts with the side panel (positions, orders, quotes) open at any
	// width. Without it the panel is open on terminals at least widePanel columns
	// wide. Either way the person's F2 wins from then on.
	Panel bool

	// Notes are lines of this session's own, shown under the replayed transcript:
	// how others can join, for example. They are never part of the kernel's
	// transcript.
	Notes []string

	// Owner says that leaving ends the kernel: the local terminal of `stratd run`
	// owns its kernel. The keys help and hints say "quit" rather than "detach", and
	// Ctrl+D asks again while other people are attached.
	Owner bool
}

// widePanel is the terminal width from which the side panel shows by default.
const widePanel = 120

// Model is the REPL of one person on one kernel. It implements tea.Model; build it
// with New.
type Model struct {
	link   *link
	person kernel.Person

	width, height int

	status       kernel.Status
	statusVer    int       // counts status changes, for the view's cache
	cache        viewCache // parts of the view kept from frame to frame
	streamStatus bool      // a status came from the stream: the one fetched at start is stale
	equity       []float64 // recent equity values for the sparkline
	lastSeq      uint64
	stopped      bool // the kernel has stopped: input is off
	quitting     bool // detaching

	tr    transcript
	ed    editor
	block []string // finished lines of a multi-line block being typed
	hist  history
	comp  *completion // Tab completions being shown, if any
	flash string      // a one-keystroke message in the hint line
	help  bool

	panelDefault bool // Options.Panel
	panelSet     bool // the person toggled the panel: panelOpen decides
	panelOpen    bool

	owner        bool     // leaving stops the kernel (Options.Owner)
	quitAsked    bool     // an owner pressed Ctrl+D once while others are attached
	notes        []string // Options.Notes, until the first update has been shown
	interrupted  string   // "interrupted by NAME" of a recent interrupt, shown in the header
	interruptN   int      // numbers interrupts so a stale clearing tick is ignored
	interrupting bool     // this session asked for an interrupt that has not landed yet

	outbox  []string // inputs waiting to be handed to the kernel, in order
	sending bool     // an Exec call is in flight
	echo    []string // inputs sent from here whose input entry has not arrived yet

	completeID int // numbers completion requests so stale answers are dropped
}

// New returns the REPL model for the person c acts for. The Model owns c from now
// on (see the package documentation). Run it with tea.NewProgram; after the program
// returns, call Close.
func New(c kernel.Client, opts Options) *Model {
	return &Model{
		link:   newLink(opts.Context, c),
		person: c.Person(),
		width:  opts.Width,
		height: opts.Height,
		tr:     transcript{max: opts.MaxEntries},

		panelDefault: opts.Panel,
		owner:        opts.Owner,
		notes:        append([]string(nil), opts.Notes...),
	}
}

// Close releases the subscription and detaches from the kernel, if that has not
// happened yet; the kernel keeps running. It is safe to call more than once and
// from any goroutine.
func (m *Model) Close() { m.link.shutdown() }

// Init subscribes to the kernel's transcript from the start of its kept history and
// fetches its status.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.link.subscribe(), m.link.fetchStatus())
}

// Update handles one message. It never blocks on the kernel.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		resized := m.width > 0 && (m.width != msg.Width || m.height != msg.Height)
		m.width, m.height = msg.Width, msg.Height
		if resized {
			return m, repaintAfterResize
		}
	case updateMsg:
		return m, m.onUpdate(msg)
	case statusMsg:
		if !m.streamStatus {
			m.setStatus(msg.status)
		}
	case execDoneMsg:
		return m, m.onExecDone(msg)
	case interruptDoneMsg:
		if msg.err != nil {
			m.interrupting = false
			m.note(noteInfo, "interrupt: "+msg.err.Error())
		}
	case interruptShownMsg:
		if msg.n == m.interruptN {
			m.interrupted = ""
		}
	case completeMsg:
		m.onComplete(msg)
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	case tea.PasteMsg:
		return m, m.onPaste(msg.Content)
	case tea.MouseWheelMsg:
		m.onWheel(msg)
	}
	return m, nil
}

// repaintAfterResize puts the whole screen back after the terminal changed size.
//
// Frames drawn for the old size can reach the terminal after it has changed size,
// over SSH most of all. Bubble Tea's renderer scrolls with a scroll region, and
// such a frame leaves the region set to the old height; the repaint for the new
// size then scrolls inside it and the screen stays torn, since the renderer
// believes it drew it right. So: reset the region, then repaint everything, in
// that order (raw output goes out before the next frame).
var repaintAfterResize = tea.Sequence(tea.Raw(ansi.SetTopBottomMargins(0, 0)),
	tea.ClearScreen)

// onUpdate applies one update from the subscription and issues the next read.
func (m *Model) onUpdate(msg updateMsg) tea.Cmd {
	if m.stopped {
		return nil
	}
	cmd := m.apply(msg.update)
	m.showNotes()

	switch {
	case msg.err == nil:
		return tea.Batch(cmd, m.link.read(msg.sub))
	case errors.Is(msg.err, kernel.ErrStopped):
		m.stopped = true
		m.interrupting = false
		m.block, m.comp, m.outbox = nil, nil, nil
		m.ed.set("")
		m.note(noteStopped, "kernel stopped")
	case m.link.ctx.Err() != nil:
		// Detached or closed: the read was cancelled on purpose.
	default:
		m.note(noteInfo, "transcript stream ended: "+msg.err.Error())
	}
	return cmd
}

// showNotes adds Options.Notes under the transcript replayed by the first update.
func (m *Model) showNotes() {
	for _, n := range m.notes {
		m.note(noteInfo, n)
	}
	m.notes = nil
}

// apply shows one update: its entries, then its status. The Cmd it may return
// clears the header's "interrupted" mark later.
func (m *Model) apply(u kernel.Update) tea.Cmd {
	if u.Missed > 0 {
		m.note(noteSkipped, fmt.Sprintf("… %d %s skipped (you fell behind)",
			u.Missed, plural(u.Missed, "entry", "entries")))
	}
	var cmd tea.Cmd
	width := m.layout().textW
	for _, e := range u.Entries {
		if e.Seq != 0 && e.Seq <= m.lastSeq {
			continue // never show an entry twice
		}
		m.lastSeq = max(m.lastSeq, e.Seq)
		m.tr.add(entryItem(e), width)
		switch {
		case e.Kind == kernel.KindInput:
			m.interrupted = ""
			if e.Origin == m.person.Name {
				m.sawOwnInput(e.Text)
			}
		case isInterrupt(e):
			m.interrupting = false
			if c := m.markInterrupted(e); c != nil {
				cmd = c
			}
		}
	}
	if u.Status != nil {
		m.streamStatus = true
		m.setStatus(*u.Status)
	}
	return cmd
}

// interruptShown is how long the header says an input was interrupted.
const interruptShown = 10 * time.Second

// interruptShownMsg ends the header's "interrupted" mark number n.
type interruptShownMsg struct{ n int }

// isInterrupt reports whether e says that an input was interrupted.
func isInterrupt(e kernel.Entry) bool {
	return e.Kind == kernel.KindError && strings.HasPrefix(e.Text, "interrupted by ")
}

// markInterrupted shows a recent interrupt in the header for a while; one replayed
// from long ago is only a transcript line.
func (m *Model) markInterrupted(e kernel.Entry) tea.Cmd {
	left := interruptShown - time.Since(e.Time)
	if left <= 0 {
		return nil
	}
	m.interrupted = sanitize(e.Text)
	m.interruptN++
	n := m.interruptN
	return tea.Tick(left, func(time.Time) tea.Msg { return interruptShownMsg{n} })
}

// onWheel scrolls the transcript with the mouse wheel, a few lines a notch.
func (m *Model) onWheel(msg tea.MouseWheelMsg) {
	const notch = 3
	l := m.layout()
	switch msg.Button {
	case tea.MouseWheelUp:
		m.tr.scroll(notch, l.textW, l.body)
	case tea.MouseWheelDown:
		m.tr.scroll(-notch, l.textW, l.body)
	}
}

// sawOwnInput keeps Up/Down in step with the transcript: an input sent from here
// is already in the history, and one from an earlier session is added to it.
func (m *Model) sawOwnInput(code string) {
	if len(m.echo) > 0 && m.echo[0] == code {
		m.echo = m.echo[1:]
		return
	}
	m.hist.insertOlder(code, len(m.echo))
}

func (m *Model) setStatus(st kernel.Status) {
	prev := m.status.Account
	m.status = st
	m.statusVer++
	if !st.Busy {
		m.interrupting = false
	}
	acct := st.Account
	if acct.Equity == 0 && acct.MarketTime.IsZero() {
		return // no account yet
	}
	if len(m.equity) == 0 || acct.Equity != prev.Equity ||
		!acct.MarketTime.Equal(prev.MarketTime) {
		m.equity = append(m.equity, acct.Equity)
		if over := len(m.equity) - sparkLen; over > 0 {
			m.equity = append(m.equity[:0], m.equity[over:]...)
		}
	}
}

func (m *Model) onExecDone(msg execDoneMsg) tea.Cmd {
	m.sending = false
	if msg.err != nil {
		for i, code := range m.echo {
			if code == msg.code {
				m.echo = append(m.echo[:i], m.echo[i+1:]...)
				break
			}
		}
		text := msg.err.Error()
		if !errors.Is(msg.err, kernel.ErrReadOnly) && !errors.Is(msg.err, kernel.ErrStopped) {
			text = "could not run input: " + text
		}
		m.note(noteInfo, text)
	}
	return m.sendNext()
}

// queueExec sends code to the kernel after any inputs still waiting. One Exec call
// is in flight at a time so inputs reach the kernel in the order they were typed.
func (m *Model) queueExec(code string) tea.Cmd {
	m.outbox = append(m.outbox, code)
	return m.sendNext()
}

func (m *Model) sendNext() tea.Cmd {
	if m.sending || len(m.outbox) == 0 || m.stopped {
		return nil
	}
	code := m.outbox[0]
	m.outbox = m.outbox[1:]
	m.sending = true
	return m.link.exec(code)
}

// note adds a line of this session's own to the transcript.
func (m *Model) note(kind noteKind, text string) {
	m.tr.add(noteItem(kind, text), m.layout().textW)
}

// readOnly reports whether the person may only watch.
func (m *Model) readOnly() bool { return !m.person.Role.Allows(keys.Operator) }

// panelShown reports whether the side panel is open: as the person toggled it,
// or else open on wide terminals.
func (m *Model) panelShown() bool {
	if m.panelSet {
		return m.panelOpen
	}
	return m.panelDefault || m.width >= widePanel
}

// togglePanel opens or closes the side panel; from now on the person decides.
func (m *Model) togglePanel() {
	m.panelOpen = !m.panelShown()
	m.panelSet = true
}

// othersAttached names who else is attached: every attachment but one of this
// person's (this session), each name once.
func (m *Model) othersAttached() []string {
	var names []string
	me := false
	seen := map[string]bool{}
	for _, a := range m.status.Attached {
		if a.Name == m.person.Name && !me {
			me = true
			continue
		}
		if name := sanitize(a.Name); !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return names
}

// canType reports whether the input line takes keys.
func (m *Model) canType() bool { return !m.readOnly() && !m.stopped && !m.quitting }

// detach ends the session; the kernel keeps running.
func (m *Model) detach() tea.Cmd {
	if m.quitting {
		return nil
	}
	m.quitting = true
	return m.link.detach()
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// draft is everything typed: the block's lines and the line being edited.
func (m *Model) draft() string {
	return strings.Join(append(append([]string(nil), m.block...), m.ed.String()), "\n")
}

// load replaces what is typed with s, its last line in the editor.
func (m *Model) load(s string) {
	lines := strings.Split(s, "\n")
	m.block = append([]string(nil), lines[:len(lines)-1]...)
	m.ed.set(lines[len(lines)-1])
}
