package sshd

import (
	"fmt"
	"time"

	"charm.land/ssh"
	"github.com/stratd/stratd/keys"
	"github.com/stratd/stratd/sshd/cmd"
	gossh "golang.org/x/crypto/ssh"
)

// liveSession is one session being served, under the key it logged in with.
type liveSession struct {
	sess ssh.Session
	key  gossh.PublicKey
	id   keys.Identity
}

// openSession records a session under its key and returns the function that
// forgets it. It refuses the session when its key already has as many sessions
// as Limits.SessionsPerKey allows.
func (s *Server) openSession(sess ssh.Session, id keys.Identity) (func(), error) {
	ls := &liveSession{sess: sess, key: sess.PublicKey(), id: id}

	s.live.Lock()
	group := s.byKey[id.Fingerprint]
	if limit := s.limits.SessionsPerKey; limit > 0 && len(group) >= limit {
		s.live.Unlock()
		if ok, suppressed := s.limitLog.allow("key "+id.Fingerprint, time.Now()); ok {
			s.log.Warn("session refused: sessions per key", "person", id.Name,
				"fingerprint", id.Fingerprint, "remote", addrString(sess.RemoteAddr()),
				"max", limit, "refused_since_last_line", suppressed)
		}
		return nil, fmt.Errorf("too many sessions with your key (%d open, the most "+
			"allowed); close some, or ask the daemon's owner to raise "+
			"--max-sessions-per-key", len(group))
	}
	if group == nil {
		group = map[*liveSession]struct{}{}
		s.byKey[id.Fingerprint] = group
	}
	group[ls] = struct{}{}
	s.live.Unlock()

	return func() {
		s.live.Lock()
		defer s.live.Unlock()
		// A key's group is only dropped once empty, so it is still this one.
		delete(s.byKey[id.Fingerprint], ls)
		if len(s.byKey[id.Fingerprint]) == 0 {
			delete(s.byKey, id.Fingerprint)
		}
	}, nil
}

// KeysChanged makes the server check at once, rather than at the next
// Limits.KeyCheck tick, whether every open session's key is still authorized.
func (s *Server) KeysChanged() {
	select {
	case s.recheck <- struct{}{}:
	default:
	}
}

// watchKeys checks the keys of open sessions every Limits.KeyCheck and whenever
// KeysChanged is called, until the server closes.
func (s *Server) watchKeys() {
	tick := time.NewTicker(s.limits.KeyCheck)
	defer tick.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-tick.C:
		case <-s.recheck:
		}
		s.checkKeys()
	}
}

// refresher is an Authorizer that can re-read its keys on demand (*keys.Store),
// so changes are noticed, and logged, even while no session is open.
type refresher interface{ Refresh() }

// checkKeys closes the sessions whose key was removed from the authorized keys,
// or given a lower role, since the session began.
func (s *Server) checkKeys() {
	if r, ok := s.cfg.Auth.(refresher); ok {
		r.Refresh()
	}

	s.live.Lock()
	groups := make(map[string][]*liveSession, len(s.byKey))
	for fp, group := range s.byKey {
		for ls := range group {
			groups[fp] = append(groups[fp], ls)
		}
	}
	s.live.Unlock()

	for fp, sessions := range groups {
		first := sessions[0]
		id, ok := s.cfg.Auth.Lookup(first.key)
		why := ""
		switch {
		case !ok:
			why = "your key was removed from the daemon's authorized keys"
		case id.Role < first.id.Role:
			why = fmt.Sprintf("your key's role was lowered from %s to %s; reconnect",
				first.id.Role, id.Role)
		default:
			continue
		}
		s.log.Warn("closing sessions of a revoked key", "person", first.id.Name,
			"fingerprint", fp, "sessions", len(sessions), "why", why)
		for _, ls := range sessions {
			closeSession(ls.sess, "stratd: "+why+"; session closed")
		}
	}
}

// closeSession tells the client why, ends the session with exit status 1 and
// closes its connection, which ends whatever the session runs (a UI, a followed
// history): they all follow the connection's context.
func closeSession(sess ssh.Session, msg string) {
	writeLine(sess.Stderr(), msg)
	_ = sess.Exit(cmd.ExitFailed)
	if conn, ok := sess.Context().Value(ssh.ContextKeyConn).(gossh.Conn); ok {
		_ = conn.Close()
	}
}
