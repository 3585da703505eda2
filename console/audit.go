package console

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
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
	// Fields is Detail read into its parts, for the detail formats the
	// server writes (see auditFields); absent for free text.
	Fields []auditField `json:"fields,omitempty"`
	Client string       `json:"client,omitempty"`
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
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "audit log unavailable: retry later"))
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
		out[i] = auditView{TS: e.TS.UTC().Format(time.RFC3339Nano), Actor: e.Actor, Role: e.Role, Action: e.Action, Target: e.Target,
			Detail: e.Detail, Fields: auditFields(e.Action, e.Detail), Client: e.Client}
	}
	c.JSON(http.StatusOK, gin.H{"entries": out})
}

// auditField is one part of an audit row's detail: a key the console
// translates ("reason", "size", ...) and its value.
type auditField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// The rows keep their detail as the server wrote it (the CSV and older
// rows stay as they are); the JSON adds the parts the console shows in
// the user's language. The formats read here:
//   - clip, recordings_list, evidence_export and audit_checkpoint:
//     key=value pairs, a value Go-quoted (%q)
//     or without spaces, as handleCaseClip and handleCaseRecordings write;
//   - live_start: "session ID"; live_end: "session ID: REASON after
//     DURATION" (a streaming.End* reason and a Go duration), as the live
//     handlers write. The duration becomes the field duration_s.
//
// The other actions' details are what a person typed (a hold's reason, an
// acknowledgement's comment): shown as they are.
var auditDetailParsers = map[string]func(string) []auditField{
	"clip":             kvFields,
	"recordings_list":  kvFields,
	"evidence_export":  kvFields,
	"audit_checkpoint": kvFields,
	"live_start":       liveFields,
	"live_end":         liveFields,
}

func auditFields(action, detail string) []auditField {
	if parse, ok := auditDetailParsers[action]; ok && detail != "" {
		return parse(detail)
	}
	return nil
}

var kvPair = regexp.MustCompile(`^([a-z][a-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)(?:\s+|$)`)

// kvFields reads key=value pairs; nil unless the whole detail is pairs.
func kvFields(detail string) []auditField {
	var out []auditField
	for rest := strings.TrimSpace(detail); rest != ""; {
		m := kvPair.FindStringSubmatch(rest)
		if m == nil {
			return nil
		}
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			u, err := strconv.Unquote(v)
			if err != nil {
				return nil
			}
			v = u
		}
		out = append(out, auditField{Key: m[1], Value: v})
		rest = rest[len(m[0]):]
	}
	return out
}

var liveDetail = regexp.MustCompile(`^session (\S+?)(?:: (.+) after (\S+))?$`)

func liveFields(detail string) []auditField {
	m := liveDetail.FindStringSubmatch(detail)
	if m == nil {
		return nil
	}
	out := []auditField{{Key: "session", Value: m[1]}}
	if m[2] != "" {
		out = append(out, auditField{Key: "end", Value: m[2]})
		if d, err := time.ParseDuration(m[3]); err == nil {
			out = append(out, auditField{Key: "duration_s", Value: strconv.FormatInt(int64(d/time.Second), 10)})
		}
	}
	return out
}

// handleAuditExport serves GET /api/v1/audit/export: the whole audit log
// with its hash chains, as NDJSON in the format `sunlight audit verify
// --file` reads (see analytics.AuditRecordJSON), for a copy kept away
// from the database. The export is audited first (strictly), so the file
// holds its own row.
func (s *Server) handleAuditExport(c *gin.Context) {
	p := caller(c)
	if err := s.auditStrict(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "audit_export"}); err != nil {
		writeError(c, s.log, err)
		return
	}
	c.Header("Cache-Control", "private, no-store")
	c.Header("Content-Type", "application/x-ndjson")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.ndjson"`, s.Now().UTC().Format("20060102T150405Z")))
	c.Status(http.StatusOK)
	if _, err := s.Store.ExportAudit(c.Request.Context(), c.Writer); err != nil {
		// The status is sent: the file ends short, and its last line
		// does not parse.
		s.log.Error("audit export failed while sending", "err", err)
	}
}

type auditNodeView struct {
	Node              string `json:"node"`
	Rows              int    `json:"rows"`
	Head              uint64 `json:"head_seq"`
	Checkpoints       int    `json:"checkpoints"`
	SignaturesChecked bool   `json:"signatures_checked"`
	LastCheckpoint    uint64 `json:"last_checkpoint_seq"`
	Unanchored        int    `json:"unanchored"`
}

type auditBrokenView struct {
	Node   string `json:"node"`
	Seq    uint64 `json:"seq"`
	TS     string `json:"ts"`
	Action string `json:"action"`
	Actor  string `json:"actor"`
	Target string `json:"target"`
	Reason string `json:"reason"`
}

// handleAuditVerify serves GET /api/v1/audit/verify: the check of every
// audit row against its chain that `sunlight audit verify` makes, with
// this node's key for its checkpoints: {"ok", "nodes", "unchained",
// "broken"}, broken naming the first row that does not fit. A broken
// chain is a finding, not a failed request: 200 with ok false.
func (s *Server) handleAuditVerify(c *gin.Context) {
	rep, err := s.Store.VerifyAudit(c.Request.Context(), []ed25519.PublicKey{s.nodeKey.Public().(ed25519.PublicKey)})
	var ce *analytics.AuditChainError
	if err != nil && !errors.As(err, &ce) {
		s.log.Error("audit verify", "err", err)
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "audit log unavailable: retry later"))
		return
	}
	out := gin.H{"ok": ce == nil, "unchained": rep.Unchained}
	nodes := make([]auditNodeView, len(rep.Nodes))
	for i, n := range rep.Nodes {
		nodes[i] = auditNodeView(n)
	}
	out["nodes"] = nodes
	if ce != nil {
		out["broken"] = auditBrokenView{Node: ce.Row.Node, Seq: ce.Row.Seq, TS: ce.Row.TS.UTC().Format(time.RFC3339Nano), Action: ce.Row.Action,
			Actor: ce.Row.Actor, Target: ce.Row.Target, Reason: ce.Reason}
	}
	c.JSON(http.StatusOK, out)
}
