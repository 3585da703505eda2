package tracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// testConfig is one city hall with two windows and three items, in
// Shanghai time, with Friday 2026-11-27 a holiday and Saturday
// 2026-11-28 an adjusted working day (调休).
func testConfig() *config.Config {
	return &config.Config{
		Timezone: "Asia/Shanghai",
		Halls: []config.Hall{{ID: "city-main", Name: "主大厅", Tier: config.TierCity, Windows: []config.Window{
			{ID: "A01", Department: "市场监管局", Items: []string{"SC-001", "SC-002"}},
			{ID: "A02", Department: "税务局", Items: []string{"TX-001"}},
		}}},
		Items: []config.Item{
			{Code: "SC-001", Name: "个体户登记", Department: "市场监管局", TimeLimitDays: 1, TargetWaitMinutes: 10},
			{Code: "SC-002", Name: "企业设立登记", Department: "市场监管局", TimeLimitDays: 3},
			{Code: "TX-001", Name: "发票申领", Department: "税务局", TimeLimitDays: 2, TargetWaitMinutes: 20},
		},
		Calendar: config.Calendar{Holidays: []string{"2026-11-27"}, Workdays: []string{"2026-11-28"}},
	}
}

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// at is a local time in Shanghai, "2026-11-26 09:00:00", in UTC.
func at(s string) time.Time {
	t, err := time.ParseInLocation(time.DateTime, s, shanghai)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// script builds events with sequential ids.
type script struct {
	n   int
	evs []ingest.Event
}

func (s *script) add(typ ingest.EventType, ts string, ev ingest.Event) ingest.Event {
	s.n++
	ev.EventID = fmt.Sprintf("e%04d", s.n)
	ev.Type, ev.TS = typ, at(ts)
	if ev.Hall == "" {
		ev.Hall = "city-main"
	}
	s.evs = append(s.evs, ev)
	return ev
}

func apply(tr *Tracker, evs []ingest.Event) Facts {
	var f Facts
	for _, ev := range evs {
		tr.Apply(ev, &f)
	}
	return f
}

func TestServedVisitWithRecall(t *testing.T) {
	var s script
	s.add(ingest.TicketIssued, "2026-11-26 09:00:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
	s.add(ingest.Called, "2026-11-26 09:05:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.Called, "2026-11-26 09:06:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.ServiceStarted, "2026-11-26 09:07:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001", Item: "SC-001"})
	s.add(ingest.CaseAccepted, "2026-11-26 09:10:00", ingest.Event{Window: "A01", Ticket: "A001", Item: "SC-001", CaseID: "CM-1"})
	s.add(ingest.ServiceEnded, "2026-11-26 09:20:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001", Item: "SC-001"})

	got := apply(New(testConfig()), s.evs)
	require.Equal(t, Facts{
		Visits: []Visit{{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局", Item: "SC-001",
			Staff: "E1001", Ticket: "A001", CaseID: "CM-1", Outcome: Served,
			Issued: at("2026-11-26 09:00:00"), Called: at("2026-11-26 09:06:00"),
			Started: at("2026-11-26 09:07:00"), Ended: at("2026-11-26 09:20:00"), Calls: 2,
			WaitSeconds: 360, HandleSeconds: 840, MetTarget: true}},
		// A01 sent no window_opened: it is taken as open while it served,
		// from the (last) call to the end.
		Spans: []Span{{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局",
			Start: at("2026-11-26 09:06:00"), End: at("2026-11-26 09:20:00"), Inferred: true}},
		Cases: []CaseState{{CaseID: "CM-1", Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局",
			Item: "SC-001", State: "accepted", Accepted: at("2026-11-26 09:10:00"),
			// one working day after Thursday: Friday is a holiday, Saturday is worked
			Deadline: at("2026-11-29 00:00:00"), Version: uint64(at("2026-11-26 09:10:00").UnixMilli())}},
	}, got)
}

func TestNoShow(t *testing.T) {
	tests := []struct {
		name string
		// after is what ends the called ticket A001
		after func(s *script)
		want  []Visit
	}{
		{"the window calls the next ticket", func(s *script) {
			s.add(ingest.Called, "2026-11-26 09:30:00", ingest.Event{Window: "A01", Ticket: "A002", Staff: "E1001"})
			s.add(ingest.ServiceStarted, "2026-11-26 09:31:00", ingest.Event{Window: "A01", Ticket: "A002", Staff: "E1001"})
			s.add(ingest.ServiceEnded, "2026-11-26 09:40:00", ingest.Event{Window: "A01", Ticket: "A002", Staff: "E1001"})
		}, []Visit{
			{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局", Item: "SC-001", Staff: "E1001",
				Ticket: "A001", Outcome: NoShow, Issued: at("2026-11-26 09:00:00"), Called: at("2026-11-26 09:26:00"),
				Calls: 2, WaitSeconds: 26 * 60, MetTarget: false},
			{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局", Item: "SC-002", Staff: "E1001",
				Ticket: "A002", Outcome: Served, Issued: at("2026-11-26 09:01:00"), Called: at("2026-11-26 09:30:00"),
				Started: at("2026-11-26 09:31:00"), Ended: at("2026-11-26 09:40:00"), Calls: 1,
				WaitSeconds: 29 * 60, HandleSeconds: 600, MetTarget: false},
		}},
		{"the window pauses", func(s *script) {
			s.add(ingest.WindowPaused, "2026-11-26 09:28:00", ingest.Event{Window: "A01"})
		}, []Visit{
			{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局", Item: "SC-001", Staff: "E1001",
				Ticket: "A001", Outcome: NoShow, Issued: at("2026-11-26 09:00:00"), Called: at("2026-11-26 09:26:00"),
				Calls: 2, WaitSeconds: 26 * 60, MetTarget: false},
		}},
		{"the day ends", func(s *script) {
			s.add(ingest.TicketIssued, "2026-11-27 08:40:00", ingest.Event{Ticket: "A001", Item: "SC-002"})
		}, []Visit{
			{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局", Item: "SC-001", Staff: "E1001",
				Ticket: "A001", Outcome: NoShow, Issued: at("2026-11-26 09:00:00"), Called: at("2026-11-26 09:26:00"),
				Calls: 2, WaitSeconds: 26 * 60, MetTarget: false},
			{Hall: "city-main", Tier: "city", Department: "市场监管局", Item: "SC-002", Ticket: "A002",
				Outcome: Abandoned, Issued: at("2026-11-26 09:01:00")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s script
			s.add(ingest.TicketIssued, "2026-11-26 09:00:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
			s.add(ingest.TicketIssued, "2026-11-26 09:01:00", ingest.Event{Ticket: "A002", Item: "SC-002"})
			s.add(ingest.Called, "2026-11-26 09:25:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
			s.add(ingest.Called, "2026-11-26 09:26:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
			tt.after(&s)
			got := apply(New(testConfig()), s.evs)
			require.Equal(t, tt.want, got.Visits)
		})
	}
}

func TestAbandonedAtDayEndByAdvance(t *testing.T) {
	var s script
	s.add(ingest.WindowOpened, "2026-11-26 22:30:00", ingest.Event{Window: "A02"})
	s.add(ingest.TicketIssued, "2026-11-26 22:31:00", ingest.Event{Ticket: "B001", Item: "TX-001"})
	s.add(ingest.TicketIssued, "2026-11-26 22:32:00", ingest.Event{Ticket: "B002", Item: "TX-001"})
	s.add(ingest.Called, "2026-11-26 22:40:00", ingest.Event{Window: "A02", Ticket: "B001", Staff: "E1002"})
	tr := New(testConfig())
	got := apply(tr, s.evs)
	require.Zero(t, got.Len())

	tr.Advance(at("2026-11-26 23:59:59"), &got)
	require.Equal(t, []Span{{Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局",
		Start: at("2026-11-26 22:30:00"), End: at("2026-11-26 23:00:00")}}, got.Spans, "the finished hour only")
	require.Empty(t, got.Visits, "the day has not ended")
	require.Len(t, tr.Waiting(), 2)

	tr.Advance(at("2026-11-27 00:00:00"), &got)
	require.Equal(t, Facts{
		Visits: []Visit{
			{Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局", Item: "TX-001", Staff: "E1002",
				Ticket: "B001", Outcome: NoShow, Issued: at("2026-11-26 22:31:00"), Called: at("2026-11-26 22:40:00"),
				Calls: 1, WaitSeconds: 540, MetTarget: true},
			{Hall: "city-main", Tier: "city", Department: "税务局", Item: "TX-001", Ticket: "B002",
				Outcome: Abandoned, Issued: at("2026-11-26 22:32:00")},
		},
		Spans: []Span{
			{Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局", Start: at("2026-11-26 22:30:00"), End: at("2026-11-26 23:00:00")},
			{Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局", Start: at("2026-11-26 23:00:00"), End: at("2026-11-27 00:00:00")},
		},
	}, got)
	require.Empty(t, tr.Waiting(), "closed visits are forgotten")
	w := tr.Windows()[1]
	require.Equal(t, StatusClosed, w.Status)
	require.Equal(t, at("2026-11-27 00:00:00"), w.Since)

	before := got.Len()
	tr.Advance(at("2026-11-27 03:00:00"), &got)
	require.Equal(t, before, got.Len(), "nothing left to close")
}

func TestVisitAcrossLunchPause(t *testing.T) {
	var s script
	s.add(ingest.WindowOpened, "2026-11-26 08:30:00", ingest.Event{Window: "A01"})
	s.add(ingest.TicketIssued, "2026-11-26 11:55:00", ingest.Event{Ticket: "A010", Item: "SC-002"})
	s.add(ingest.WindowPaused, "2026-11-26 12:00:00", ingest.Event{Window: "A01"})
	tr := New(testConfig())
	got := apply(tr, s.evs)
	w := tr.Windows()[0]
	require.Equal(t, StatusPaused, w.Status)
	require.Equal(t, at("2026-11-26 12:00:00"), w.Since)
	require.Equal(t, 1, w.QueueLength)
	require.Equal(t, at("2026-11-26 11:55:00"), w.OldestWaiting)

	s.evs = nil
	s.add(ingest.WindowOpened, "2026-11-26 13:30:00", ingest.Event{Window: "A01"})
	s.add(ingest.Called, "2026-11-26 13:31:00", ingest.Event{Window: "A01", Ticket: "A010", Staff: "E1001"})
	s.add(ingest.ServiceStarted, "2026-11-26 13:32:00", ingest.Event{Window: "A01", Ticket: "A010", Staff: "E1001"})
	s.add(ingest.ServiceEnded, "2026-11-26 13:40:00", ingest.Event{Window: "A01", Ticket: "A010", Staff: "E1001"})
	s.add(ingest.WindowClosed, "2026-11-26 14:10:00", ingest.Event{Window: "A01"})
	for _, ev := range s.evs {
		tr.Apply(ev, &got)
	}
	span := func(from, to string) Span {
		return Span{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局", Start: at(from), End: at(to)}
	}
	require.Equal(t, Facts{
		Visits: []Visit{{Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局", Item: "SC-002",
			Staff: "E1001", Ticket: "A010", Outcome: Served, Issued: at("2026-11-26 11:55:00"),
			Called: at("2026-11-26 13:31:00"), Started: at("2026-11-26 13:32:00"), Ended: at("2026-11-26 13:40:00"),
			Calls: 1, WaitSeconds: 96 * 60, HandleSeconds: 540, MetTarget: false}},
		Spans: []Span{
			span("2026-11-26 08:30:00", "2026-11-26 09:00:00"),
			span("2026-11-26 09:00:00", "2026-11-26 10:00:00"),
			span("2026-11-26 10:00:00", "2026-11-26 11:00:00"),
			span("2026-11-26 11:00:00", "2026-11-26 12:00:00"),
			span("2026-11-26 13:30:00", "2026-11-26 14:00:00"),
			span("2026-11-26 14:00:00", "2026-11-26 14:10:00"),
		},
	}, got)
}

func TestSpansCutAtHoursByAdvanceAndPause(t *testing.T) {
	tr := New(testConfig())
	var s script
	var got Facts
	tr.Apply(s.add(ingest.WindowOpened, "2026-11-26 09:20:00", ingest.Event{Window: "A02"}), &got)
	tr.Advance(at("2026-11-26 10:30:00"), &got)
	tr.Advance(at("2026-11-26 10:45:00"), &got)
	tr.Apply(s.add(ingest.WindowOpened, "2026-11-26 10:50:00", ingest.Event{Window: "A02"}), &got) // already open: no-op
	tr.Apply(s.add(ingest.WindowPaused, "2026-11-26 12:10:00", ingest.Event{Window: "A02"}), &got)
	tr.Apply(s.add(ingest.WindowClosed, "2026-11-26 12:20:00", ingest.Event{Window: "A02"}), &got) // paused: nothing open
	span := func(from, to string) Span {
		return Span{Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局", Start: at(from), End: at(to)}
	}
	require.Equal(t, []Span{
		span("2026-11-26 09:20:00", "2026-11-26 10:00:00"),
		span("2026-11-26 10:00:00", "2026-11-26 11:00:00"),
		span("2026-11-26 11:00:00", "2026-11-26 12:00:00"),
		span("2026-11-26 12:00:00", "2026-11-26 12:10:00"),
	}, got.Spans)
	require.Equal(t, StatusClosed, tr.Windows()[1].Status)
}

func TestCaseDeadlines(t *testing.T) {
	tests := []struct {
		name                string
		item                string
		accepted, completed string
		deadline            string
		onTime              bool
	}{
		{"3 days over the holiday and the worked Saturday, on time", "SC-002",
			"2026-11-26 10:00:00", "2026-12-01 17:00:00", "2026-12-02 00:00:00", true},
		{"3 days, one second before the deadline", "SC-002",
			"2026-11-26 10:00:00", "2026-12-01 23:59:59", "2026-12-02 00:00:00", true},
		{"3 days, completed at the deadline is late", "SC-002",
			"2026-11-26 10:00:00", "2026-12-02 00:00:00", "2026-12-02 00:00:00", false},
		{"1 day: the worked Saturday is the day", "SC-001",
			"2026-11-26 16:00:00", "2026-11-28 11:00:00", "2026-11-29 00:00:00", true},
		{"1 day, completed on Monday is late", "SC-001",
			"2026-11-26 16:00:00", "2026-11-30 09:00:00", "2026-11-29 00:00:00", false},
		{"2 days from the holiday", "TX-001",
			"2026-11-27 10:00:00", "2026-11-30 12:00:00", "2026-12-01 00:00:00", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s script
			s.add(ingest.CaseAccepted, tt.accepted, ingest.Event{Window: "A01", CaseID: "CM-7", Item: tt.item})
			s.add(ingest.CaseCompleted, tt.completed, ingest.Event{CaseID: "CM-7", Item: tt.item})
			tr := New(testConfig())
			got := apply(tr, s.evs[:1])
			open := tr.OpenCases()
			require.Len(t, open, 1)
			c, ok := tr.Case("CM-7")
			require.True(t, ok)
			require.Equal(t, open[0], c)
			require.Equal(t, at(tt.deadline), c.Deadline)

			tr.Apply(s.evs[1], &got)
			require.Len(t, got.Cases, 2)
			done := got.Cases[1]
			want := c
			want.State, want.Completed, want.OnTime = "completed", at(tt.completed), tt.onTime
			want.Version = uint64(at(tt.completed).UnixMilli())
			require.Equal(t, want, done)
			require.Empty(t, tr.OpenCases())
			_, ok = tr.Case("CM-7")
			require.False(t, ok)
		})
	}
}

func TestCaseWithoutAcceptance(t *testing.T) {
	var s script
	s.add(ingest.CaseCompleted, "2026-11-26 10:00:00", ingest.Event{CaseID: "CM-OLD", Item: "SC-002"})
	s.add(ingest.CaseCompleted, "2026-11-26 10:05:00", ingest.Event{CaseID: "CM-RESTORED", Item: "SC-002"})
	s.add(ingest.CaseRejected, "2026-11-26 10:10:00", ingest.Event{CaseID: "CM-REJ", Window: "A02", Item: "TX-001"})
	tr := New(testConfig())
	restored := CaseState{CaseID: "CM-RESTORED", Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局",
		Item: "SC-002", State: "accepted", Accepted: at("2026-11-23 10:00:00"), Deadline: at("2026-11-27 00:00:00"), Version: 1}
	tr.RestoreCase(restored)
	tr.RestoreCase(CaseState{CaseID: "CM-DONE", State: "completed"})
	require.Len(t, tr.OpenCases(), 1)
	got := apply(tr, s.evs)
	ms := func(ts string) uint64 { return uint64(at(ts).UnixMilli()) }
	late := restored
	late.State, late.Completed, late.OnTime, late.Version = "completed", at("2026-11-26 10:05:00"), true, ms("2026-11-26 10:05:00")
	require.Equal(t, []CaseState{
		{CaseID: "CM-OLD", Hall: "city-main", Tier: "city", Department: "市场监管局", Item: "SC-002", State: "completed",
			Completed: at("2026-11-26 10:00:00"), Version: ms("2026-11-26 10:00:00")},
		late,
		{CaseID: "CM-REJ", Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局", Item: "TX-001", State: "rejected",
			Completed: at("2026-11-26 10:10:00"), Version: ms("2026-11-26 10:10:00")},
	}, got.Cases)
	require.Empty(t, tr.OpenCases())
}

func TestDuplicateEventIDsIgnored(t *testing.T) {
	var s script
	s.add(ingest.WindowOpened, "2026-11-26 08:30:00", ingest.Event{Window: "A01"})
	s.add(ingest.TicketIssued, "2026-11-26 09:00:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
	s.add(ingest.Called, "2026-11-26 09:05:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.ServiceStarted, "2026-11-26 09:06:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.CaseAccepted, "2026-11-26 09:08:00", ingest.Event{Window: "A01", Ticket: "A001", Item: "SC-001", CaseID: "CM-1"})
	s.add(ingest.ServiceEnded, "2026-11-26 09:20:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.Rating, "2026-11-26 09:20:30", ingest.Event{Window: "A01", Rating: 5})
	s.add(ingest.WindowPaused, "2026-11-26 09:30:00", ingest.Event{Window: "A01"})

	once := apply(New(testConfig()), s.evs)
	require.Equal(t, 5, once.Len()) // visit, case, rating, 2 spans

	var twice []ingest.Event
	for i, ev := range s.evs {
		twice = append(twice, ev)
		if i > 0 {
			twice = append(twice, s.evs[i-1]) // each event re-sent once, a little late
		}
		twice = append(twice, ev)
	}
	require.Equal(t, once, apply(New(testConfig()), twice))
}

func TestRatingsEnriched(t *testing.T) {
	var s script
	s.add(ingest.TicketIssued, "2026-11-26 09:00:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
	s.add(ingest.Called, "2026-11-26 09:05:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.ServiceStarted, "2026-11-26 09:06:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.CaseAccepted, "2026-11-26 09:08:00", ingest.Event{Window: "A01", Ticket: "A001", Item: "SC-001", CaseID: "CM-1"})
	s.add(ingest.ServiceEnded, "2026-11-26 09:20:00", ingest.Event{Window: "A01", Ticket: "A001"})
	after := s.add(ingest.Rating, "2026-11-26 09:20:30", ingest.Event{Window: "A01", Rating: 2})
	// reordered: the rating of A002 arrives before its service_ended
	s.add(ingest.TicketIssued, "2026-11-26 09:10:00", ingest.Event{Ticket: "B001", Item: "TX-001"})
	s.add(ingest.Called, "2026-11-26 09:11:00", ingest.Event{Window: "A02", Ticket: "B001", Staff: "E1002"})
	s.add(ingest.ServiceStarted, "2026-11-26 09:12:00", ingest.Event{Window: "A02", Ticket: "B001", Staff: "E1002"})
	before := s.add(ingest.Rating, "2026-11-26 09:30:10", ingest.Event{Window: "A02", Ticket: "B001", Rating: 5})
	s.add(ingest.ServiceEnded, "2026-11-26 09:30:00", ingest.Event{Window: "A02", Ticket: "B001"})
	// a rating from a window that served nobody today
	bare := s.add(ingest.Rating, "2026-11-26 09:31:00", ingest.Event{Window: "A02", Ticket: "B099", Rating: 4})

	got := apply(New(testConfig()), s.evs)
	require.Equal(t, []Rating{
		{EventID: after.EventID, Hall: "city-main", Tier: "city", Window: "A01", Department: "市场监管局",
			Item: "SC-001", Staff: "E1001", Ticket: "A001", CaseID: "CM-1", TS: after.TS, Rating: 2},
		{EventID: before.EventID, Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局",
			Item: "TX-001", Staff: "E1002", Ticket: "B001", TS: before.TS, Rating: 5},
		{EventID: bare.EventID, Hall: "city-main", Tier: "city", Window: "A02", Department: "税务局",
			Ticket: "B099", TS: bare.TS, Rating: 4},
	}, got.Ratings)
	require.Len(t, got.Visits, 2)
}

func TestLiveStateAfterScriptedMorning(t *testing.T) {
	var s script
	s.add(ingest.WindowOpened, "2026-11-26 08:30:00", ingest.Event{Window: "A01"})
	s.add(ingest.WindowOpened, "2026-11-26 08:31:00", ingest.Event{Window: "A02"})
	s.add(ingest.TicketIssued, "2026-11-26 08:32:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
	s.add(ingest.TicketIssued, "2026-11-26 08:33:00", ingest.Event{Ticket: "B001", Item: "TX-001"})
	s.add(ingest.TicketIssued, "2026-11-26 08:34:00", ingest.Event{Ticket: "A002", Item: "SC-002"})
	s.add(ingest.TicketIssued, "2026-11-26 08:35:00", ingest.Event{Ticket: "A003", Item: "SC-001"})
	s.add(ingest.Called, "2026-11-26 08:36:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.ServiceStarted, "2026-11-26 08:37:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.CaseAccepted, "2026-11-26 08:40:00", ingest.Event{Window: "A01", Ticket: "A001", Item: "SC-001", CaseID: "CM-1"})
	s.add(ingest.Called, "2026-11-26 08:41:00", ingest.Event{Window: "A02", Ticket: "B001", Staff: "E1002"})
	s.add(ingest.TicketIssued, "2026-11-26 08:42:00", ingest.Event{Ticket: "B002", Item: "TX-001"})
	tr := New(testConfig())
	apply(tr, s.evs)

	require.Equal(t, []WindowState{
		{Hall: "city-main", Window: "A01", Department: "市场监管局", Status: StatusOpen, Since: at("2026-11-26 08:30:00"),
			Serving: &Serving{Ticket: "A001", CaseID: "CM-1", Item: "SC-001", Staff: "E1001",
				Called: at("2026-11-26 08:36:00"), Started: at("2026-11-26 08:37:00"), Calls: 1},
			LastServiceStart: at("2026-11-26 08:37:00"), QueueLength: 2, OldestWaiting: at("2026-11-26 08:34:00")},
		{Hall: "city-main", Window: "A02", Department: "税务局", Status: StatusOpen, Since: at("2026-11-26 08:31:00"),
			Serving:     &Serving{Ticket: "B001", Item: "TX-001", Staff: "E1002", Called: at("2026-11-26 08:41:00"), Calls: 1},
			QueueLength: 1, OldestWaiting: at("2026-11-26 08:42:00")},
	}, tr.Windows())
	require.Equal(t, []Waiting{
		{Hall: "city-main", Ticket: "B001", Item: "TX-001", Issued: at("2026-11-26 08:33:00"), Called: true,
			Window: "A02", LastCall: at("2026-11-26 08:41:00")},
		{Hall: "city-main", Ticket: "A002", Item: "SC-002", Issued: at("2026-11-26 08:34:00")},
		{Hall: "city-main", Ticket: "A003", Item: "SC-001", Issued: at("2026-11-26 08:35:00")},
		{Hall: "city-main", Ticket: "B002", Item: "TX-001", Issued: at("2026-11-26 08:42:00")},
	}, tr.Waiting())
	require.Equal(t, []string{"CM-1"}, caseIDs(tr.OpenCases()))
}

func caseIDs(cs []CaseState) []string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.CaseID)
	}
	return ids
}

func TestUnknownHallsAndWindowsIgnored(t *testing.T) {
	var s script
	s.add(ingest.TicketIssued, "2026-11-26 09:00:00", ingest.Event{Hall: "elsewhere", Ticket: "A001", Item: "SC-001"})
	s.add(ingest.WindowOpened, "2026-11-26 09:00:00", ingest.Event{Window: "Z99"})
	s.add(ingest.Called, "2026-11-26 09:00:00", ingest.Event{Window: "Z99", Ticket: "A001"})
	s.add(ingest.Rating, "2026-11-26 09:00:00", ingest.Event{Window: "Z99", Rating: 1})
	tr := New(testConfig())
	got := apply(tr, s.evs)
	require.Zero(t, got.Len())
	require.Empty(t, tr.Waiting())
}
