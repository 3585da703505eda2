package console

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// hashSlots bounds concurrent argon2id checks: each takes 64 MiB, so a burst
// of logins must queue instead of exhausting memory.
var hashSlots = make(chan struct{}, 4)

func (s *Server) handleLogin(c *gin.Context) {
	var req loginRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		writeError(c, s.log, apperr.BadBody.New(nil, "body must be JSON: {\"username\": ..., \"password\": ...}"))
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(c, s.log, apperr.CredentialsRequired.New(nil, "username and password are required"))
		return
	}
	select {
	case hashSlots <- struct{}{}:
	case <-c.Request.Context().Done():
		return
	}
	user, ok := s.users.Authenticate(req.Username, req.Password)
	<-hashSlots
	if !ok {
		s.audit(c, analytics.AuditEntry{Actor: req.Username, Action: "login_failed"})
		writeError(c, s.log, apperr.LoginFailed.New(nil, "wrong username or password"))
		return
	}
	token, exp := s.sessions.issue(user)
	http.SetCookie(c.Writer, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(c),
	})
	s.audit(c, analytics.AuditEntry{Actor: user.Username, Role: string(user.Role), Action: "login"})
	c.JSON(http.StatusOK, gin.H{"token": token, "role": user.Role, "username": user.Username, "expires": exp.UTC().Format(time.RFC3339)})
}

func (s *Server) handleLogout(c *gin.Context) {
	p := caller(c)
	s.sessions.revoke(p.claims)
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	s.audit(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "logout"})
	c.JSON(http.StatusOK, gin.H{"status": "signed out"})
}

func (s *Server) handleMe(c *gin.Context) {
	p := caller(c)
	u, _ := s.users.lookup(p.name)
	scope := append([]string{}, u.Scope...) // [] is the whole city
	c.JSON(http.StatusOK, gin.H{"username": p.name, "role": p.role, "expires": time.Unix(p.claims.Expires, 0).UTC().Format(time.RFC3339),
		"scope": scope})
}

func isHTTPS(c *gin.Context) bool {
	return c.Request.TLS != nil || c.GetHeader("X-Forwarded-Proto") == "https"
}

// auditStrict writes an audit row for an access that must not happen
// unaudited: if the row cannot be written the access is refused.
func (s *Server) auditStrict(c *gin.Context, e analytics.AuditEntry) error {
	e.TS = s.Now()
	e.Client = c.ClientIP()
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	if err := s.Store.WriteAudit(ctx, e); err != nil {
		s.log.Error("audit write failed: access refused", "action", e.Action, "actor", e.Actor, "err", err)
		return apperr.AuditUnavailable.New(nil, "the audit log cannot be written, so this access is refused: retry later")
	}
	return nil
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
