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
// Locally, run the program and call Close when it returns.
package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
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

	// Panel starts with the side panel (positions, orders, quotes) open.
	Panel bool
}

// Model is the REPL of one person on one kernel. It implements tea.Model; build it
// with New.
type Model struct {
	link   *link
	person kernel.Person

	width, height int

	status       kernel.Status
	streamStatus bool      // a status came from the stream: the one fetched at start is stale
	equity       []float64 // recent equity values for the sparkline
	lastSeq      uint64
	stopped      bool // the kernel has stopped: input is off
	quitting     bool // detaching

	tr    transcript
	ed    editor
	block []string // finished lines of a multi-line block being typed
	hist  history
	cands []string // completion candidates shown under the input
	flash string   // a one-keystroke message in the hint line
	help  bool
	panel bool

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
		panel:  opts.Panel,
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
		m.width, m.height = msg.Width, msg.Height
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
			m.note(noteInfo, "interrupt: "+msg.err.Error())
		}
	case completeMsg:
		m.onComplete(msg)
	case tea.KeyPressMsg:
		return m, m.onKey(msg)
	case tea.PasteMsg:
		return m, m.onPaste(msg.Content)
	}
	return m, nil
}

// onUpdate applies one update from the subscription and issues the next read.
func (m *Model) onUpdate(msg updateMsg) tea.Cmd {
	if m.stopped {
		return nil
	}
	m.apply(msg.update)

	switch {
	case msg.err == nil:
		return m.link.read(msg.sub)
	case errors.Is(msg.err, kernel.ErrStopped):
		m.stopped = true
		m.block, m.cands, m.outbox = nil, nil, nil
		m.ed.set("")
		m.note(noteStopped, "kernel stopped")
	case m.link.ctx.Err() != nil:
		// Detached or closed: the read was cancelled on purpose.
	default:
		m.note(noteInfo, "transcript stream ended: "+msg.err.Error())
	}
	return nil
}

func (m *Model) apply(u kernel.Update) {
	if u.Missed > 0 {
		m.note(noteSkipped, fmt.Sprintf("… %d %s skipped (you fell behind)",
			u.Missed, plural(u.Missed, "entry", "entries")))
	}
	width := m.layout().textW
	for _, e := range u.Entries {
		if e.Seq != 0 && e.Seq <= m.lastSeq {
			continue // never show an entry twice
		}
		m.lastSeq = max(m.lastSeq, e.Seq)
		m.tr.add(&item{entry: e}, width)
		if e.Kind == kernel.KindInput && e.Origin == m.person.Name {
			m.sawOwnInput(e.Text)
		}
	}
	if u.Status != nil {
		m.streamStatus = true
		m.setStatus(*u.Status)
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
	m.tr.add(&item{note: kind, entry: kernel.Entry{Text: text}}, m.layout().textW)
}

// readOnly reports whether the person may only watch.
func (m *Model) readOnly() bool { return !m.person.Role.Allows(keys.Operator) }

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
