package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// maxCSPReport bounds one CSP violation report body.
const maxCSPReport = 16 << 10

// cspDirectives are the directives a report is counted under; any other
// name a client sends counts as "other", so a client cannot grow the
// metric's label set.
var cspDirectives = []string{"default-src", "script-src", "script-src-elem", "script-src-attr", "style-src", "style-src-elem",
	"style-src-attr", "img-src", "media-src", "font-src", "connect-src", "object-src", "base-uri", "form-action",
	"frame-ancestors", "frame-src", "worker-src", "manifest-src", "child-src"}

// cspReport is a violation as browsers report it: the report-uri form
// ({"csp-report": {...}}) or one entry of the Reporting API's array.
type cspReport struct {
	Legacy *struct {
		Effective string `json:"effective-directive"`
		Violated  string `json:"violated-directive"`
		Blocked   string `json:"blocked-uri"`
		Document  string `json:"document-uri"`
	} `json:"csp-report"`
	Type string `json:"type"`
	Body *struct {
		Effective string `json:"effectiveDirective"`
		Blocked   string `json:"blockedURL"`
		Document  string `json:"documentURL"`
	} `json:"body"`
}

// handleCSPReport takes the browsers' reports of CSP violations (the CSP's
// report-uri and report-to): each is counted in
// sunlight_csp_violations_total by directive and logged (a few a minute at
// most), so an operator learns when a page of the console breaks the
// policy, or when something tries to inject into it. 204, whatever the
// report says; 400 for a body that is not one, 413 past 16 KiB.
func (s *Server) handleCSPReport(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCSPReport))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c, s.log, apperr.BodyTooLarge.New(apperr.P{"max_bytes": maxCSPReport}, "CSP report larger than %d bytes", maxCSPReport))
			return
		}
		writeError(c, s.log, apperr.BadBody.New(nil, "read the CSP report: %v", err))
		return
	}
	var reports []cspReport
	if err := json.Unmarshal(body, &reports); err != nil {
		var one cspReport
		if err := json.Unmarshal(body, &one); err != nil {
			writeError(c, s.log, apperr.BadBody.New(nil, `body must be a CSP violation report: {"csp-report": {...}} or a Reporting API array`))
			return
		}
		reports = []cspReport{one}
	}
	for _, r := range reports {
		var directive, blocked, document string
		switch {
		case r.Legacy != nil:
			directive, blocked, document = r.Legacy.Effective, r.Legacy.Blocked, r.Legacy.Document
			if directive == "" {
				directive = r.Legacy.Violated
			}
		case r.Type == "csp-violation" && r.Body != nil:
			directive, blocked, document = r.Body.Effective, r.Body.Blocked, r.Body.Document
		default:
			continue
		}
		if !slices.Contains(cspDirectives, directive) {
			directive = "other"
		}
		s.metrics.cspViolations.WithLabelValues(directive).Inc()
		if s.cspLogLimit.allow("", s.Now()) {
			s.log.Warn("content security policy violation reported", "directive", directive,
				"blocked", truncate(blocked, 200), "document", truncate(document, 200), "client", c.ClientIP())
		}
	}
	c.Status(http.StatusNoContent)
}

// truncate cuts s to at most n bytes (for logging what a client sent).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
