package console

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/evidence"
	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/streaming"
)

// clipReason reads the ?reason= an auditor must give to open footage.
func clipReason(c *gin.Context) (string, error) {
	reason := strings.TrimSpace(c.Query("reason"))
	if reason == "" {
		return "", apperr.ReasonRequired.New(nil, "reason is required: say why you open this recording (?reason=...); it is kept in the audit log")
	}
	if len(reason) > maxClipReason {
		return "", apperr.ReasonTooLong.New(apperr.P{"max": maxClipReason}, "reason: at most %d bytes", maxClipReason)
	}
	return reason, nil
}

// handleCaseExport serves GET /api/v1/cases/{id}/export?reason=: the
// case's signed evidence (see package evidence): a zip with one clip per
// service interval with footage, the manifest and its Ed25519 signature
// by the node key. Only auditors may export, with a reason; the export is
// written to the audit log (strictly: no row, no export) before a byte is
// sent, and that row, with its place in the audit chain, is in the
// manifest. `sunlight verify-export FILE` checks the zip offline.
func (s *Server) handleCaseExport(c *gin.Context) {
	caseID := c.Param("case_id")
	if err := s.checkCaseScope(c, caseID); err != nil {
		writeError(c, s.log, err)
		return
	}
	reason, err := clipReason(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	ctx := c.Request.Context()
	events, err := s.Store.CaseEvents(ctx, caseID)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	ivs, err := s.clips.Intervals(ctx, caseID)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var (
		intervals []evidence.Interval
		files     []evidence.Content
		windows   []string
		sums      []string
	)
	defer func() {
		for _, f := range files {
			_ = f.Body.(*clipReader).clip.Close()
		}
	}()
	for _, iv := range ivs {
		if !containsString(windows, iv.Window) {
			windows = append(windows, iv.Window)
		}
		mi := evidence.Interval{Index: iv.Index, Window: iv.Window, Hall: iv.Hall, From: iv.From.UTC(), To: iv.To.UTC(), Unended: iv.Unended,
			Segments: []evidence.Segment{}}
		for _, sg := range iv.Segments {
			sum, err := fileSHA256(sg.Path)
			if err != nil {
				writeError(c, s.log, fmt.Errorf("hash segment %s: %w", sg.Path, err))
				return
			}
			mi.Segments = append(mi.Segments, evidence.Segment{File: filepath.Base(sg.Path), Seq: sg.Seq, Start: sg.Start.UTC(), End: sg.End.UTC(),
				Bytes: sg.Bytes, Closed: sg.Closed, SHA256: sum})
		}
		if len(iv.Segments) > 0 {
			clip, _, err := s.clips.Clip(ctx, caseID, iv.Window, iv.Index)
			ce, coded := apperr.CodeOf(err)
			switch {
			case coded && ce.Code == apperr.NoFootage:
				// Segments indexed, none covering the interval: no clip.
			case err != nil:
				writeError(c, s.log, err)
				return
			default:
				sum, err := clip.SHA256()
				if err != nil {
					_ = clip.Close()
					writeError(c, s.log, fmt.Errorf("hash clip: %w", err))
					return
				}
				mi.Clip = fmt.Sprintf("clip-%02d-%s.mp4", iv.Index, fileSafe(iv.Window))
				sums = append(sums, hex.EncodeToString(sum[:]))
				files = append(files, evidence.Content{
					File: evidence.File{Name: mi.Clip, Size: clip.Size(), SHA256: sums[len(sums)-1]},
					Body: &clipReader{clip: clip, r: io.NewSectionReader(clip, 0, clip.Size())}})
			}
		}
		intervals = append(intervals, mi)
	}
	if len(files) == 0 {
		writeError(c, s.log, apperr.NoFootage.New(apperr.P{"case": caseID, "intervals": []int{}},
			"case %s has no recorded footage to export", caseID))
		return
	}
	p := caller(c)
	rec, err := s.auditStrictRecord(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: evidence.ActionExport, Target: caseID,
		Detail: fmt.Sprintf("clips=%d sha256=%s reason=%q", len(files), strings.Join(sums, ","), reason)})
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	auditRow, err := analytics.AuditRecordJSON(rec)
	if err != nil {
		writeError(c, s.log, fmt.Errorf("encode audit row: %w", err))
		return
	}
	m := evidence.Manifest{CreatedAt: rec.TS, Case: s.evidenceCase(caseID, events), Windows: windows, Intervals: intervals, Audit: auditRow}
	m.Case.Reason, m.Case.ExportedBy = reason, p.name
	c.Header("Cache-Control", "private, no-store")
	c.Header("Content-Type", "application/zip")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="case-%s-evidence.zip"`, fileSafe(caseID)))
	c.Status(http.StatusOK)
	if err := evidence.Write(c.Writer, s.nodeKey, m, files); err != nil {
		// The headers are sent: the client gets a zip that does not verify.
		s.log.Error("evidence export failed while sending", "case", caseID, "err", err)
	}
}

// evidenceCase is what the export says about the case, from its events
// (as the case timeline reads them).
func (s *Server) evidenceCase(caseID string, events []analytics.CaseEvent) evidence.Case {
	v := caseView{CaseID: caseID}
	for _, e := range events {
		v.applyLifecycle(e)
	}
	s.fillDeadline(&v)
	return evidence.Case{ID: caseID, Item: v.Item, Hall: v.Hall, State: v.State, AcceptedAt: v.AcceptedAt, CompletedAt: v.CompletedAt}
}

// clipReader reads a clip for the zip; the handler closes the clip.
type clipReader struct {
	clip *streaming.Clip
	r    io.Reader
}

func (r *clipReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 256<<10)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// fileSafe makes an ID usable in a file name.
func fileSafe(id string) string {
	if len(id) > 64 {
		id = id[:64]
	}
	return unsafeFileChars.ReplaceAllString(id, "_")
}

func containsString(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
