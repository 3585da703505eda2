package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sunlight-gov/sunlight/ingest"
)

// eventColumns are the columns of the events table that InsertEvents writes,
// in the order of the values it appends.
var eventColumns = []column{
	{"event_id", "String"},
	{"type", "String"},
	{"ts", "DateTime('UTC')"},
	{"ts_ms", "UInt16"},
	{"hall", "String"},
	{"window", "String"},
	{"case_id", "String"},
	{"ticket", "String"},
	{"item", "String"},
	{"staff", "String"},
	{"rating", "UInt8"},
	{"received_at", "DateTime('UTC')"},
}

// externalIDsTable is the external table through which InsertEvents asks
// which event ids are stored already.
const externalIDsTable = "_sunlight_event_ids"

// InsertEvents stores events that are not stored yet and returns how many it
// inserted; see InsertNewEvents.
func (s *Store) InsertEvents(ctx context.Context, events []ingest.Event) (inserted int, err error) {
	fresh, err := s.InsertNewEvents(ctx, events)
	return len(fresh), err
}

// InsertNewEvents stores the events that are not stored yet, in one insert,
// and returns them (in batch order). An event whose id is already in the
// events table, or that repeats an earlier event of the same batch, is
// skipped: re-sending an event is a no-op (ReplacingMergeTree would only
// dedupe at merge time, and views fed by the table would count a
// re-delivered event twice). Event times are stored in UTC with millisecond
// precision.
//
// A re-sent event is the same event: the same id, hall and time. The
// duplicate check first asks for each hall the newest stored event time
// within the batch's time range; only the batch's events not newer than
// that can be stored already (a live stream's new events are newer than
// anything stored, and need no lookup). Those are sent as an external
// table and looked up by id among the stored events of their time range.
// The first question reads the hall and time columns only; the lookup of
// every id of a 200,000-event batch, which it mostly spares, was a fifth
// of ClickHouse's CPU per event in make bench. It covers concurrent calls
// on this Store, and other writers of the table as far as they finished
// their inserts; two Sunlight processes writing the same events to one
// database at the same moment could both insert them.
//
// An event without id, with a time a DateTime cannot hold or with a rating
// outside 0..255 fails the whole batch with ErrInvalidEvent.
func (s *Store) InsertNewEvents(ctx context.Context, events []ingest.Event) ([]ingest.Event, error) {
	type row struct {
		i      int // in events
		sec    time.Time
		ms     uint16
		rating uint8
	}
	batch := make([]row, 0, len(events))
	seen := make(map[string]struct{}, len(events))
	var minSec, maxSec int64
	for i, ev := range events {
		if ev.EventID == "" {
			return nil, fmt.Errorf("%w: event %d has no event_id", ErrInvalidEvent, i)
		}
		sec, ms, ok := timeParts(ev.TS)
		if !ok {
			return nil, fmt.Errorf("%w: event %q: time %s is out of range", ErrInvalidEvent, ev.EventID, ev.TS.Format("2006-01-02T15:04:05Z07:00"))
		}
		if ev.Rating < 0 || ev.Rating > 255 {
			return nil, fmt.Errorf("%w: event %q: rating %d is out of range", ErrInvalidEvent, ev.EventID, ev.Rating)
		}
		if _, dup := seen[ev.EventID]; dup {
			continue
		}
		seen[ev.EventID] = struct{}{}
		if u := sec.Unix(); len(batch) == 0 {
			minSec, maxSec = u, u
		} else {
			minSec, maxSec = min(minSec, u), max(maxSec, u)
		}
		batch = append(batch, row{i: i, sec: sec, ms: ms, rating: uint8(ev.Rating)})
	}
	if len(batch) == 0 {
		return nil, nil
	}

	s.insertMu.Lock()
	defer s.insertMu.Unlock()

	latest, err := s.newestStored(ctx, minSec, maxSec)
	if err != nil {
		return nil, err
	}
	var maybe []string // may be stored already
	var maybeMin, maybeMax int64
	for _, r := range batch {
		ev := &events[r.i]
		if l, ok := latest[ev.Hall]; !ok || r.sec.Unix() > l {
			continue
		}
		if u := r.sec.Unix(); len(maybe) == 0 {
			maybeMin, maybeMax = u, u
		} else {
			maybeMin, maybeMax = min(maybeMin, u), max(maybeMax, u)
		}
		maybe = append(maybe, ev.EventID)
	}
	stored := map[string]bool{}
	if len(maybe) > 0 {
		if stored, err = s.storedEventIDs(ctx, maybe, maybeMin, maybeMax); err != nil {
			return nil, err
		}
	}
	received, _, _ := timeParts(s.now())
	fresh := make([]ingest.Event, 0, len(batch))
	c := newEventCols(len(batch))
	for _, r := range batch {
		ev := &events[r.i]
		if stored[ev.EventID] {
			continue
		}
		at := received
		if s.history {
			at = r.sec
		}
		c.add(ev, r.sec, r.ms, r.rating, at)
		fresh = append(fresh, *ev)
	}
	if len(fresh) == 0 {
		return nil, nil
	}
	rows, release, err := borrowExternalTable(externalInsertTable, eventColumns)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := appendColumns(rows, c.id, c.typ, c.ts, c.ms, c.hall, c.window, c.caseID, c.ticket, c.item, c.staff, c.rating, c.received); err != nil {
		return nil, err
	}
	if err := s.insertExternal(ctx, "events", eventColumns, rows); err != nil {
		return nil, err
	}
	return fresh, nil
}

// eventCols holds events as the columns of eventColumns.
type eventCols struct {
	id, typ, hall, window, caseID, ticket, item, staff []string
	ts, received                                       []time.Time
	ms                                                 []uint16
	rating                                             []uint8
}

func newEventCols(n int) *eventCols {
	str := func() []string { return make([]string, 0, n) }
	return &eventCols{id: str(), typ: str(), hall: str(), window: str(), caseID: str(), ticket: str(), item: str(), staff: str(),
		ts: make([]time.Time, 0, n), received: make([]time.Time, 0, n), ms: make([]uint16, 0, n), rating: make([]uint8, 0, n)}
}

func (c *eventCols) add(ev *ingest.Event, sec time.Time, ms uint16, rating uint8, received time.Time) {
	c.id = append(c.id, ev.EventID)
	c.typ = append(c.typ, string(ev.Type))
	c.ts = append(c.ts, sec)
	c.ms = append(c.ms, ms)
	c.hall = append(c.hall, ev.Hall)
	c.window = append(c.window, ev.Window)
	c.caseID = append(c.caseID, ev.CaseID)
	c.ticket = append(c.ticket, ev.Ticket)
	c.item = append(c.item, ev.Item)
	c.staff = append(c.staff, ev.Staff)
	c.rating = append(c.rating, rating)
	c.received = append(c.received, received)
}

// newestStored returns, for each hall with stored events whose time lies
// in minSec..maxSec (Unix seconds), the newest of those times.
func (s *Store) newestStored(ctx context.Context, minSec, maxSec int64) (map[string]int64, error) {
	rows, err := s.conn.Query(ctx, `SELECT hall, toUInt32(max(ts)) FROM events
		 WHERE ts >= toDateTime(?, 'UTC') AND ts <= toDateTime(?, 'UTC') GROUP BY hall`, minSec, maxSec)
	if err != nil {
		return nil, fmt.Errorf("analytics: look up stored events: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var hall string
		var newest uint32
		if err := rows.Scan(&hall, &newest); err != nil {
			return nil, fmt.Errorf("analytics: look up stored events: %w", err)
		}
		out[hall] = int64(newest)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: look up stored events: %w", err)
	}
	return out, nil
}

var eventIDColumns = []column{{"event_id", "String"}}

// storedEventIDs returns which of ids the events table holds already among
// its events with minSec <= ts <= maxSec (Unix seconds).
func (s *Store) storedEventIDs(ctx context.Context, ids []string, minSec, maxSec int64) (map[string]bool, error) {
	t, release, err := borrowExternalTable(externalIDsTable, eventIDColumns)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := appendColumns(t, ids); err != nil {
		return nil, err
	}
	return s.stringSet(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), "look up event ids",
		`SELECT DISTINCT event_id FROM events
		 WHERE ts >= toDateTime(?, 'UTC') AND ts <= toDateTime(?, 'UTC')
		   AND event_id IN (SELECT event_id FROM `+externalIDsTable+`)`, minSec, maxSec)
}

// EventsBetween returns the stored events with from <= ts < to (a zero to is
// open), in time order (ties by event id). For rebuilding state: a day of a
// large city is a few hundred thousand events.
func (s *Store) EventsBetween(ctx context.Context, from, to time.Time) ([]ingest.Event, error) {
	query := "SELECT event_id, type, ts, ts_ms, hall, `window`, case_id, ticket, item, staff, rating FROM events WHERE ts >= toDateTime(?, 'UTC')"
	args := []any{max(from.Unix(), 0)}
	if !to.IsZero() {
		query += " AND ts < toDateTime(?, 'UTC')"
		args = append(args, max(to.Unix(), 0))
	}
	rows, err := s.conn.Query(ctx, query+" ORDER BY ts, ts_ms, event_id", args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: read events: %w", err)
	}
	defer rows.Close()
	var out []ingest.Event
	for rows.Next() {
		var (
			ev     ingest.Event
			typ    string
			sec    time.Time
			ms     uint16
			rating uint8
		)
		if err := rows.Scan(&ev.EventID, &typ, &sec, &ms, &ev.Hall, &ev.Window, &ev.CaseID, &ev.Ticket, &ev.Item, &ev.Staff, &rating); err != nil {
			return nil, fmt.Errorf("analytics: read events: %w", err)
		}
		ev.Type, ev.TS, ev.Rating = ingest.EventType(typ), joinTime(sec, ms), int(rating)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: read events: %w", err)
	}
	return out, nil
}
