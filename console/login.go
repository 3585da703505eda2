package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Bounds on what a sign-in may send: checked before any hashing, so that
// a megabyte "password" costs nothing.
const (
	maxLoginBody   = 4 << 10
	maxUsernameLen = 64 // the longest name `user add` accepts
)

// loginState is the sign-in's defences: the throttles of user names and
// client addresses, and the gate of the argon2id checks.
type loginState struct {
	users   *throttle
	clients *throttle
	gate    *hashGate
}

func newLoginState() loginState {
	// Each argon2id check takes 64 MiB and two threads for some 55 ms (on
	// the 2-core reference machine): at once, half as many as there are
	// cores (at least 1, at most 4), so that a flood of sign-ins leaves the
	// others the rest; a few dozen may wait a few seconds, the rest are
	// told to retry.
	return loginState{
		users:   newThrottle(userThrottle),
		clients: newThrottle(clientThrottle),
		gate:    newHashGate(min(max(runtime.GOMAXPROCS(0)/2, 1), 4), 32, 3*time.Second),
	}
}

func (s *Server) handleLogin(c *gin.Context) {
	// Login CSRF: another site's form could sign the browser in to an
	// account of the attacker's. A form cannot send application/json, and
	// a script of another origin cannot without a preflight this server
	// never grants; fetch metadata or Origin catch the rest.
	if crossSite(c.Request) {
		writeError(c, s.log, errCrossSite)
		return
	}
	if !isJSON(c.Request) {
		c.AbortWithStatusJSON(http.StatusUnsupportedMediaType, errorBody(apperr.LoginNotJSON.New(nil,
			`Content-Type must be application/json: {"username": ..., "password": ...}`)))
		return
	}
	var req loginRequest
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxLoginBody)
	if err := c.ShouldBindJSON(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c, s.log, apperr.BodyTooLarge.New(apperr.P{"max_bytes": maxLoginBody}, "the sign-in body is larger than %d bytes", maxLoginBody))
			return
		}
		writeError(c, s.log, apperr.BadBody.New(nil, "body must be JSON: {\"username\": ..., \"password\": ...}"))
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(c, s.log, apperr.CredentialsRequired.New(nil, "username and password are required"))
		return
	}
	if len(req.Username) > maxUsernameLen || len(req.Password) > MaxPasswordLen {
		writeError(c, s.log, apperr.CredentialsTooLong.New(apperr.P{"max_username": maxUsernameLen, "max_password": MaxPasswordLen},
			"username at most %d bytes, password at most %d", maxUsernameLen, MaxPasswordLen))
		return
	}
	client := c.ClientIP()
	userKey, clientKey := "user:"+req.Username, "client:"+client
	now := s.Now()
	cv := s.login.clients.begin(clientKey, now)
	if !cv.ok {
		s.refuseLogin(c, req.Username, clientKey, cv)
		return
	}
	uv := s.login.users.begin(userKey, now)
	if !uv.ok {
		s.login.clients.cancel(clientKey)
		s.refuseLogin(c, req.Username, userKey, uv)
		return
	}
	if !s.login.gate.acquire(c.Request.Context()) {
		s.login.clients.cancel(clientKey)
		s.login.users.cancel(userKey)
		c.Header("Retry-After", "1")
		writeError(c, s.log, apperr.LoginBusy.New(nil, "too many sign-ins at once: retry in a second"))
		return
	}
	user, ok := s.users.Authenticate(req.Username, req.Password)
	s.login.gate.release()
	now = s.Now()
	ulocked, ufail := s.login.users.end(userKey, now, ok, true)
	clocked, cfail := s.login.clients.end(clientKey, now, ok, false)
	if !ok {
		s.audit(c, analytics.AuditEntry{Actor: req.Username, Action: "login_failed"})
		if ulocked {
			s.auditLockout(c, req.Username, userKey, ufail)
		}
		if clocked {
			s.auditLockout(c, req.Username, clientKey, cfail)
		}
		writeError(c, s.log, apperr.LoginFailed.New(nil, "wrong username or password"))
		return
	}
	token, exp := s.sessions.issue(user)
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(c),
	})
	s.audit(c, analytics.AuditEntry{Actor: user.Username, Role: string(user.Role), Action: "login"})
	claims, _ := s.sessions.verify(token) // just issued: cannot fail
	c.JSON(http.StatusOK, gin.H{"token": token, "role": user.Role, "username": user.Username, "expires": exp.UTC().Format(time.RFC3339),
		"csrf_token": s.sessions.csrfToken(claims)})
}

// refuseLogin answers a sign-in that its throttle refused, unchecked: 429
// with Retry-After. The attempt that locks a key out is audited.
func (s *Server) refuseLogin(c *gin.Context, username, key string, v verdict) {
	if v.lockedNow {
		s.auditLockout(c, username, key, v.failures)
	}
	secs := int((v.retryAfter + time.Second - 1) / time.Second)
	c.Header("Retry-After", strconv.Itoa(secs))
	writeError(c, s.log, apperr.LoginThrottled.New(apperr.P{"seconds": secs},
		"too many failed sign-ins: wait %d s before trying again", secs))
}

// auditLockout writes the audit row of a lockout: who tried, and which key
// (user:NAME or client:ADDRESS) is locked, for how long.
func (s *Server) auditLockout(c *gin.Context, username, key string, failures int) {
	policy := userThrottle
	if strings.HasPrefix(key, "client:") {
		policy = clientThrottle
	}
	s.log.Warn("sign-in locked out", "key", key, "failures", failures, "for", policy.LockFor)
	s.audit(c, analytics.AuditEntry{Actor: username, Action: "login_locked", Target: key,
		Detail: fmt.Sprintf("%d failed sign-ins: locked for %s", failures, policy.LockFor)})
}

func (s *Server) handleLogout(c *gin.Context) {
	p := caller(c)
	err := s.sessions.revoke(p.claims)
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.secureCookies(c)})
	s.audit(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "logout"})
	if err != nil {
		s.log.Error("logout: revocation not saved", "user", p.name, "err", err)
		writeError(c, s.log, apperr.RevocationNotSaved.New(nil, "signed out, but the server could not save it: the session ends for good only when it expires"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "signed out"})
}

func (s *Server) handleMe(c *gin.Context) {
	p := caller(c)
	u, _ := s.users.lookup(p.name)
	scope := append([]string{}, u.Scope...) // [] is the whole city
	c.JSON(http.StatusOK, gin.H{"username": p.name, "role": p.role, "expires": time.Unix(p.claims.Expires, 0).UTC().Format(time.RFC3339),
		"scope": scope, "csrf_token": s.sessions.csrfToken(p.claims)})
}

// secureCookies reports whether the session cookie is marked Secure (sent
// over HTTPS only): always when this server has TLS configured, and
// otherwise when the request came over TLS, directly or through a reverse
// proxy that says so.
func (s *Server) secureCookies(c *gin.Context) bool {
	return s.Config.TLS.Enabled() || c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https"
}

// auditStrict writes an audit row for an access that must not happen
// unaudited: if the row cannot be written the access is refused.
func (s *Server) auditStrict(c *gin.Context, e analytics.AuditEntry) error {
	_, err := s.auditStrictRecord(c, e)
	return err
}

// auditStrictRecord is auditStrict, returning the row as stored (with its
// place in the audit chain).
func (s *Server) auditStrictRecord(c *gin.Context, e analytics.AuditEntry) (analytics.AuditRecord, error) {
	e.TS = s.Now()
	e.Client = c.ClientIP()
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	r, err := s.Store.AppendAudit(ctx, e)
	if err != nil {
		s.log.Error("audit write failed: access refused", "action", e.Action, "actor", e.Actor, "err", err)
		return r, apperr.AuditUnavailable.New(nil, "the audit log cannot be written, so this access is refused: retry later")
	}
	return r, nil
}

// audit writes one audit row, filling in when and from where. A failure is
// logged: it must not turn a sign-in into an error. Accesses that must not
// happen unaudited (clips) write their row themselves and fail without it.
func (s *Server) audit(c *gin.Context, e analytics.AuditEntry) {
	e.TS = s.Now()
	e.Client = c.ClientIP()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Store.WriteAudit(ctx, e); err != nil {
		s.log.Warn("audit write failed", "action", e.Action, "actor", e.Actor, "err", err)
	}
}
