package kernel

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stratd/stratd/keys"
)

// session is one person's attachment to a kernel. It implements Client.
type session struct {
	k      *Kernel
	person Person

	once sync.Once
}

// Attach records p as attached (via "ssh", "local" or "web") and returns a Client for
// them. Every attached person is listed in the status; Detach ends the attachment and
// never stops the kernel.
func (k *Kernel) Attach(p Person, via string) Client {
	s := &session{k: k, person: p}
	k.mu.Lock()
	k.attached[s] = Attachment{Name: p.Name, Role: p.Role.String(), Since: time.Now().UTC(),
		Via: via}
	k.mu.Unlock()
	k.emit(KindSystem, OriginSystem, fmt.Sprintf("%s attached (%s, %s)", p.Name, p.Role, via))
	k.wake(k.dirty)
	return s
}

func (s *session) Person() Person { return s.person }

func (s *session) Exec(code string) error {
	_, err := s.k.submit(s.person, code)
	return err
}

func (s *session) Interrupt() error {
	if !s.person.Role.Allows(keys.Operator) {
		return ErrReadOnly
	}
	s.k.Interrupt(s.person)
	return nil
}

func (s *session) Subscribe(since uint64) Subscriber { return s.k.Subscribe(since) }

func (s *session) Complete(ctx context.Context, text string) []string {
	return s.k.complete(ctx, text)
}

func (s *session) Status() Status {
	st := s.k.Status()
	// The published status may predate this attachment by up to statusEvery.
	st.Attached = s.k.Who()
	return st
}

func (s *session) Detach() {
	s.once.Do(func() {
		s.k.mu.Lock()
		_, ok := s.k.attached[s]
		delete(s.k.attached, s)
		stopped := s.k.state == StateStopped
		s.k.mu.Unlock()
		if ok && !stopped {
			s.k.emit(KindSystem, OriginSystem, s.person.Name+" detached")
			s.k.wake(s.k.dirty)
		}
	})
}
