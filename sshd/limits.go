package sshd

import (
	"net"
	"sync"
	"time"

	"charm.land/ssh"
)

// Limits bound what one source address or one key may do, so that a stranger
// cannot guess at keys, flood the daemon with connections or hold it open, and a
// leaked key cannot open sessions without end. A zero field takes its default.
type Limits struct {
	// HandshakeTimeout is how long a connection has to log in (default 10s).
	HandshakeTimeout time.Duration
	// Conns limits new connections per source address (default: 60 at once,
	// then one more every 100ms).
	Conns Rate
	// AuthFailures limits connections that fail to log in per source address
	// (default: 10, then one more every 6s). Once they are used up, every
	// connection from that address is refused, even with a good key.
	AuthFailures Rate
	// SessionsPerKey caps the sessions open at once with one key (default 20;
	// negative: no cap).
	SessionsPerKey int
	// KeyCheck is how often authorized keys are checked again, so that the
	// sessions of a removed key are closed (default 1s). Server.KeysChanged
	// checks at once.
	KeyCheck time.Duration
	// LogEvery is how often a limit that keeps refusing one source or key logs
	// again, with the count of refusals since (default 1m).
	LogEvery time.Duration
}

// Rate is a token bucket: Burst events at once, then one more every Every. A
// negative Burst turns the limit off.
type Rate struct {
	Burst int
	Every time.Duration
}

// The default limits.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultSessionsPerKey   = 20
	defaultKeyCheck         = time.Second
	defaultLogEvery         = time.Minute
)

var (
	defaultConns        = Rate{Burst: 60, Every: 100 * time.Millisecond}
	defaultAuthFailures = Rate{Burst: 10, Every: 6 * time.Second}
)

// withDefaults fills in the zero fields.
func (l Limits) withDefaults() Limits {
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.Conns == (Rate{}) {
		l.Conns = defaultConns
	}
	if l.AuthFailures == (Rate{}) {
		l.AuthFailures = defaultAuthFailures
	}
	if l.SessionsPerKey == 0 {
		l.SessionsPerKey = DefaultSessionsPerKey
	}
	if l.KeyCheck <= 0 {
		l.KeyCheck = defaultKeyCheck
	}
	if l.LogEvery <= 0 {
		l.LogEvery = defaultLogEvery
	}
	return l
}

// maxBuckets is how many sources a limiter remembers before it forgets those
// whose bucket has filled up again (they are as good as new).
const maxBuckets = 4096

// limiter is a token bucket per source address.
type limiter struct {
	rate Rate

	mu      sync.Mutex // protects buckets
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(r Rate) *limiter {
	return &limiter{rate: r, buckets: map[string]*bucket{}}
}

// bucketLocked returns key's bucket refilled up to now. l.mu must be held.
func (l *limiter) bucketLocked(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.forgetFullLocked(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
		return b
	}
	if l.rate.Every > 0 {
		b.tokens += float64(now.Sub(b.last)) / float64(l.rate.Every)
	}
	b.tokens = min(b.tokens, float64(l.rate.Burst))
	b.last = now
	return b
}

// forgetFullLocked drops the buckets that have filled up again.
func (l *limiter) forgetFullLocked(now time.Time) {
	for key, b := range l.buckets {
		if l.rate.Every > 0 && float64(now.Sub(b.last))/float64(l.rate.Every)+b.tokens >=
			float64(l.rate.Burst) {
			delete(l.buckets, key)
		}
	}
}

// take uses one token of key's bucket; false when there is none left.
func (l *limiter) take(key string, now time.Time) bool {
	if l.rate.Burst < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()

	b := l.bucketLocked(key, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// exhausted reports whether key's bucket has no token left, without using one.
func (l *limiter) exhausted(key string, now time.Time) bool {
	if l.rate.Burst < 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.bucketLocked(key, now).tokens < 1
}

// logGate lets a limit log once per source or key per period instead of once
// per refusal: the first refusal logs, later ones in the period are counted and
// the count goes with the next line.
type logGate struct {
	every time.Duration

	mu    sync.Mutex // protects gates
	gates map[string]*gate
}

type gate struct {
	next       time.Time // no line before this
	suppressed int       // refusals not logged since the last line
}

func newLogGate(every time.Duration) *logGate {
	return &logGate{every: every, gates: map[string]*gate{}}
}

// allow reports whether a refusal for key should be logged now, and how many
// refusals went unlogged before it.
func (g *logGate) allow(key string, now time.Time) (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()

	st, ok := g.gates[key]
	if !ok {
		if len(g.gates) >= maxBuckets {
			for k, old := range g.gates {
				if now.After(old.next) {
					delete(g.gates, k)
				}
			}
		}
		st = &gate{}
		g.gates[key] = st
	}
	if now.Before(st.next) {
		st.suppressed++
		return false, 0
	}
	n := st.suppressed
	st.next, st.suppressed = now.Add(g.every), 0
	return true, n
}

// sourceOf is the address a connection comes from, without its port: limits
// apply to a host, not to one of its ports.
func sourceOf(addr net.Addr) string {
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.String()
	}
	if addr == nil {
		return "unknown"
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// admit is the server's ConnCallback: it refuses, by closing it before the SSH
// handshake, a connection from a source that failed to log in too often or
// connects too fast.
func (s *Server) admit(_ ssh.Context, conn net.Conn) net.Conn {
	src := sourceOf(conn.RemoteAddr())
	now := time.Now()
	why := ""
	switch {
	case s.authFailures.exhausted(src, now):
		why = "too many failed logins"
	case !s.conns.take(src, now):
		why = "too many new connections"
	default:
		return conn
	}
	if ok, suppressed := s.limitLog.allow("source "+src, now); ok {
		s.log.Warn("connections refused: rate limit", "remote", src, "why", why,
			"refused_since_last_line", suppressed, "next_line_in", s.limits.LogEvery)
	}
	return nil
}

// loginFailed is the server's ConnectionFailedCallback: a connection that ended
// before logging in (a refused key, a password attempt, a timeout) counts
// against its source.
func (s *Server) loginFailed(conn net.Conn, err error) {
	src := sourceOf(conn.RemoteAddr())
	s.authFailures.take(src, time.Now())
	s.log.Warn("login failed", "remote", addrString(conn.RemoteAddr()), "err", err)
}
