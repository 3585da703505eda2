package analytics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/analytics/supervision"
)

// ErrNoSuchAlert is returned (wrapped) by Store.AckAlert for an unknown id.
var ErrNoSuchAlert = errors.New("analytics: no such alert")

// ErrAlreadyAcked is returned (wrapped) by Store.AckAlert when the alert was
// acknowledged before; the first acknowledgement stands.
var ErrAlreadyAcked = errors.New("analytics: alert already acknowledged")

// StoredAlert is an alert as stored, with its acknowledgement if any.
type StoredAlert struct {
	supervision.Alert
	AckedBy    string
	AckComment string
	AckedAt    time.Time // zero while unacknowledged
}

// Acked reports whether the alert was acknowledged.
func (a StoredAlert) Acked() bool { return !a.AckedAt.IsZero() }

// AlertFilter selects alerts with From <= RaisedAt < To (a zero bound is
// open) and, when set, the given severity, kind and hall; Unacked keeps the
// unacknowledged ones. Limit caps the list (default 200, at most 10000).
type AlertFilter struct {
	From, To             time.Time
	Severity, Kind, Hall string
	// Halls, when not nil, keeps these halls only; empty keeps none.
	Halls   []string
	Unacked bool
	Limit   int
}

var alertColumns = []column{
	{"id", "String"},
	{"kind", "String"},
	{"severity", "String"},
	{"hall", "String"},
	{"window", "String"},
	{"case_id", "String"},
	{"ticket", "String"},
	{"item", "String"},
	{"message", "String"},
	{"message_en", "String"},
	{"raised_at", "DateTime('UTC')"},
}

var alertAckColumns = []column{
	{"alert_id", "String"},
	{"acked_by", "String"},
	{"comment", "String"},
	{"acked_at", "DateTime('UTC')"},
}

// InsertAlerts stores alerts as they fire, in one insert.
func (s *Store) InsertAlerts(ctx context.Context, alerts []supervision.Alert) error {
	if len(alerts) == 0 {
		return nil
	}
	rows, err := newExternalTable(externalInsertTable, alertColumns)
	if err != nil {
		return err
	}
	for _, a := range alerts {
		sec, _, ok := timeParts(a.RaisedAt)
		if !ok {
			return fmt.Errorf("analytics: alert %s: time %s is out of range", a.ID, a.RaisedAt)
		}
		if err := rows.Append(a.ID, a.Kind, a.Severity, a.Hall, a.Window, a.CaseID, a.Ticket, a.Item,
			a.Message, a.MessageEN, sec); err != nil {
			return fmt.Errorf("analytics: insert alerts: %w", err)
		}
	}
	return s.insertExternal(ctx, "alerts", alertColumns, rows)
}

// Alert list limits.
const (
	DefaultAlertLimit = 200
	MaxAlertLimit     = 10000
)

// ListAlerts returns the alerts f selects, newest first.
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]StoredAlert, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAlertLimit
	}
	limit = min(limit, MaxAlertLimit)
	var where []string
	var args []any
	if !f.From.IsZero() {
		where, args = append(where, "raised_at >= toDateTime(?, 'UTC')"), append(args, f.From.Unix())
	}
	if !f.To.IsZero() {
		where, args = append(where, "raised_at < toDateTime(?, 'UTC')"), append(args, f.To.Unix())
	}
	for _, c := range []struct{ col, v string }{{"severity", f.Severity}, {"kind", f.Kind}, {"hall", f.Hall}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	if w := hallsWhere("hall", f.Halls); w != "" {
		where = append(where, w)
	}
	cond := ""
	if len(where) > 0 {
		cond = "WHERE " + strings.Join(where, " AND ")
	}
	having := ""
	if f.Unacked {
		having = "WHERE ack_at = toDateTime(0, 'UTC')"
	}
	// The acknowledgements are few and recent: joined by id, the first
	// one per alert counts. A row stored twice is grouped by id.
	// Aliases differ from column names: on ClickHouse an alias shadows the
	// column in WHERE, which would put an aggregate there.
	query := `SELECT id, a_kind, a_severity, a_hall, a_window, a_case, a_ticket, a_item, a_message, a_message_en,
	        first_raised, ack_by, ack_comment, ack_at
	FROM (
	    SELECT id, any(kind) AS a_kind, any(severity) AS a_severity, any(hall) AS a_hall, any(` + "`window`" + `) AS a_window,
	           any(case_id) AS a_case, any(ticket) AS a_ticket, any(item) AS a_item, any(message) AS a_message,
	           any(message_en) AS a_message_en, min(raised_at) AS first_raised
	    FROM alerts ` + cond + `
	    GROUP BY id
	) ANY LEFT JOIN (
	    SELECT alert_id AS id, argMin(acked_by, acked_at) AS ack_by, argMin(comment, acked_at) AS ack_comment,
	           min(acked_at) AS ack_at
	    FROM alert_acks GROUP BY alert_id
	) USING id
	` + having + `
	ORDER BY first_raised DESC, id
	LIMIT ` + fmt.Sprint(limit)
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: list alerts: %w", err)
	}
	defer rows.Close()
	var out []StoredAlert
	for rows.Next() {
		var a StoredAlert
		var raised, acked time.Time
		if err := rows.Scan(&a.ID, &a.Kind, &a.Severity, &a.Hall, &a.Window, &a.CaseID, &a.Ticket, &a.Item,
			&a.Message, &a.MessageEN, &raised, &a.AckedBy, &a.AckComment, &acked); err != nil {
			return nil, fmt.Errorf("analytics: list alerts: %w", err)
		}
		a.RaisedAt = raised.UTC()
		if acked.Unix() > 0 {
			a.AckedAt = acked.UTC()
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: list alerts: %w", err)
	}
	return out, nil
}

// AlertIDs returns the ids of the alerts raised at or after since, so that
// a restarted supervision engine does not raise them again.
func (s *Store) AlertIDs(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT id FROM alerts WHERE raised_at >= toDateTime(?, 'UTC')`, max(since.Unix(), 0))
	if err != nil {
		return nil, fmt.Errorf("analytics: alert ids: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("analytics: alert ids: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// AckAlert records that by acknowledged the alert id with comment, and
// returns the alert as acknowledged. An unknown id is ErrNoSuchAlert; an
// alert acknowledged before is ErrAlreadyAcked with the first
// acknowledgement in the returned alert.
func (s *Store) AckAlert(ctx context.Context, id, by, comment string) (StoredAlert, error) {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	a, ok, err := s.alertByID(ctx, id)
	if err != nil {
		return StoredAlert{}, err
	}
	if !ok {
		return StoredAlert{}, fmt.Errorf("%w: %q", ErrNoSuchAlert, id)
	}
	if a.Acked() {
		return a, fmt.Errorf("%w: by %s at %s", ErrAlreadyAcked, a.AckedBy, a.AckedAt.Format(time.RFC3339))
	}
	now := s.now()
	rows, err := newExternalTable(externalInsertTable, alertAckColumns)
	if err != nil {
		return StoredAlert{}, err
	}
	if err := rows.Append(id, by, comment, time.Unix(now.Unix(), 0).UTC()); err != nil {
		return StoredAlert{}, fmt.Errorf("analytics: acknowledge alert: %w", err)
	}
	if err := s.insertExternal(ctx, "alert_acks", alertAckColumns, rows); err != nil {
		return StoredAlert{}, err
	}
	a.AckedBy, a.AckComment, a.AckedAt = by, comment, time.Unix(now.Unix(), 0).UTC()
	return a, nil
}

// Alert returns one alert by id, ok false when there is none.
func (s *Store) Alert(ctx context.Context, id string) (StoredAlert, bool, error) {
	return s.alertByID(ctx, id)
}

func (s *Store) alertByID(ctx context.Context, id string) (StoredAlert, bool, error) {
	rows, err := s.conn.Query(ctx, `SELECT any(kind), any(severity), any(hall), any(`+"`window`"+`), any(case_id),
	    any(ticket), any(item), any(message), any(message_en), min(raised_at), count()
	FROM alerts WHERE id = ?`, id)
	if err != nil {
		return StoredAlert{}, false, fmt.Errorf("analytics: alert %s: %w", id, err)
	}
	a := StoredAlert{Alert: supervision.Alert{ID: id}}
	var raised time.Time
	var n uint64
	for rows.Next() {
		if err := rows.Scan(&a.Kind, &a.Severity, &a.Hall, &a.Window, &a.CaseID, &a.Ticket, &a.Item,
			&a.Message, &a.MessageEN, &raised, &n); err != nil {
			rows.Close()
			return StoredAlert{}, false, fmt.Errorf("analytics: alert %s: %w", id, err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return StoredAlert{}, false, fmt.Errorf("analytics: alert %s: %w", id, err)
	}
	if n == 0 {
		return StoredAlert{}, false, nil
	}
	a.RaisedAt = raised.UTC()
	acks, err := s.conn.Query(ctx, `SELECT acked_by, comment, acked_at FROM alert_acks WHERE alert_id = ? ORDER BY acked_at LIMIT 1`, id)
	if err != nil {
		return StoredAlert{}, false, fmt.Errorf("analytics: alert %s: %w", id, err)
	}
	defer acks.Close()
	for acks.Next() {
		var at time.Time
		if err := acks.Scan(&a.AckedBy, &a.AckComment, &at); err != nil {
			return StoredAlert{}, false, fmt.Errorf("analytics: alert %s: %w", id, err)
		}
		a.AckedAt = at.UTC()
	}
	return a, true, acks.Err()
}
