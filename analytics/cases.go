package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// Errors of the case and legal-hold queries. They are of an apperr kind;
// the functions wrap them with the case id ("case CM-1: no such case")
// and return them with their code's parameters (errors.Is still matches
// the sentinel: it is of the same code).
var (
	// ErrCaseNotFound: no event carries the case id. Kind apperr.NotFound.
	ErrCaseNotFound = apperr.CaseNotFound.New(nil, "no such case")
	// ErrNoActiveHold: ReleaseHold on a case without an active legal hold.
	// Kind apperr.NotFound.
	ErrNoActiveHold = apperr.NoActiveHold.New(nil, "the case has no active legal hold")
	// ErrHoldActive: PlaceHold on a case that is held already. Kind
	// apperr.Conflict.
	ErrHoldActive = apperr.HoldActive.New(nil, "the case is already under legal hold")
	// ErrInvalidHold: PlaceHold or ReleaseHold without case id or person.
	// Kind apperr.Invalid.
	ErrInvalidHold = apperr.New(apperr.Invalid, "a legal hold needs a case id and who places or releases it")
)

// Hold is a legal hold on a case: while it is active (not released) the
// case's recordings must be kept. Times are UTC, whole seconds.
type Hold struct {
	CaseID   string
	PlacedBy string
	Reason   string
	PlacedAt time.Time
	// ReleasedBy and ReleasedAt are empty and zero while the hold is
	// active.
	ReleasedBy string
	ReleasedAt time.Time
}

// Active tells whether the hold is still in force.
func (h Hold) Active() bool { return h.ReleasedAt.IsZero() }

var holdColumns = []column{
	{"case_id", "String"},
	{"placed_by", "String"},
	{"reason", "String"},
	{"placed_at", "DateTime('UTC')"},
	{"released_by", "String"},
	{"released_at", "DateTime('UTC')"},
	{"version", "UInt64"},
}

// holdsMu serializes PlaceHold and ReleaseHold (the read of the current
// hold and the write of the new state) within the process. Two processes
// changing the same case's hold at the same moment are not serialized.
var holdsMu sync.Mutex

// PlaceHold puts the case under legal hold, placed now by by for reason. A
// case already held fails with ErrHoldActive; a released hold is replaced
// by the new one (the audit log keeps the history). The case need not
// have events yet.
func (s *Store) PlaceHold(ctx context.Context, caseID, by, reason string) error {
	if caseID == "" || by == "" {
		return fmt.Errorf("place legal hold: %w", ErrInvalidHold)
	}
	holdsMu.Lock()
	defer holdsMu.Unlock()
	h, ok, err := s.HoldOf(ctx, caseID)
	if err != nil {
		return err
	}
	if ok && h.Active() {
		return apperr.HoldActive.New(apperr.P{"case": caseID, "by": h.PlacedBy, "at": h.PlacedAt.UTC().Format(time.RFC3339)},
			"case %s: %w (placed by %s at %s)", caseID, ErrHoldActive, h.PlacedBy, h.PlacedAt.Format(time.RFC3339))
	}
	now := s.now()
	placed, _, ok := timeParts(now)
	if !ok {
		return fmt.Errorf("analytics: place legal hold: the clock's time %s is out of range", now.Format(time.RFC3339))
	}
	return s.writeHold(ctx, Hold{CaseID: caseID, PlacedBy: by, Reason: reason, PlacedAt: placed}, now)
}

// ReleaseHold releases the case's active legal hold, by by, now. A case
// without an active hold fails with ErrNoActiveHold.
func (s *Store) ReleaseHold(ctx context.Context, caseID, by string) error {
	if caseID == "" || by == "" {
		return fmt.Errorf("release legal hold: %w", ErrInvalidHold)
	}
	holdsMu.Lock()
	defer holdsMu.Unlock()
	h, ok, err := s.HoldOf(ctx, caseID)
	if err != nil {
		return err
	}
	if !ok || !h.Active() {
		return apperr.NoActiveHold.New(apperr.P{"case": caseID}, "case %s: %w", caseID, ErrNoActiveHold)
	}
	now := s.now()
	released, _, ok := timeParts(now)
	if !ok || released.Unix() == 0 {
		return fmt.Errorf("analytics: release legal hold: the clock's time %s is out of range", now.Format(time.RFC3339))
	}
	h.ReleasedBy, h.ReleasedAt = by, released
	return s.writeHold(ctx, h, now)
}

func (s *Store) writeHold(ctx context.Context, h Hold, now time.Time) error {
	t, err := newExternalTable(externalInsertTable, holdColumns)
	if err != nil {
		return err
	}
	released := time.Unix(0, 0).UTC()
	if !h.ReleasedAt.IsZero() {
		released = h.ReleasedAt
	}
	if err := t.Append(h.CaseID, h.PlacedBy, h.Reason, h.PlacedAt, h.ReleasedBy, released, nextVersion(now)); err != nil {
		return fmt.Errorf("analytics: write legal hold: %w", err)
	}
	return s.insertExternal(ctx, "legal_holds", holdColumns, t)
}

const holdSelect = "SELECT case_id, placed_by, reason, placed_at, released_by, released_at FROM legal_holds FINAL"

// ActiveHolds returns the legal holds in force, ordered by case id.
func (s *Store) ActiveHolds(ctx context.Context) ([]Hold, error) {
	out, err := s.queryHolds(ctx, holdSelect+" WHERE released_at = toDateTime(0, 'UTC') ORDER BY case_id")
	if err != nil {
		return nil, fmt.Errorf("analytics: active legal holds: %w", err)
	}
	return out, nil
}

// HoldOf returns the case's latest legal hold, active or released (see
// Hold.Active); ok is false when the case never had one.
func (s *Store) HoldOf(ctx context.Context, caseID string) (h Hold, ok bool, err error) {
	out, err := s.queryHolds(ctx, holdSelect+" WHERE case_id = ?", caseID)
	if err != nil {
		return Hold{}, false, fmt.Errorf("analytics: legal hold of case %s: %w", caseID, err)
	}
	if len(out) == 0 {
		return Hold{}, false, nil
	}
	return out[0], true, nil
}

func (s *Store) queryHolds(ctx context.Context, query string, args ...any) ([]Hold, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hold
	for rows.Next() {
		var h Hold
		if err := rows.Scan(&h.CaseID, &h.PlacedBy, &h.Reason, &h.PlacedAt, &h.ReleasedBy, &h.ReleasedAt); err != nil {
			return nil, err
		}
		h.PlacedAt = h.PlacedAt.UTC()
		if h.ReleasedAt.Unix() == 0 {
			h.ReleasedAt = time.Time{}
		} else {
			h.ReleasedAt = h.ReleasedAt.UTC()
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// CaseEvent is one event of a case's timeline. Times are UTC, millisecond
// precision.
type CaseEvent struct {
	TS                                      time.Time
	Type, Hall, Window, Ticket, Item, Staff string
	Rating                                  int
	EventID                                 string
}

// ServiceInterval is a time a case's applicant was served at a window:
// from service_started to service_ended.
type ServiceInterval struct {
	Window, Hall string
	Start, End   time.Time
	// Unended tells that no service_ended was recorded for the start: End
	// is then estimated (see CaseIntervals).
	Unended bool
}

// VisitSpan bounds the visit of a ticket around a case event: see
// CaseEvents.
const VisitSpan = 12 * time.Hour

// MaxUnendedService bounds the estimated end of a service without
// service_ended: see CaseIntervals.
const MaxUnendedService = time.Hour

// ticketEventTypes are the events of a ticket's visit (as opposed to a
// case's).
var ticketEventTypes = []ingest.EventType{ingest.TicketIssued, ingest.Called, ingest.ServiceStarted, ingest.ServiceEnded, ingest.Rating}

// externalTicketsTable is the external table through which CaseEvents asks
// for the events of the case's tickets.
const externalTicketsTable = "_sunlight_case_tickets"

const caseEventSelect = "SELECT event_id, type, ts, ts_ms, hall, `window`, ticket, item, staff, rating FROM events"

// CaseEvents returns the case's timeline, ordered by time (ties by event
// id): every event that carries the case id, and the events of the visits
// of the ticket(s) the case was handled with (ticket_issued, called,
// service_started, service_ended, rating), which do not all carry it.
//
// A visit is found from each event that carries both the case id and a
// ticket (case_accepted, case_rejected, service_ended, ...): the events of
// that ticket at the same hall from the ticket's last ticket_issued at or
// before the case event up to (not including) its next ticket_issued,
// and never more than VisitSpan (12 h) before or after the case event.
// Tickets are daily sequences: the next issue of the same number (another
// day's visit) ends the visit, and the span keeps out another day's events
// when an issue is missing. The bound does not depend on a calendar day,
// so it works in any time zone and for halls open around the clock.
//
// A case id without events fails with ErrCaseNotFound.
func (s *Store) CaseEvents(ctx context.Context, caseID string) ([]CaseEvent, error) {
	evs, err := s.caseEvents(ctx, caseID)
	if err != nil {
		return nil, caseError(caseID, err)
	}
	return evs, nil
}

// caseError wraps an error of a case query: the text of "no such case" is
// shown to API clients, so it names the case, not this package.
func caseError(caseID string, err error) error {
	if errors.Is(err, ErrCaseNotFound) {
		return apperr.CaseNotFound.New(apperr.P{"case": caseID}, "case %s: %w", caseID, ErrCaseNotFound)
	}
	return fmt.Errorf("analytics: case %s: %w", caseID, err)
}

func (s *Store) caseEvents(ctx context.Context, caseID string) ([]CaseEvent, error) {
	notFound := apperr.CaseNotFound.New(apperr.P{"case": caseID}, "%w", ErrCaseNotFound)
	if caseID == "" {
		return nil, notFound
	}
	own, err := s.queryCaseEvents(ctx, caseEventSelect+" WHERE case_id = ?", caseID)
	if err != nil {
		return nil, err
	}
	if len(own) == 0 {
		return nil, notFound
	}

	// The visits' anchors: the case's events with hall and ticket.
	type ticket struct{ hall, ticket string }
	anchors := map[ticket][]time.Time{}
	var lo, hi time.Time
	for _, e := range own {
		if e.Hall == "" || e.Ticket == "" {
			continue
		}
		k := ticket{e.Hall, e.Ticket}
		anchors[k] = append(anchors[k], e.TS)
		if lo.IsZero() || e.TS.Before(lo) {
			lo = e.TS
		}
		if hi.IsZero() || e.TS.After(hi) {
			hi = e.TS
		}
	}
	all := own
	if len(anchors) > 0 {
		t, err := newExternalTable(externalTicketsTable, []column{{"hall", "String"}, {"ticket", "String"}})
		if err != nil {
			return nil, err
		}
		for k := range anchors {
			if err := t.Append(k.hall, k.ticket); err != nil {
				return nil, err
			}
		}
		types := make([]any, len(ticketEventTypes))
		for i, typ := range ticketEventTypes {
			types[i] = string(typ)
		}
		from := max(lo.Add(-VisitSpan).Unix(), 0)
		to := hi.Add(VisitSpan).Unix() + 1
		args := append([]any{from, to}, types...)
		cand, err := s.queryCaseEvents(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)),
			caseEventSelect+" WHERE ts >= toDateTime(?, 'UTC') AND ts <= toDateTime(?, 'UTC')"+
				" AND type IN (?"+strings.Repeat(", ?", len(types)-1)+")"+
				" AND (hall, ticket) IN (SELECT hall, ticket FROM "+externalTicketsTable+")", args...)
		if err != nil {
			return nil, err
		}
		// The issues of each ticket, sorted (cand is sorted by time).
		issues := map[ticket][]time.Time{}
		for _, e := range cand {
			if e.Type == string(ingest.TicketIssued) {
				k := ticket{e.Hall, e.Ticket}
				issues[k] = append(issues[k], e.TS)
			}
		}
		for _, e := range cand {
			k := ticket{e.Hall, e.Ticket}
			for _, a := range anchors[k] {
				if inVisit(e.TS, a, issues[k]) {
					all = append(all, e)
					break
				}
			}
		}
	}

	seen := make(map[string]struct{}, len(all))
	out := all[:0:0]
	for _, e := range all {
		if _, dup := seen[e.EventID]; dup {
			continue
		}
		seen[e.EventID] = struct{}{}
		out = append(out, e)
	}
	sortCaseEvents(out)
	return out, nil
}

// inVisit tells whether ts is in the visit around the case event at a,
// given the sorted issue times of the ticket: from the last issue at or
// before a to the next issue after a (exclusive), within VisitSpan of a.
func inVisit(ts, a time.Time, issues []time.Time) bool {
	lo, hi := a.Add(-VisitSpan), a.Add(VisitSpan)
	if ts.Before(lo) || ts.After(hi) {
		return false
	}
	// i is the first issue after a.
	i, _ := slices.BinarySearchFunc(issues, a, func(x, a time.Time) int {
		if x.After(a) {
			return 1
		}
		return -1
	})
	if i > 0 && ts.Before(issues[i-1]) {
		return false
	}
	if i < len(issues) && !ts.Before(issues[i]) {
		return false
	}
	return true
}

func sortCaseEvents(evs []CaseEvent) {
	slices.SortFunc(evs, func(a, b CaseEvent) int {
		if c := a.TS.Compare(b.TS); c != 0 {
			return c
		}
		if a.EventID < b.EventID {
			return -1
		}
		if a.EventID > b.EventID {
			return 1
		}
		return 0
	})
}

func (s *Store) queryCaseEvents(ctx context.Context, query string, args ...any) ([]CaseEvent, error) {
	rows, err := s.conn.Query(ctx, query+" ORDER BY ts, ts_ms, event_id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CaseEvent
	for rows.Next() {
		var (
			e      CaseEvent
			ts     time.Time
			ms     uint16
			rating uint8
		)
		if err := rows.Scan(&e.EventID, &e.Type, &ts, &ms, &e.Hall, &e.Window, &e.Ticket, &e.Item, &e.Staff, &rating); err != nil {
			return nil, err
		}
		e.TS = joinTime(ts, ms)
		e.Rating = int(rating)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// CaseIntervals returns the times the case's applicant was served: each
// service_started of the case's timeline (see CaseEvents) paired with the
// next service_ended at the same hall and window, ordered by start. A
// service_ended without a start before it is ignored.
//
// A start without an end (the end was never sent, or the service is still
// going on) ends at the window's next event that shows it moved on (a
// called or service_started of any ticket, window_paused or window_closed)
// or, if none came, MaxUnendedService (1 h, longer than any normal service)
// after the start; such an interval has Unended set. The handling times of
// the items are not known here, so they are not used. A second start at a
// window before an end closes the first interval at the second start.
//
// A case id without events fails with ErrCaseNotFound.
func (s *Store) CaseIntervals(ctx context.Context, caseID string) ([]ServiceInterval, error) {
	evs, err := s.caseEvents(ctx, caseID)
	if err != nil {
		return nil, caseError(caseID, err)
	}
	type place struct{ hall, window string }
	open := map[place]int{} // index in out of the interval open at a window
	var out []ServiceInterval
	for _, e := range evs {
		p := place{e.Hall, e.Window}
		switch ingest.EventType(e.Type) {
		case ingest.ServiceStarted:
			if i, ok := open[p]; ok {
				out[i].End = e.TS
			}
			open[p] = len(out)
			out = append(out, ServiceInterval{Window: e.Window, Hall: e.Hall, Start: e.TS, Unended: true})
		case ingest.ServiceEnded:
			if i, ok := open[p]; ok {
				out[i].End, out[i].Unended = e.TS, false
				delete(open, p)
			}
		}
	}
	for p, i := range open {
		end, err := s.windowMovedOn(ctx, p.hall, p.window, out[i].Start)
		if err != nil {
			return nil, fmt.Errorf("analytics: case %s: %w", caseID, err)
		}
		out[i].End = end
	}
	slices.SortStableFunc(out, func(a, b ServiceInterval) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// windowMovedOn returns the time of the window's first event after start
// that shows its service ended, or start + MaxUnendedService.
func (s *Store) windowMovedOn(ctx context.Context, hall, window string, start time.Time) (time.Time, error) {
	limit := start.Add(MaxUnendedService)
	startMs := start.UnixMilli()
	next, err := s.queryCaseEvents(ctx, caseEventSelect+" WHERE hall = ? AND `window` = ?"+
		" AND ts >= toDateTime(?, 'UTC') AND ts <= toDateTime(?, 'UTC') AND toUInt64(ts) * 1000 + ts_ms > ?"+
		" AND type IN (?, ?, ?, ?)",
		hall, window, startMs/1000, limit.Unix()+1, startMs,
		string(ingest.Called), string(ingest.ServiceStarted), string(ingest.WindowPaused), string(ingest.WindowClosed))
	if err != nil {
		return time.Time{}, err
	}
	if len(next) > 0 && !next[0].TS.After(limit) {
		return next[0].TS, nil
	}
	return limit, nil
}
