package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stratd/stratd/kernel"
)

// sessionTTL is how long a browser stays logged in after opening a token link.
// Sessions live in the daemon's memory: a restarted daemon asks for a token again.
const sessionTTL = 7 * 24 * time.Hour

// maxSessions bounds the sessions kept: past it, logging in again forgets the
// session closest to expiring, so no one with a token can fill the memory.
const maxSessions = 10000

// login is a browser session: who is logged in, and with which token.
type login struct {
	person  kernel.Person
	expires time.Time
	// named is set for sessions opened with a named token: the token is looked up
	// again on every request, so revoking it (or changing its role) counts at once.
	named bool
	hash  [sha256.Size]byte
}

// sessions holds the logged-in browsers of one server, by session id, and the
// one-time token printed at start.
type sessions struct {
	tokens *Tokens
	owner  kernel.Person // who the one-time token logs in as

	mu      sync.Mutex // protects the fields below
	byID    map[string]*login
	oneTime string // "" once used
}

func newSessions(tokens *Tokens, owner kernel.Person) *sessions {
	return &sessions{tokens: tokens, owner: owner, byID: make(map[string]*login),
		oneTime: NewSecret()}
}

// oneTimeToken returns the start-up token, or "" once it has been used.
func (s *sessions) oneTimeToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oneTime
}

// open checks a token and opens a session for it; ok is false for a token that
// is unknown or already used.
func (s *sessions) open(secret string) (id string, l login, ok bool) {
	if secret == "" {
		return "", login{}, false
	}
	if tok, found := s.lookup(secret); found {
		l = login{person: kernel.Person{Name: tok.Name, Role: tok.Role}, named: true,
			hash: hashSecret(secret)}
	} else if !s.useOneTime(secret) {
		return "", login{}, false
	}
	if !l.named {
		l.person = s.owner
	}
	l.expires = time.Now().Add(sessionTTL)

	id = newSessionID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	s.byID[id] = &l
	return id, l, true
}

// lookup finds a named token; without a token file there are none.
func (s *sessions) lookup(secret string) (Token, bool) {
	if s.tokens == nil {
		return Token{}, false
	}
	return s.tokens.Lookup(secret)
}

// useOneTime reports whether secret is the unused one-time token, and uses it.
func (s *sessions) useOneTime(secret string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oneTime == "" || !equalSecrets(secret, s.oneTime) {
		return false
	}
	s.oneTime = ""
	return true
}

func equalSecrets(a, b string) bool {
	ha, hb := hashSecret(a), hashSecret(b)
	return ha == hb
}

// person returns who the session id belongs to, if it is still valid.
func (s *sessions) person(id string) (kernel.Person, bool) {
	s.mu.Lock()
	l, ok := s.byID[id]
	if ok && time.Now().After(l.expires) {
		delete(s.byID, id)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return kernel.Person{}, false
	}
	if !l.named {
		return l.person, true
	}
	tok, found := s.tokens.lookupHash(l.hash)
	if !found {
		s.end(id)
		return kernel.Person{}, false
	}
	return kernel.Person{Name: tok.Name, Role: tok.Role}, true
}

// end forgets a session.
func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// pruneLocked forgets expired sessions, and makes room for one more.
func (s *sessions) pruneLocked() {
	now := time.Now()
	oldest := ""
	for id, l := range s.byID {
		if now.After(l.expires) {
			delete(s.byID, id)
		} else if oldest == "" || l.expires.Before(s.byID[oldest].expires) {
			oldest = id
		}
	}
	if len(s.byID) >= maxSessions {
		delete(s.byID, oldest)
	}
}

func newSessionID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails, per its documentation
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookieName is the session cookie's name. Cookies are not kept apart by port,
// so it carries the port: two daemons on one host do not log each other out.
func cookieName(host string) string {
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		return "stratd_session_" + port
	}
	return "stratd_session"
}

// sessionCookie is the cookie that carries a session id: not readable by
// scripts, and never sent along with requests that other sites start.
func sessionCookie(r *http.Request, id string) *http.Cookie {
	return &http.Cookie{
		Name:     cookieName(r.Host),
		Value:    id,
		Path:     "/",
		MaxAge:   int(sessionTTL / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
}

// personOf returns who is logged in on request r.
func (s *Server) personOf(r *http.Request) (kernel.Person, bool) {
	c, err := r.Cookie(cookieName(r.Host))
	if err != nil {
		return kernel.Person{}, false
	}
	return s.sessions.person(c.Value)
}

// login opens a session for the token in the address and sends the browser on
// to the same page without it, so the token leaves the address bar (and the
// history entry the browser keeps for the page it lands on).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	secret := q.Get("token")
	id, l, ok := s.sessions.open(secret)
	if !ok {
		s.log.Warn("web login refused", "remote", r.RemoteAddr, "reason", "unknown or used token")
		s.unauthorized(w, r, "That token is unknown, or it was a one-time token that has "+
			"been used already.")
		return
	}
	s.log.Info("web login", "name", l.person.Name, "role", l.person.Role, "remote", r.RemoteAddr)
	http.SetCookie(w, sessionCookie(r, id))

	q.Del("token")
	next := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	http.Redirect(w, r, next.String(), http.StatusSeeOther)
}

// logout ends the browser's session.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName(r.Host)); err == nil {
		if p, ok := s.sessions.person(c.Value); ok {
			s.log.Info("web logout", "name", p.Name, "remote", r.RemoteAddr)
		}
		s.sessions.end(c.Value)
	}
	gone := sessionCookie(r, "")
	gone.MaxAge = -1
	http.SetCookie(w, gone)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// unauthorized answers 401: a page that says how to get a token, or JSON for
// the API.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, why string) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not logged in: " +
			"open the login link the daemon printed, or a link with a token from " +
			"`stratd keys token`"})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	writeLoginPage(w, why)
}
