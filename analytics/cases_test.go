package analytics_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

func TestLegalHolds(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	s := openStore(t, func() time.Time { return time.Unix(0, clock.Load()).UTC() })
	ctx := t.Context()
	advance := func(d time.Duration) time.Time {
		return time.Unix(0, clock.Add(int64(d))).UTC()
	}

	_, ok, err := s.HoldOf(ctx, "C1")
	require.NoError(t, err)
	require.False(t, ok)
	active, err := s.ActiveHolds(ctx)
	require.NoError(t, err)
	require.Empty(t, active)

	err = s.ReleaseHold(ctx, "C1", "bob")
	require.ErrorIs(t, err, analytics.ErrNoActiveHold)
	require.ErrorIs(t, err, apperr.NotFound)

	require.ErrorIs(t, s.PlaceHold(ctx, "", "alice", "x"), apperr.Invalid)
	require.ErrorIs(t, s.PlaceHold(ctx, "C1", "", "x"), apperr.Invalid)
	require.ErrorIs(t, s.ReleaseHold(ctx, "C1", ""), apperr.Invalid)

	require.NoError(t, s.PlaceHold(ctx, "C1", "alice", "court order 2026-17"))
	h1 := analytics.Hold{CaseID: "C1", PlacedBy: "alice", Reason: "court order 2026-17", PlacedAt: t0}
	h, ok, err := s.HoldOf(ctx, "C1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, h1, h)
	require.True(t, h.Active())

	err = s.PlaceHold(ctx, "C1", "carol", "again")
	require.ErrorIs(t, err, analytics.ErrHoldActive)
	require.ErrorIs(t, err, apperr.Conflict)

	t1 := advance(90*time.Second + 300*time.Millisecond)
	require.NoError(t, s.PlaceHold(ctx, "C2", "alice", "complaint"))
	h2 := analytics.Hold{CaseID: "C2", PlacedBy: "alice", Reason: "complaint", PlacedAt: t1.Truncate(time.Second)}
	active, err = s.ActiveHolds(ctx)
	require.NoError(t, err)
	require.Equal(t, []analytics.Hold{h1, h2}, active)

	// Released within the same clock second as nothing else: the version,
	// not the time, orders the rows.
	t2 := advance(time.Hour)
	require.NoError(t, s.ReleaseHold(ctx, "C1", "bob"))
	h, ok, err = s.HoldOf(ctx, "C1")
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, h.Active())
	released := h1
	released.ReleasedBy, released.ReleasedAt = "bob", t2.Truncate(time.Second)
	require.Equal(t, released, h)
	active, err = s.ActiveHolds(ctx)
	require.NoError(t, err)
	require.Equal(t, []analytics.Hold{h2}, active)
	require.ErrorIs(t, s.ReleaseHold(ctx, "C1", "bob"), apperr.NotFound)

	// A released case can be held again; with a clock that stands still the
	// new hold still replaces the released one.
	require.NoError(t, s.PlaceHold(ctx, "C1", "carol", "appeal"))
	h, ok, err = s.HoldOf(ctx, "C1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, analytics.Hold{CaseID: "C1", PlacedBy: "carol", Reason: "appeal", PlacedAt: t2.Truncate(time.Second)}, h)

	// After a merge too.
	require.NoError(t, s.Conn().Exec(ctx, "OPTIMIZE TABLE legal_holds FINAL"))
	active, err = s.ActiveHolds(ctx)
	require.NoError(t, err)
	require.Len(t, active, 2)
	require.Equal(t, "carol", active[0].PlacedBy)
}

// caseFixture is a hall's events around case CM-0007 (ticket A031 on
// 2026-11-25, served at window A01, then transferred to A02 where the case
// was accepted), with the same ticket number the evening before and the
// evening after, at another hall, and other cases.
type caseFixture struct {
	events []ingest.Event
	n      int
}

var caseDay = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func (f *caseFixture) add(typ ingest.EventType, at time.Duration, hall, window, caseID, ticket string) ingest.Event {
	f.n++
	ev := ingest.Event{EventID: fmt.Sprintf("ev-%03d", f.n), Type: typ, TS: caseDay.Add(at), Hall: hall, Window: window,
		CaseID: caseID, Ticket: ticket, Item: "BL-0012", Staff: "E10" + window}
	if typ == ingest.TicketIssued {
		ev.Staff = ""
	}
	if typ == ingest.Rating {
		ev.Rating = 5
	}
	f.events = append(f.events, ev)
	return ev
}

func caseEvent(ev ingest.Event) analytics.CaseEvent {
	return analytics.CaseEvent{TS: ev.TS, Type: string(ev.Type), Hall: ev.Hall, Window: ev.Window, Ticket: ev.Ticket,
		Item: ev.Item, Staff: ev.Staff, Rating: ev.Rating, EventID: ev.EventID}
}

func TestCaseTimelineAndIntervals(t *testing.T) {
	s := chtest.Store(t)
	ctx := t.Context()
	const hall, other = "city-main", "district-2"
	h, m, sec, ms := time.Hour, time.Minute, time.Second, time.Millisecond
	var f caseFixture

	// The evening before: the same ticket number, served at A01.
	before := []ingest.Event{
		f.add(ingest.TicketIssued, -h/2, hall, "", "", "A031"),
		f.add(ingest.Called, -h/2+10*m, hall, "A01", "", "A031"),
		f.add(ingest.ServiceStarted, -h/2+11*m, hall, "A01", "", "A031"),
		f.add(ingest.ServiceEnded, -h/2+15*m, hall, "A01", "CM-0001", "A031"),
	}
	// The case's visit.
	want := []ingest.Event{
		f.add(ingest.TicketIssued, 9*h+100*ms, hall, "", "", "A031"),
		f.add(ingest.Called, 9*h+20*m, hall, "A01", "", "A031"),
		f.add(ingest.ServiceStarted, 9*h+20*m+30*sec+500*ms, hall, "A01", "", "A031"),
		f.add(ingest.ServiceEnded, 9*h+30*m, hall, "A01", "", "A031"),
		f.add(ingest.Called, 9*h+35*m, hall, "A02", "", "A031"),
		f.add(ingest.ServiceStarted, 9*h+35*m+40*sec, hall, "A02", "", "A031"),
		f.add(ingest.CaseAccepted, 9*h+40*m, hall, "A02", "CM-0007", "A031"),
		f.add(ingest.ServiceEnded, 9*h+50*m, hall, "A02", "CM-0007", "A031"),
		f.add(ingest.Rating, 9*h+50*m+20*sec, hall, "A02", "", "A031"),
		f.add(ingest.CaseCompleted, 48*h+10*h, hall, "", "CM-0007", ""),
	}
	// Others meanwhile: another ticket at A01, the same ticket at another
	// hall.
	f.add(ingest.Called, 9*h+36*m, hall, "A01", "", "A032")
	f.add(ingest.ServiceStarted, 9*h+37*m, hall, "A01", "", "A032")
	f.add(ingest.Called, 9*h+30*m, other, "D01", "", "A031")
	f.add(ingest.CaseAccepted, 9*h+40*m, other, "D01", "DS-0001", "A031")
	// The same ticket number issued again in the evening (a hall open
	// around the clock).
	f.add(ingest.TicketIssued, 21*h, hall, "", "", "A031")
	f.add(ingest.Called, 21*h+5*m, hall, "A03", "", "A031")
	// A rejected case whose service_ended never came: the window called the
	// next ticket at 10:25.
	rejected := []ingest.Event{
		f.add(ingest.TicketIssued, 10*h, hall, "", "", "B005"),
		f.add(ingest.Called, 10*h+10*m, hall, "B01", "", "B005"),
		f.add(ingest.ServiceStarted, 10*h+11*m, hall, "B01", "", "B005"),
		f.add(ingest.CaseRejected, 10*h+15*m, hall, "B01", "CM-0008", "B005"),
	}
	f.add(ingest.Called, 10*h+25*m, hall, "B01", "", "B006")
	// A case whose window never said anything again.
	f.add(ingest.ServiceStarted, 11*h, hall, "B02", "", "B007")
	f.add(ingest.CaseAccepted, 11*h+5*m, hall, "B02", "CM-0009", "B007")

	n, err := s.InsertEvents(ctx, f.events)
	require.NoError(t, err)
	require.Equal(t, len(f.events), n)

	var wantEvents []analytics.CaseEvent
	for _, ev := range want {
		wantEvents = append(wantEvents, caseEvent(ev))
	}
	got, err := s.CaseEvents(ctx, "CM-0007")
	require.NoError(t, err)
	require.Equal(t, wantEvents, got)

	intervals, err := s.CaseIntervals(ctx, "CM-0007")
	require.NoError(t, err)
	require.Equal(t, []analytics.ServiceInterval{
		{Window: "A01", Hall: hall, Start: caseDay.Add(9*h + 20*m + 30*sec + 500*ms), End: caseDay.Add(9*h + 30*m)},
		{Window: "A02", Hall: hall, Start: caseDay.Add(9*h + 35*m + 40*sec), End: caseDay.Add(9*h + 50*m)},
	}, intervals)

	wantEvents = nil
	for _, ev := range rejected {
		wantEvents = append(wantEvents, caseEvent(ev))
	}
	got, err = s.CaseEvents(ctx, "CM-0008")
	require.NoError(t, err)
	require.Equal(t, wantEvents, got)
	intervals, err = s.CaseIntervals(ctx, "CM-0008")
	require.NoError(t, err)
	require.Equal(t, []analytics.ServiceInterval{
		{Window: "B01", Hall: hall, Start: caseDay.Add(10*h + 11*m), End: caseDay.Add(10*h + 25*m), Unended: true},
	}, intervals)

	intervals, err = s.CaseIntervals(ctx, "CM-0009")
	require.NoError(t, err)
	require.Equal(t, []analytics.ServiceInterval{
		{Window: "B02", Hall: hall, Start: caseDay.Add(11 * h), End: caseDay.Add(11*h + analytics.MaxUnendedService), Unended: true},
	}, intervals)

	// The evening before's visit ends where the morning's ticket is issued.
	wantEvents = nil
	for _, ev := range before {
		wantEvents = append(wantEvents, caseEvent(ev))
	}
	got, err = s.CaseEvents(ctx, "CM-0001")
	require.NoError(t, err)
	require.Equal(t, wantEvents, got)

	for _, id := range []string{"CM-9999", ""} {
		_, err = s.CaseEvents(ctx, id)
		require.ErrorIs(t, err, analytics.ErrCaseNotFound)
		require.ErrorIs(t, err, apperr.NotFound)
		_, err = s.CaseIntervals(ctx, id)
		require.ErrorIs(t, err, analytics.ErrCaseNotFound)
	}
}
