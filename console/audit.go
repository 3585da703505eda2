package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

type auditView struct {
	TS     string `json:"ts"`
	Actor  string `json:"actor"`
	Role   string `json:"role,omitempty"`
	Action string `json:"action"`
	Target string `json:"target,omitempty"`
	Detail string `json:"detail,omitempty"`
	Client string `json:"client,omitempty"`
}

// handleAudit lists the audit log, newest first: ?from=&to= (RFC 3339,
// default the last 7 days) and ?limit= (default 500, at most 10000).
func (s *Server) handleAudit(c *gin.Context) {
	now := s.Now()
	f := analytics.AuditFilter{From: now.Add(-7 * 24 * time.Hour), To: now.Add(time.Minute), Limit: 500}
	var err error
	if v := c.Query("from"); v != "" {
		if f.From, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(c, s.log, apperr.New(apperr.Invalid, "from: %q is not an RFC 3339 time", v))
			return
		}
	}
	if v := c.Query("to"); v != "" {
		if f.To, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(c, s.log, apperr.New(apperr.Invalid, "to: %q is not an RFC 3339 time", v))
			return
		}
	}
	if !f.From.Before(f.To) {
		writeError(c, s.log, apperr.New(apperr.Invalid, "from must be before to"))
		return
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			writeError(c, s.log, apperr.New(apperr.Invalid, "limit: %q is not a number from 1 to 10000", v))
			return
		}
		f.Limit = n
	}
	entries, err := s.Store.ListAudit(c.Request.Context(), f)
	if err != nil {
		writeError(c, s.log, apperr.New(apperr.Unavailable, "audit log unavailable: retry later"))
		return
	}
	out := make([]auditView, len(entries))
	for i, e := range entries {
		out[i] = auditView{TS: e.TS.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Role: e.Role, Action: e.Action, Target: e.Target, Detail: e.Detail, Client: e.Client}
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}
