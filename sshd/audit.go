package sshd

import (
	"charm.land/log/v2"
	"github.com/stratd/stratd/kernel"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd/cmd"
)

// auditLog returns the audit logger of one session: every line names the person,
// their role and key, and where they connect from.
func (s *Server) auditLog(id keys.Identity, remote string) *log.Logger {
	return s.audit.With("person", id.Name, "role", id.Role, "fingerprint", id.Fingerprint,
		"remote", remote)
}

// auditedClient is the kernel client of a terminal UI, which writes each input
// and interrupt to the audit log before passing it on. The kernel's transcript
// shows inputs to everyone attached; the audit log keeps who sent them from
// where, in the daemon's log.
type auditedClient struct {
	kernel.Client
	log    *log.Logger
	kernel string
}

// Exec queues the input and logs it, or its refusal.
func (c *auditedClient) Exec(code string) error {
	err := c.Client.Exec(code)
	if err != nil {
		c.log.Warn("input refused", "kernel", c.kernel, "via", "repl",
			"code", cmd.Excerpt(code), "err", err)
		return err
	}
	c.log.Info("input", "kernel", c.kernel, "via", "repl", "code", cmd.Excerpt(code))
	return nil
}

// Interrupt interrupts, and logs it when the kernel accepted it.
func (c *auditedClient) Interrupt() error {
	err := c.Client.Interrupt()
	if err == nil {
		c.log.Info("kernel interrupt", "kernel", c.kernel, "via", "repl")
	}
	return err
}
