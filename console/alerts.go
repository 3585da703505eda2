package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/supervision"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// alertView is an alert as the API shows it (JSON and SSE).
type alertView struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Severity   string `json:"severity"`
	Hall       string `json:"hall,omitempty"`
	Window     string `json:"window,omitempty"`
	CaseID     string `json:"case_id,omitempty"`
	Ticket     string `json:"ticket,omitempty"`
	Item       string `json:"item,omitempty"`
	Message    string `json:"message"`
	MessageEN  string `json:"message_en"`
	RaisedAt   string `json:"raised_at"`
	Acked      bool   `json:"acked"`
	AckedBy    string `json:"acked_by,omitempty"`
	AckComment string `json:"ack_comment,omitempty"`
	AckedAt    string `json:"acked_at,omitempty"`
}

func viewAlert(a analytics.StoredAlert) alertView {
	v := alertView{ID: a.ID, Kind: a.Kind, Severity: a.Severity, Hall: a.Hall, Window: a.Window, CaseID: a.CaseID,
		Ticket: a.Ticket, Item: a.Item, Message: a.Message, MessageEN: a.MessageEN,
		RaisedAt: a.RaisedAt.UTC().Format(time.RFC3339), Acked: a.Acked(), AckedBy: a.AckedBy, AckComment: a.AckComment}
	if a.Acked() {
		v.AckedAt = a.AckedAt.UTC().Format(time.RFC3339)
	}
	return v
}

// alertHub fans alerts and acknowledgements out to the SSE subscribers and
// keeps the unacknowledged alerts of each window for the live wall's badge.
type alertHub struct {
	mu      sync.Mutex
	subs    map[*alertSub]struct{}
	unacked map[string]alertView // by id
}

type alertSub struct {
	ch     chan sseMessage
	filter func(alertView) bool
	gone   chan struct{} // closed when the hub dropped a subscriber too slow to keep up
}

type sseMessage struct {
	event, id string
	data      []byte
}

// subBuffer is how many messages a subscriber may lag behind before it is
// dropped (its browser reconnects and gets the open alerts again).
const subBuffer = 256

func newAlertHub() *alertHub {
	return &alertHub{subs: map[*alertSub]struct{}{}, unacked: map[string]alertView{}}
}

func (h *alertHub) subscribe(filter func(alertView) bool) *alertSub {
	s := &alertSub{ch: make(chan sseMessage, subBuffer), filter: filter, gone: make(chan struct{})}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *alertHub) unsubscribe(s *alertSub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

func (h *alertHub) send(v alertView, event string) {
	data, _ := json.Marshal(v)
	msg := sseMessage{event: event, id: v.ID, data: data}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if s.filter != nil && !s.filter(v) {
			continue
		}
		select {
		case s.ch <- msg:
		default:
			delete(h.subs, s)
			close(s.gone)
		}
	}
}

// publish pushes newly raised alerts.
func (h *alertHub) publish(alerts []analytics.StoredAlert) {
	for _, a := range alerts {
		v := viewAlert(a)
		h.mu.Lock()
		if !v.Acked {
			h.unacked[v.ID] = v
		}
		h.mu.Unlock()
		h.send(v, "alert")
	}
}

// acked pushes an acknowledgement.
func (h *alertHub) acked(a analytics.StoredAlert) {
	v := viewAlert(a)
	h.mu.Lock()
	delete(h.unacked, v.ID)
	h.mu.Unlock()
	h.send(v, "ack")
}

// openAlerts counts the unacknowledged alerts per window and the worst
// severity among them.
func (h *alertHub) openAlerts() map[string]windowAlerts {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]windowAlerts{}
	for _, v := range h.unacked {
		if v.Window == "" {
			continue
		}
		w := out[v.Window]
		w.Count++
		if v.Severity == "red" || w.Worst == "" {
			w.Worst = v.Severity
		}
		out[v.Window] = w
	}
	return out
}

// windowAlerts is a window's alert badge.
type windowAlerts struct {
	Count int    `json:"count"`
	Worst string `json:"worst"`
}

// PublishAlerts stores nothing: it pushes alerts that were raised (and are
// being stored by the caller) to the SSE subscribers and the live wall.
func (s *Server) PublishAlerts(alerts []supervision.Alert) {
	out := make([]analytics.StoredAlert, len(alerts))
	for i, a := range alerts {
		out[i] = analytics.StoredAlert{Alert: a}
	}
	s.alerts.publish(out)
}

// loadOpenAlerts fills the hub with the unacknowledged alerts of the last
// week, so the live wall shows badges after a restart.
func (s *Server) loadOpenAlerts(ctx context.Context) {
	list, err := s.Store.ListAlerts(ctx, analytics.AlertFilter{From: s.Now().Add(-7 * 24 * time.Hour), Unacked: true, Limit: analytics.MaxAlertLimit})
	if err != nil {
		s.log.Warn("open alerts not loaded", "err", err)
		return
	}
	s.alerts.mu.Lock()
	for _, a := range list {
		s.alerts.unacked[a.ID] = viewAlert(a)
	}
	s.alerts.mu.Unlock()
}

// alertFilter reads ?severity=&kind=&hall=&window= shared by the list and
// the stream.
func (s *Server) alertFilter(c *gin.Context) (analytics.AlertFilter, string, error) {
	f := analytics.AlertFilter{Severity: c.Query("severity"), Kind: c.Query("kind"), Hall: c.Query("hall")}
	scope := caller(c).scope
	if err := scope.checkHall(f.Hall); f.Hall != "" && err != nil {
		return f, "", err
	}
	if err := scope.checkWindow(s.Config, c.Query("window")); err != nil {
		return f, "", err
	}
	f.Halls = scope.halls(s.Config)
	if f.Severity != "" && f.Severity != "yellow" && f.Severity != "red" {
		return f, "", apperr.BadParam.New(apperr.P{"param": "severity", "value": f.Severity}, "severity: %q is not yellow or red", f.Severity)
	}
	if f.Kind != "" && !slices.Contains(supervision.Kinds, f.Kind) {
		return f, "", apperr.BadParam.New(apperr.P{"param": "kind", "value": f.Kind}, "kind: %q is not one of %s", f.Kind, strings.Join(supervision.Kinds, ", "))
	}
	switch st := c.DefaultQuery("state", "all"); st {
	case "all":
	case "open":
		f.Unacked = true
	default:
		return f, "", apperr.BadParam.New(apperr.P{"param": "state", "value": st}, "state: %q is not open or all", st)
	}
	return f, c.Query("window"), nil
}

// handleAlerts lists alerts, newest first: ?from=&to= (default the last 7
// days), ?severity=yellow|red, ?kind=, ?hall=, ?window=, ?state=open|all,
// ?limit= (default 200), ?format=csv.
func (s *Server) handleAlerts(c *gin.Context) {
	f, window, err := s.alertFilter(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	if f.From, f.To, err = queryRange(c, s.Now(), 7*24*time.Hour, s.Config.Location()); err != nil {
		writeError(c, s.log, err)
		return
	}
	if f.Limit, err = queryLimit(c, analytics.DefaultAlertLimit, analytics.MaxAlertLimit); err != nil {
		writeError(c, s.log, err)
		return
	}
	list, err := s.Store.ListAlerts(c.Request.Context(), f)
	if err != nil {
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "alerts unavailable: retry later"))
		s.log.Warn("list alerts", "err", err)
		return
	}
	out := make([]alertView, 0, len(list))
	for _, a := range list {
		if window == "" || a.Window == window {
			out = append(out, viewAlert(a))
		}
	}
	if wantCSV(c) {
		rows := make([][]string, len(out))
		for i, v := range out {
			rows[i] = []string{v.ID, v.RaisedAt, v.Severity, v.Kind, v.Hall, v.Window, v.CaseID, v.Ticket, v.Item,
				v.Message, v.AckedBy, v.AckedAt, v.AckComment}
		}
		writeCSV(c, "alerts.csv", []string{"id", "raised_at", "severity", "kind", "hall", "window", "case_id", "ticket", "item",
			"message", "acked_by", "acked_at", "ack_comment"}, rows)
		return
	}
	c.JSON(http.StatusOK, gin.H{"alerts": out})
}

// maxAckComment bounds an acknowledgement's comment.
const maxAckComment = 2000

// handleAckAlert acknowledges an alert with a required comment:
// {"comment": "..."}. The acknowledgement is audited and pushed to every
// console.
func (s *Server) handleAckAlert(c *gin.Context) {
	var req struct {
		Comment string `json:"comment"`
	}
	if err := json.NewDecoder(io.LimitReader(c.Request.Body, 64<<10)).Decode(&req); err != nil {
		writeError(c, s.log, apperr.BadBody.New(nil, "body must be JSON {\"comment\": \"...\"}: %v", err))
		return
	}
	req.Comment = strings.TrimSpace(req.Comment)
	if req.Comment == "" {
		writeError(c, s.log, apperr.CommentRequired.New(nil, "comment: required (what was done about the alert)"))
		return
	}
	if len([]rune(req.Comment)) > maxAckComment {
		writeError(c, s.log, apperr.CommentTooLong.New(apperr.P{"max": maxAckComment}, "comment: longer than %d characters", maxAckComment))
		return
	}
	id := c.Param("id")
	p := caller(c)
	if !p.scope.all() {
		a, ok, err := s.Store.Alert(c.Request.Context(), id)
		if err == nil && ok && !p.scope.has(a.Hall) {
			writeError(c, s.log, apperr.AlertOutOfScope.New(apperr.P{"alert": id}, "alert %q is outside your scope", id))
			return
		}
	}
	a, err := s.Store.AckAlert(c.Request.Context(), id, p.name, req.Comment)
	switch {
	case errors.Is(err, analytics.ErrNoSuchAlert):
		writeError(c, s.log, apperr.AlertNotFound.New(apperr.P{"alert": id}, "alert %q: no such alert", id))
		return
	case errors.Is(err, analytics.ErrAlreadyAcked):
		writeError(c, s.log, apperr.AlertAcked.New(apperr.P{"alert": id, "by": a.AckedBy, "at": a.AckedAt.UTC().Format(time.RFC3339)},
			"alert %q was already acknowledged by %s at %s", id, a.AckedBy, a.AckedAt.Format(time.RFC3339)))
		return
	case err != nil:
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "alerts unavailable: retry later"))
		s.log.Warn("ack alert", "err", err)
		return
	}
	s.audit(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "alert_ack", Target: id, Detail: req.Comment})
	s.alerts.acked(a)
	c.JSON(http.StatusOK, viewAlert(a))
}

// handleAlertStream serves supervision alerts as server-sent events: first
// the open (unacknowledged) alerts of the last 7 days, oldest first, then
// every alert as it fires ("event: alert") and every acknowledgement
// ("event: ack"). ?severity=, ?kind=, ?hall=, ?window= filter both.
// ?snapshot=1 ends the stream after the open alerts (for scripts).
func (s *Server) handleAlertStream(c *gin.Context) {
	f, window, err := s.alertFilter(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	scope := caller(c).scope
	release, ok := s.openStream(c)
	if !ok {
		return
	}
	defer release()
	match := func(v alertView) bool {
		return scope.has(v.Hall) && (f.Severity == "" || v.Severity == f.Severity) && (f.Kind == "" || v.Kind == f.Kind) &&
			(f.Hall == "" || v.Hall == f.Hall) && (window == "" || v.Window == window)
	}
	// Subscribe before reading the open alerts: an alert raised meanwhile
	// may come twice (the console keys alerts by id), never not at all.
	sub := s.alerts.subscribe(match)
	defer s.alerts.unsubscribe(sub)
	f.From, f.Unacked, f.Limit = s.Now().Add(-7*24*time.Hour), true, 1000
	open, err := s.Store.ListAlerts(c.Request.Context(), f)
	if err != nil {
		s.log.Warn("alert stream: open alerts not loaded", "err", err)
	}

	w := c.Writer
	openSSE(w)
	for i := len(open) - 1; i >= 0; i-- {
		if v := viewAlert(open[i]); match(v) {
			writeSSE(w, sseMessage{event: "alert", id: v.ID, data: mustJSON(v)})
		}
	}
	w.Flush()
	if c.Query("snapshot") == "1" {
		return
	}
	s.pumpSSE(c, sub.ch, sub.gone)
}

func writeSSE(w io.Writer, m sseMessage) {
	if m.id != "" {
		fmt.Fprintf(w, "id: %s\n", m.id)
	}
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.event, m.data)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
