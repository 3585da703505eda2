package console

import (
	"net/http"
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

// handleAudit lists the audit log, newest first: ?from=&to= (RFC 3339 or
// a date, default the last 7 days), ?limit= (default 500, at most 10000),
// ?actor=&action=&target= (exact matches) and ?format=csv (times in the
// halls' zone, for a spreadsheet).
func (s *Server) handleAudit(c *gin.Context) {
	from, to, err := queryRange(c, s.Now(), 7*24*time.Hour, s.Config.Location())
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	limit, err := queryLimit(c, 500, analytics.MaxAuditLimit)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	f := analytics.AuditFilter{From: from, To: to, Limit: limit,
		Actor: c.Query("actor"), Action: c.Query("action"), Target: c.Query("target")}
	entries, err := s.Store.ListAudit(c.Request.Context(), f)
	if err != nil {
		writeError(c, s.log, apperr.New(apperr.Unavailable, "audit log unavailable: retry later"))
		return
	}
	if wantCSV(c) {
		loc := s.Config.Location()
		rows := make([][]string, len(entries))
		for i, e := range entries {
			rows[i] = []string{e.TS.In(loc).Format("2006-01-02T15:04:05.000Z07:00"), e.Actor, e.Role, e.Action, e.Target, e.Detail, e.Client}
		}
		writeCSV(c, "audit.csv", []string{"ts", "actor", "role", "action", "target", "detail", "client"}, rows)
		return
	}
	out := make([]auditView, len(entries))
	for i, e := range entries {
		out[i] = auditView{TS: e.TS.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Role: e.Role, Action: e.Action, Target: e.Target, Detail: e.Detail, Client: e.Client}
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}
