package console

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/caseclip"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

type caseEventView struct {
	TS     time.Time `json:"ts"`
	Type   string    `json:"type"`
	Hall   string    `json:"hall"`
	Window string    `json:"window,omitempty"`
	Ticket string    `json:"ticket,omitempty"`
	Item   string    `json:"item,omitempty"`
	Staff  string    `json:"staff,omitempty"`
	Rating int       `json:"rating,omitempty"`
}

type holdView struct {
	PlacedBy string    `json:"placed_by"`
	Reason   string    `json:"reason"`
	PlacedAt time.Time `json:"placed_at"`
}

type caseView struct {
	CaseID        string          `json:"case_id"`
	Item          string          `json:"item,omitempty"`
	ItemName      string          `json:"item_name,omitempty"`
	ItemNameEN    string          `json:"item_name_en,omitempty"`
	Hall          string          `json:"hall,omitempty"`
	AcceptedAt    *time.Time      `json:"accepted_at,omitempty"`
	TimeLimitDays int             `json:"time_limit_days,omitempty"`
	Deadline      *time.Time      `json:"deadline,omitempty"`
	CompletedAt   *time.Time      `json:"completed_at,omitempty"`
	State         string          `json:"state"`
	Events        []caseEventView `json:"events"`
	Windows       []string        `json:"windows"`
	Intervals     []intervalView  `json:"intervals"`
	Hold          *holdView       `json:"hold"`
}

type intervalView struct {
	Index   int       `json:"index"`
	Window  string    `json:"window"`
	Hall    string    `json:"hall"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Unended bool      `json:"unended,omitempty"`
}

// applyLifecycle takes what an event says of the case's life: when and
// where it was accepted, for which item, and when it ended and how.
func (v *caseView) applyLifecycle(e analytics.CaseEvent) {
	switch e.Type {
	case "case_accepted":
		ts := e.TS.UTC()
		v.AcceptedAt, v.Item, v.Hall = &ts, e.Item, e.Hall
	case "case_completed", "case_rejected":
		ts := e.TS.UTC()
		v.CompletedAt = &ts
		if e.Type == "case_rejected" {
			v.State = "rejected"
		}
	}
}

// handleCase returns a case's timeline: its events, the windows and
// service intervals, the deadline in working days and the state.
func (s *Server) handleCase(c *gin.Context) {
	caseID := c.Param("case_id")
	ctx := c.Request.Context()
	events, err := s.Store.CaseEvents(ctx, caseID)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if err := caseInScope(caller(c).scope, caseID, events); err != nil {
		writeError(c, s.log, err)
		return
	}
	v := caseView{CaseID: caseID, Events: []caseEventView{}, Windows: []string{}, Intervals: []intervalView{}}
	seen := map[string]bool{}
	for _, e := range events {
		v.Events = append(v.Events, caseEventView{TS: e.TS.UTC(), Type: e.Type, Hall: e.Hall, Window: e.Window, Ticket: e.Ticket, Item: e.Item, Staff: e.Staff, Rating: e.Rating})
		if e.Window != "" && !seen[e.Window] {
			seen[e.Window] = true
			v.Windows = append(v.Windows, e.Window)
		}
		v.applyLifecycle(e)
	}
	s.fillDeadline(&v)
	intervals, err := s.Store.CaseIntervals(ctx, caseID)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	for i, iv := range intervals {
		v.Intervals = append(v.Intervals, intervalView{Index: i + 1, Window: iv.Window, Hall: iv.Hall, From: iv.Start.UTC(), To: iv.End.UTC(), Unended: iv.Unended})
	}
	if h, ok, err := s.Store.HoldOf(ctx, caseID); err != nil {
		writeError(c, s.log, err)
		return
	} else if ok && h.Active() {
		v.Hold = &holdView{PlacedBy: h.PlacedBy, Reason: h.Reason, PlacedAt: h.PlacedAt.UTC()}
	}
	c.JSON(http.StatusOK, v)
}

// fillDeadline sets the deadline from the item's limit in working days
// and the state: open, due_soon (the last working day), overdue,
// completed_on_time, completed_late, rejected.
func (s *Server) fillDeadline(v *caseView) {
	if v.State == "rejected" {
		return
	}
	v.State = "open"
	item, ok := s.Config.FindItem(v.Item)
	if v.AcceptedAt == nil || !ok {
		if v.CompletedAt != nil {
			v.State = "completed"
		}
		return
	}
	v.ItemName, v.ItemNameEN, v.TimeLimitDays = item.Name, item.NameEN, item.TimeLimitDays
	due := s.calendar.Deadline(*v.AcceptedAt, item.TimeLimitDays).UTC()
	v.Deadline = &due
	now := s.Now()
	switch {
	case v.CompletedAt != nil && !v.CompletedAt.After(due):
		v.State = "completed_on_time"
	case v.CompletedAt != nil:
		v.State = "completed_late"
	case now.After(due):
		v.State = "overdue"
	case s.calendar.WorkdaysBetween(now, due.Add(-time.Second)) == 0:
		v.State = "due_soon"
	}
}

type recordingsView struct {
	CaseID    string               `json:"case_id"`
	Intervals []recordingsInterval `json:"intervals"`
}

type recordingsInterval struct {
	caseclip.Interval
	Gaps []gapView `json:"gaps"`
}

type gapView struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// handleCaseRecordings lists, per service interval, the recorded segments
// and the gaps without footage. Every call is audited.
func (s *Server) handleCaseRecordings(c *gin.Context) {
	caseID := c.Param("case_id")
	if err := s.checkCaseScope(c, caseID); err != nil {
		writeError(c, s.log, err)
		return
	}
	ivs, err := s.clips.Intervals(c.Request.Context(), caseID)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	p := caller(c)
	if err := s.auditStrict(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "recordings_list", Target: caseID,
		Detail: fmt.Sprintf("intervals=%d reason=%q", len(ivs), c.Query("reason"))}); err != nil {
		writeError(c, s.log, err)
		return
	}
	out := recordingsView{CaseID: caseID, Intervals: []recordingsInterval{}}
	for _, iv := range ivs {
		out.Intervals = append(out.Intervals, recordingsInterval{Interval: iv, Gaps: gapsOf(iv)})
	}
	c.JSON(http.StatusOK, out)
}

// gapsOf returns the parts of an interval no segment covers (a frame or so
// of slack between segments is not a gap).
func gapsOf(iv caseclip.Interval) []gapView {
	segs := slices.Clone(iv.Segments)
	sort.Slice(segs, func(i, j int) bool { return segs[i].Start.Before(segs[j].Start) })
	const slack = 200 * time.Millisecond
	gaps := []gapView{}
	at := iv.From
	for _, sg := range segs {
		if sg.Start.After(at.Add(slack)) && sg.Start.Before(iv.To) {
			gaps = append(gaps, gapView{From: at.UTC(), To: sg.Start.UTC()})
		}
		end := sg.End
		if !sg.Closed && !end.After(sg.Start) {
			end = iv.To // being written: covers up to now
		}
		if end.After(at) {
			at = end
		}
	}
	if iv.To.After(at.Add(slack)) {
		gaps = append(gaps, gapView{From: at.UTC(), To: iv.To.UTC()})
	}
	return gaps
}

// maxClipReason bounds the reason an auditor gives for opening a clip (it
// goes into the audit log).
const maxClipReason = 500

// handleCaseClip serves the recording of a case as one MP4: every service
// interval, or the one chosen with ?window= and ?interval=. Only auditors
// may fetch it, they must say why (?reason=), and the access is written to
// the audit log before a byte is sent: no audit row, no clip. Range
// requests are answered (206) so players can seek; X-Content-SHA256 is the
// hash of the whole file, whatever range is sent.
func (s *Server) handleCaseClip(c *gin.Context) {
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
	window := c.Query("window")
	index := 0
	if v := c.Query("interval"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(c, s.log, apperr.BadParam.New(apperr.P{"param": "interval", "value": v}, "interval: %q is not an interval number (1, 2, ...)", v))
			return
		}
		index = n
	}
	clip, _, err := s.clips.Clip(c.Request.Context(), caseID, window, index)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	defer clip.Close()
	sum, err := clip.SHA256()
	if err != nil {
		writeError(c, s.log, fmt.Errorf("hash clip: %w", err))
		return
	}
	sumHex := hex.EncodeToString(sum[:])
	p := caller(c)
	rng := c.GetHeader("Range")
	detail := fmt.Sprintf("window=%q interval=%d bytes=%d size=%d sha256=%s reason=%q", window, index, rangeBytes(rng, clip.Size()), clip.Size(), sumHex, reason)
	if rng != "" {
		detail += " range=" + rng
	}
	if err := s.auditStrict(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "clip", Target: caseID, Detail: detail}); err != nil {
		writeError(c, s.log, err)
		return
	}
	c.Header("X-Content-SHA256", sumHex)
	c.Header("Cache-Control", "private, no-store")
	c.Header("Content-Disposition", fmt.Sprintf(`inline; filename="case-%s.mp4"`, caseID))
	c.Header("Content-Type", "video/mp4")
	http.ServeContent(c.Writer, c.Request, "case-"+caseID+".mp4", time.Time{}, io.NewSectionReader(clip, 0, clip.Size()))
}

// rangeBytes is how many bytes a single "bytes=a-b" range asks for (the
// whole size for no range or one this simple parser does not read).
func rangeBytes(h string, size int64) int64 {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return size
	}
	a, b, _ := strings.Cut(spec, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	switch {
	case a == "" && err2 == nil: // the last b bytes
		return min(end, size)
	case err1 != nil:
		return size
	case b == "" || err2 != nil || end >= size:
		end = size - 1
	}
	if start > end {
		return 0
	}
	return end - start + 1
}

type holdRequest struct {
	Reason string `json:"reason"`
}

// handlePlaceHold puts a case on legal hold: retention keeps its footage.
func (s *Server) handlePlaceHold(c *gin.Context) {
	caseID := c.Param("case_id")
	if err := s.checkCaseScope(c, caseID); err != nil {
		writeError(c, s.log, err)
		return
	}
	var req holdRequest
	if err := c.ShouldBindJSON(&req); err != nil || strings.TrimSpace(req.Reason) == "" {
		writeError(c, s.log, apperr.HoldReasonRequired.New(nil, `body must be JSON with a reason: {"reason": "..."}`))
		return
	}
	if _, err := s.Store.CaseEvents(c.Request.Context(), caseID); err != nil {
		writeError(c, s.log, err)
		return
	}
	p := caller(c)
	if err := s.Store.PlaceHold(c.Request.Context(), caseID, p.name, req.Reason); err != nil {
		writeError(c, s.log, err)
		return
	}
	s.audit(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "hold_place", Target: caseID, Detail: req.Reason})
	c.JSON(http.StatusCreated, gin.H{"case_id": caseID, "hold": "placed"})
}

// handleReleaseHold lifts a case's legal hold.
func (s *Server) handleReleaseHold(c *gin.Context) {
	caseID := c.Param("case_id")
	if err := s.checkCaseScope(c, caseID); err != nil {
		writeError(c, s.log, err)
		return
	}
	p := caller(c)
	if err := s.Store.ReleaseHold(c.Request.Context(), caseID, p.name); err != nil {
		writeError(c, s.log, err)
		return
	}
	s.audit(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "hold_release", Target: caseID})
	c.JSON(http.StatusOK, gin.H{"case_id": caseID, "hold": "released"})
}

// recordedCasesSpan is how far back GET /api/v1/cases looks.
const recordedCasesSpan = 7 * 24 * time.Hour

// handleRecordedCases serves GET /api/v1/cases?limit= (default 20, at
// most 200): the cases served in the last 7 days whose service was
// recorded, the latest first, so that an auditor finds one to review
// without knowing a case ID. Listing is not an access to footage: it is
// not audited (opening a clip is).
func (s *Server) handleRecordedCases(c *gin.Context) {
	limit, err := queryLimit(c, 20, 200)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	cases, err := s.Store.RecentRecordedCasesIn(c.Request.Context(), s.Now().Add(-recordedCasesSpan), limit, caller(c).scope.halls(s.Config))
	if err != nil {
		s.log.Error("recent recorded cases", "err", err)
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "cases unavailable: retry later"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"cases": cases})
}

// checkCaseScope refuses a scoped caller a case that was handled (any of
// its events) in a hall outside its scope; an unknown case is the store's
// not-found. Callers without a scope skip the lookup.
func (s *Server) checkCaseScope(c *gin.Context, caseID string) error {
	scope := caller(c).scope
	if scope.all() {
		return nil
	}
	events, err := s.Store.CaseEvents(c.Request.Context(), caseID)
	if err != nil {
		return err
	}
	return caseInScope(scope, caseID, events)
}

// caseInScope is the 403 for a case with an event in a hall outside scope:
// its footage and timeline are of that hall too.
func caseInScope(scope hallScope, caseID string, events []analytics.CaseEvent) error {
	for _, e := range events {
		if !scope.has(e.Hall) {
			return apperr.CaseOutOfScope.New(apperr.P{"case": caseID}, "case %q was handled outside your scope", caseID)
		}
	}
	return nil
}
