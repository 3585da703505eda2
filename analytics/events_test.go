package analytics_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/ingest"
)

type storedEvent struct {
	ingest.Event
	ReceivedAt time.Time
}

func storedEvents(t *testing.T, s *analytics.Store) []storedEvent {
	t.Helper()
	rows, err := s.Conn().Query(t.Context(), "SELECT event_id, type, ts, ts_ms, hall, `window`, case_id, ticket, item, staff, rating, received_at FROM events ORDER BY event_id")
	require.NoError(t, err)
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var (
			e      storedEvent
			typ    string
			ts     time.Time
			ms     uint16
			rating uint8
		)
		require.NoError(t, rows.Scan(&e.EventID, &typ, &ts, &ms, &e.Hall, &e.Window, &e.CaseID, &e.Ticket, &e.Item, &e.Staff, &rating, &e.ReceivedAt))
		e.Type = ingest.EventType(typ)
		e.TS = ts.Add(time.Duration(ms) * time.Millisecond)
		e.Rating = int(rating)
		out = append(out, e)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestInsertEventsDedupesAndRoundTrips(t *testing.T) {
	received := time.Date(2026, 11, 25, 1, 31, 0, 0, time.UTC)
	s := openStore(t, func() time.Time { return received.Add(400 * time.Millisecond) })
	shanghai := time.FixedZone("CST", 8*3600)
	base := time.Date(2026, 11, 25, 9, 30, 0, 123_456_789, shanghai)
	ev := func(id string, typ ingest.EventType, off time.Duration) ingest.Event {
		return ingest.Event{
			EventID: id, Type: typ, TS: base.Add(off), Hall: "city-main", Window: "A07",
			CaseID: "HH-2026-000123", Ticket: "A031", Item: "BL-0012", Staff: "E1021",
		}
	}
	rating := ev("e3", ingest.Rating, 3*time.Minute)
	rating.Rating = 5
	rating.Item = "带引号的'事项\\名称"

	n, err := s.InsertEvents(t.Context(), []ingest.Event{
		ev("e1", ingest.Called, 0),
		ev("e2", ingest.ServiceStarted, time.Minute),
		ev("e1", ingest.Called, 0), // duplicate within the batch
		rating,
	})
	require.NoError(t, err)
	require.Equal(t, 3, n)

	// Across batches: e1 and e3 are stored already, e4 is new; e4 twice.
	n, err = s.InsertEvents(t.Context(), []ingest.Event{
		ev("e1", ingest.Called, 0),
		ev("e4", ingest.ServiceEnded, 2*time.Minute),
		rating,
		ev("e4", ingest.ServiceEnded, 2*time.Minute),
	})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	// A batch of nothing new inserts nothing.
	n, err = s.InsertEvents(t.Context(), []ingest.Event{ev("e2", ingest.ServiceStarted, time.Minute)})
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = s.InsertEvents(t.Context(), nil)
	require.NoError(t, err)
	require.Zero(t, n)
	// The newest stored event re-sent (its time is the hall's newest, not
	// newer), and a re-sent one beside a new event of another hall whose
	// hall has nothing stored, and a new one of the same hall in between.
	n, err = s.InsertEvents(t.Context(), []ingest.Event{ev("e4", ingest.ServiceEnded, 2*time.Minute)})
	require.NoError(t, err)
	require.Zero(t, n, "the hall's newest event re-sent")
	other := ev("o1", ingest.Called, 30*time.Second)
	other.Hall = "district-xincheng"
	between := ev("e5", ingest.Called, 90*time.Second)
	n, err = s.InsertEvents(t.Context(), []ingest.Event{rating, other, between})
	require.NoError(t, err)
	require.Equal(t, 2, n, "o1 and e5 new, e3 stored")

	got := storedEvents(t, s)
	require.Len(t, got, 6)
	want := []ingest.Event{
		ev("e1", ingest.Called, 0),
		ev("e2", ingest.ServiceStarted, time.Minute),
		rating,
		ev("e4", ingest.ServiceEnded, 2*time.Minute),
		between,
		other,
	}
	for i, w := range want {
		g := got[i]
		require.Equal(t, w.TS.Truncate(time.Millisecond).UTC(), g.TS.UTC(), "ts of %s", w.EventID)
		require.Equal(t, time.UTC, g.TS.Location())
		require.Equal(t, 123, g.TS.Nanosecond()/int(time.Millisecond))
		w.TS = g.TS
		require.Equal(t, w, g.Event)
		require.Equal(t, received, g.ReceivedAt, "received_at of %s", w.EventID)
	}
}

func TestInsertEventsLargeBatch(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC) // spans two monthly partitions
	events := make([]ingest.Event, 20000)
	for i := range events {
		events[i] = ingest.Event{
			EventID: fmt.Sprintf("evt-%06d", i), Type: ingest.TicketIssued,
			TS: base.Add(time.Duration(i) * 500 * time.Millisecond), Hall: "city-main", Window: fmt.Sprintf("A%02d", i%20),
		}
	}
	n, err := s.InsertEvents(t.Context(), events)
	require.NoError(t, err)
	require.Equal(t, len(events), n)
	n, err = s.InsertEvents(t.Context(), events)
	require.NoError(t, err)
	require.Zero(t, n)

	var count uint64
	require.NoError(t, s.Conn().QueryRow(t.Context(), "SELECT count() FROM events").Scan(&count))
	require.Equal(t, uint64(len(events)), count)
}

func TestInsertEventsRejectsInvalid(t *testing.T) {
	s := openStore(t)
	ok := ingest.Event{EventID: "ok", Type: ingest.Called, TS: time.Now(), Hall: "h"}
	for name, bad := range map[string]ingest.Event{
		"no id":        {Type: ingest.Called, TS: time.Now()},
		"before 1970":  {EventID: "x", TS: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC)},
		"zero time":    {EventID: "x"},
		"rating > 255": {EventID: "x", TS: time.Now(), Rating: 300},
		"rating < 0":   {EventID: "x", TS: time.Now(), Rating: -1},
	} {
		t.Run(name, func(t *testing.T) {
			n, err := s.InsertEvents(t.Context(), []ingest.Event{ok, bad})
			require.ErrorIs(t, err, analytics.ErrInvalidEvent)
			require.Zero(t, n)
		})
	}
	require.Empty(t, storedEvents(t, s), "a failed batch wrote events")
}
