package tui

import (
	"context"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/stratd/stratd/kernel"
)

// completeTimeout bounds one Tab completion request.
const completeTimeout = 3 * time.Second

// link is a Model's connection to its kernel. Its methods build the tea.Cmds that
// call the Client, so Update never blocks on the kernel; the Cmds run on Bubble
// Tea's goroutines and touch only the link, never the Model.
//
// The link owns the client: it closes the subscription and detaches exactly once,
// when the person detaches, when the Model is closed, or when the context the Model
// was built with ends (an SSH session closing), whichever comes first.
type link struct {
	client kernel.Client
	ctx    context.Context // ends when the link is released
	cancel context.CancelFunc

	mu     sync.Mutex // protects the fields below
	sub    kernel.Subscriber
	closed bool

	release sync.Once
}

func newLink(parent context.Context, c kernel.Client) *link {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	l := &link{client: c, ctx: ctx, cancel: cancel}
	context.AfterFunc(ctx, l.shutdown)
	return l
}

// shutdown releases the subscription and detaches the client, once; the kernel
// keeps running. It is safe to call from any goroutine, any number of times.
func (l *link) shutdown() {
	l.cancel()
	l.release.Do(func() {
		l.mu.Lock()
		l.closed = true
		sub := l.sub
		l.sub = nil
		l.mu.Unlock()

		if sub != nil {
			sub.Close()
		}
		l.client.Detach()
	})
}

// Messages the link's Cmds deliver to the Model.
type (
	// updateMsg is the result of one Subscriber.Next call.
	updateMsg struct {
		sub    kernel.Subscriber
		update kernel.Update
		err    error
	}
	// statusMsg is the status fetched when the Model starts.
	statusMsg struct{ status kernel.Status }
	// execDoneMsg reports that the kernel took (or refused) an input.
	execDoneMsg struct {
		code string
		err  error
	}
	// interruptDoneMsg reports the result of an interrupt request.
	interruptDoneMsg struct{ err error }
	// completeMsg carries the completions for text, requested as number id.
	completeMsg struct {
		id    int
		text  string
		cands []string
	}
)

// subscribe subscribes from the start of the kept history and reads the first
// update. Subscribing happens in the Cmd too, in case the kernel is slow to answer.
func (l *link) subscribe() tea.Cmd {
	return func() tea.Msg {
		sub := l.client.Subscribe(0)
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			sub.Close()
			return nil
		}
		l.sub = sub
		l.mu.Unlock()
		return l.next(sub)
	}
}

// read waits for the next update. The Model keeps exactly one read outstanding.
func (l *link) read(sub kernel.Subscriber) tea.Cmd {
	return func() tea.Msg { return l.next(sub) }
}

func (l *link) next(sub kernel.Subscriber) tea.Msg {
	u, err := sub.Next(l.ctx)
	return updateMsg{sub: sub, update: u, err: err}
}

func (l *link) fetchStatus() tea.Cmd {
	return func() tea.Msg { return statusMsg{l.client.Status()} }
}

func (l *link) exec(code string) tea.Cmd {
	return func() tea.Msg { return execDoneMsg{code: code, err: l.client.Exec(code)} }
}

func (l *link) interrupt() tea.Cmd {
	return func() tea.Msg { return interruptDoneMsg{l.client.Interrupt()} }
}

func (l *link) complete(id int, text string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(l.ctx, completeTimeout)
		defer cancel()
		return completeMsg{id: id, text: text, cands: l.client.Complete(ctx, text)}
	}
}

// detach detaches and then quits the program.
func (l *link) detach() tea.Cmd {
	return func() tea.Msg {
		l.shutdown()
		return tea.QuitMsg{}
	}
}
