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
// inserted. An event whose id is already in the events table, or that repeats
// an earlier event of the same batch, is skipped: re-sending an event is a
// no-op (ReplacingMergeTree would only dedupe at merge time, and views fed by
// the table would count a re-delivered event twice). The new events go in one
// insert. Event times are stored in UTC with millisecond precision.
//
// The duplicate check sends the batch's ids as an external table and reads
// the event_id column of the events table, which is cheap at a hall's volume
// (a few thousand events a day). It covers concurrent calls on this Store;
// two Sunlight processes writing the same events to one database at the same
// moment could both insert them.
//
// An event without id, with a time a DateTime cannot hold or with a rating
// outside 0..255 fails the whole batch with ErrInvalidEvent.
func (s *Store) InsertEvents(ctx context.Context, events []ingest.Event) (inserted int, err error) {
	type row struct {
		ev     ingest.Event
		sec    time.Time
		ms     uint16
		rating uint8
	}
	batch := make([]row, 0, len(events))
	seen := make(map[string]struct{}, len(events))
	for i, ev := range events {
		if ev.EventID == "" {
			return 0, fmt.Errorf("%w: event %d has no event_id", ErrInvalidEvent, i)
		}
		sec, ms, ok := timeParts(ev.TS)
		if !ok {
			return 0, fmt.Errorf("%w: event %q: time %s is out of range", ErrInvalidEvent, ev.EventID, ev.TS.Format("2006-01-02T15:04:05Z07:00"))
		}
		if ev.Rating < 0 || ev.Rating > 255 {
			return 0, fmt.Errorf("%w: event %q: rating %d is out of range", ErrInvalidEvent, ev.EventID, ev.Rating)
		}
		if _, dup := seen[ev.EventID]; dup {
			continue
		}
		seen[ev.EventID] = struct{}{}
		batch = append(batch, row{ev: ev, sec: sec, ms: ms, rating: uint8(ev.Rating)})
	}
	if len(batch) == 0 {
		return 0, nil
	}

	s.insertMu.Lock()
	defer s.insertMu.Unlock()

	stored, err := s.storedEventIDs(ctx, seen)
	if err != nil {
		return 0, err
	}
	rows, err := newExternalTable(externalInsertTable, eventColumns)
	if err != nil {
		return 0, err
	}
	received, _, _ := timeParts(s.now())
	for _, r := range batch {
		if _, ok := stored[r.ev.EventID]; ok {
			continue
		}
		ev := r.ev
		if err := rows.Append(ev.EventID, string(ev.Type), r.sec, r.ms, ev.Hall, ev.Window,
			ev.CaseID, ev.Ticket, ev.Item, ev.Staff, r.rating, received); err != nil {
			return 0, fmt.Errorf("analytics: insert events: %w", err)
		}
		inserted++
	}
	if inserted == 0 {
		return 0, nil
	}
	if err := s.insertExternal(ctx, "events", eventColumns, rows); err != nil {
		return 0, err
	}
	return inserted, nil
}

// storedEventIDs returns which of ids the events table holds already.
func (s *Store) storedEventIDs(ctx context.Context, ids map[string]struct{}) (map[string]struct{}, error) {
	t, err := newExternalTable(externalIDsTable, []column{{"event_id", "String"}})
	if err != nil {
		return nil, err
	}
	for id := range ids {
		if err := t.Append(id); err != nil {
			return nil, fmt.Errorf("analytics: look up event ids: %w", err)
		}
	}
	rows, err := s.conn.Query(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)),
		`SELECT DISTINCT event_id FROM events WHERE event_id IN (SELECT event_id FROM `+externalIDsTable+`)`)
	if err != nil {
		return nil, fmt.Errorf("analytics: look up event ids: %w", err)
	}
	defer rows.Close()
	out := map[string]struct{}{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("analytics: look up event ids: %w", err)
		}
		out[id] = struct{}{}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: look up event ids: %w", err)
	}
	return out, nil
}
