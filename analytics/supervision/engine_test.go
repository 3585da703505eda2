package supervision

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// testConfig is one hall, two windows and two items with limits of 1 and
// 3 working days; Friday 2026-11-27 is a holiday and Saturday 2026-11-28
// an adjusted working day (调休).
func testConfig() *config.Config {
	return &config.Config{
		Timezone: "Asia/Shanghai",
		Halls: []config.Hall{{ID: "city-main", Name: "主大厅", Tier: config.TierCity, Windows: []config.Window{
			{ID: "A01", Department: "市场监管局", Items: []string{"SC-001"}},
			{ID: "A02", Department: "市场监管局", Items: []string{"SC-002"}},
		}}},
		Items: []config.Item{
			{Code: "SC-001", Name: "个体户登记", Department: "市场监管局", TimeLimitDays: 1, TargetWaitMinutes: 10},
			{Code: "SC-002", Name: "企业设立登记", Department: "市场监管局", TimeLimitDays: 3}, // target: the 15 min default
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

// at is a Shanghai local time "2026-11-26 09:00:00" in UTC.
func at(s string) time.Time {
	t, err := time.ParseInLocation(time.DateTime, s, shanghai)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

type script struct{ evs []ingest.Event }

func (s *script) add(typ ingest.EventType, ts string, ev ingest.Event) {
	ev.EventID = fmt.Sprintf("e%04d", len(s.evs)+1)
	ev.Type, ev.TS, ev.Hall = typ, at(ts), "city-main"
	s.evs = append(s.evs, ev)
}

// scenario is a Thursday morning and the days after it.
func scenario() []ingest.Event {
	var s script
	w := func(win string) ingest.Event { return ingest.Event{Window: win} }
	v := func(win, ticket, staff string) ingest.Event {
		return ingest.Event{Window: win, Ticket: ticket, Staff: staff}
	}
	s.add(ingest.WindowOpened, "2026-11-26 08:30:00", w("A01"))
	s.add(ingest.WindowOpened, "2026-11-26 08:30:00", w("A02"))
	s.add(ingest.TicketIssued, "2026-11-26 08:31:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
	s.add(ingest.Called, "2026-11-26 08:33:00", v("A01", "A001", "E1001"))
	s.add(ingest.ServiceStarted, "2026-11-26 08:34:00", v("A01", "A001", "E1001"))
	s.add(ingest.CaseAccepted, "2026-11-26 08:40:00", ingest.Event{Window: "A01", Ticket: "A001", Item: "SC-001", CaseID: "CM-1"})
	s.add(ingest.ServiceEnded, "2026-11-26 08:50:00", v("A01", "A001", "E1001"))
	s.add(ingest.Rating, "2026-11-26 08:51:00", ingest.Event{Window: "A01", Rating: 2}) // e0008
	s.add(ingest.TicketIssued, "2026-11-26 08:55:00", ingest.Event{Ticket: "B001", Item: "SC-002"})
	s.add(ingest.Called, "2026-11-26 08:56:00", v("A02", "B001", "E1002"))
	s.add(ingest.ServiceStarted, "2026-11-26 08:57:00", v("A02", "B001", "E1002"))
	s.add(ingest.CaseAccepted, "2026-11-26 09:00:00", ingest.Event{Window: "A02", Ticket: "B001", Item: "SC-002", CaseID: "CM-2"})
	s.add(ingest.TicketIssued, "2026-11-26 09:00:00", ingest.Event{Ticket: "A002", Item: "SC-001"})
	s.add(ingest.ServiceEnded, "2026-11-26 09:05:00", v("A02", "B001", "E1002"))
	s.add(ingest.Rating, "2026-11-26 09:06:00", ingest.Event{Window: "A02", Rating: 5})
	// A01 sits idle with A002 waiting: unattended at 09:10, long wait
	// yellow at 09:10 (target 10 min) and red at 09:20.
	s.add(ingest.Called, "2026-11-26 09:25:00", v("A01", "A002", "E1001"))
	s.add(ingest.ServiceStarted, "2026-11-26 09:26:00", v("A01", "A002", "E1001"))
	s.add(ingest.ServiceEnded, "2026-11-26 09:35:00", v("A01", "A002", "E1001"))
	s.add(ingest.WindowClosed, "2026-11-26 12:00:00", w("A01"))
	s.add(ingest.WindowClosed, "2026-11-26 12:00:00", w("A02"))
	// CM-1 (1 working day: Saturday) is completed on Monday, late; CM-2
	// (3 working days: Saturday, Monday, Tuesday) on Monday, on time.
	s.add(ingest.CaseCompleted, "2026-11-30 09:00:00", ingest.Event{CaseID: "CM-1", Item: "SC-001"})
	s.add(ingest.CaseCompleted, "2026-11-30 10:00:00", ingest.Event{CaseID: "CM-2", Item: "SC-002"})
	return s.evs
}

// run feeds evs to e as a fake clock walks from..to in steps, ticking at
// every step, and returns every alert raised.
func run(e *Engine, evs []ingest.Event, from, to time.Time, step time.Duration) []Alert {
	var all []Alert
	i := 0
	for now := from; !now.After(to); now = now.Add(step) {
		j := i
		for j < len(evs) && !evs[j].TS.After(now) {
			j++
		}
		all = append(all, e.Observe(evs[i:j])...)
		i = j
		all = append(all, e.Tick(now)...)
	}
	return all
}

func TestScenarioRaisesEachAlertOnce(t *testing.T) {
	e := NewEngine(testConfig(), Rules{})
	got := run(e, scenario(), at("2026-11-26 08:29:00"), at("2026-12-01 12:00:00"), 5*time.Second)

	want := []Alert{
		{ID: "bad_rating:e0008", Kind: "bad_rating", Severity: "yellow", Hall: "city-main", Window: "A01",
			CaseID: "CM-1", Ticket: "A001", Item: "SC-001",
			Message: "窗口 A01 收到差评（2 分），号 A001，请回访", MessageEN: "Window A01 got a bad rating (2), ticket A001: follow up",
			RaisedAt: at("2026-11-26 08:51:00")},
		{ID: "unattended:A01:20261126T010000Z", Kind: "unattended", Severity: "yellow", Hall: "city-main", Window: "A01",
			Message: "窗口 A01 有 1 人等候，已 10 分钟无人办理", MessageEN: "Window A01: 1 waiting, nobody served for 10 min",
			RaisedAt: at("2026-11-26 09:10:00")},
		{ID: "long_wait:yellow:city-main:20261126:A002", Kind: "long_wait", Severity: "yellow", Hall: "city-main",
			Ticket: "A002", Item: "SC-001",
			Message: "A002 号（个体户登记）已等候超过 10 分钟", MessageEN: "Ticket A002 (SC-001) has waited over 10 min",
			RaisedAt: at("2026-11-26 09:10:00")},
		{ID: "long_wait:red:city-main:20261126:A002", Kind: "long_wait", Severity: "red", Hall: "city-main",
			Ticket: "A002", Item: "SC-001",
			Message: "A002 号（个体户登记）已等候超过 20 分钟", MessageEN: "Ticket A002 (SC-001) has waited over 20 min",
			RaisedAt: at("2026-11-26 09:20:00")},
		{ID: "case_due_soon:CM-1", Kind: "case_due_soon", Severity: "yellow", Hall: "city-main", Window: "A01",
			CaseID: "CM-1", Item: "SC-001",
			Message: "办件 CM-1 即将超期（期限 2026-11-28）", MessageEN: "Case CM-1 is due soon (due 2026-11-28)",
			RaisedAt: at("2026-11-28 00:00:00")}, // the last (and only) working day begins
		{ID: "case_overdue:CM-1", Kind: "case_overdue", Severity: "red", Hall: "city-main", Window: "A01",
			CaseID: "CM-1", Item: "SC-001",
			Message: "办件 CM-1 已超期（期限 2026-11-28）", MessageEN: "Case CM-1 is overdue (due 2026-11-28)",
			RaisedAt: at("2026-11-29 00:00:00")},
	}
	// unattended fires at 09:10:00 (idle for 10 min), the long wait at
	// the tick after (waiting longer than 10 min)
	require.Equal(t, want, got)
	require.Empty(t, e.OpenCases())
}

func TestRestartDoesNotReraise(t *testing.T) {
	from, to := at("2026-11-26 08:29:00"), at("2026-12-01 12:00:00")
	first := run(NewEngine(testConfig(), Rules{}), scenario(), from, to, time.Minute)
	require.Len(t, first, 6)

	replay := run(NewEngine(testConfig(), Rules{}), scenario(), from, to, 7*time.Second)
	sortByID := func(as []Alert) []Alert {
		as = slices.Clone(as)
		slices.SortFunc(as, func(a, b Alert) int { return strings.Compare(a.ID, b.ID) })
		return as
	}
	require.Equal(t, sortByID(first), sortByID(replay), "the same conditions raise the same IDs")

	var ids []string
	for _, a := range first {
		ids = append(ids, a.ID)
	}
	restarted := NewEngine(testConfig(), Rules{})
	restarted.MarkRaised(ids)
	require.Empty(t, run(restarted, scenario(), from, to, time.Minute))
}

func TestCameraOfflineTwice(t *testing.T) {
	e := NewEngine(testConfig(), Rules{})
	t0 := at("2026-11-26 09:00:00")
	var got []Alert
	got = append(got, e.CameraState("A02", true, t0)...)
	for s := 0; s <= 300; s += 10 { // a health report every 10 s
		now := t0.Add(time.Duration(s) * time.Second)
		online := s < 20 || (s >= 100 && s < 200)
		got = append(got, e.CameraState("A02", online, now)...)
		got = append(got, e.Tick(now.Add(5*time.Second))...)
	}
	require.Equal(t, []Alert{
		{ID: "camera_offline:A02:20261126T010020Z", Kind: "camera_offline", Severity: "red", Hall: "city-main", Window: "A02",
			Message: "窗口 A02 摄像头离线超过 30 秒", MessageEN: "Window A02 camera offline for over 30 s",
			RaisedAt: t0.Add(50 * time.Second)},
		{ID: "camera_offline:A02:20261126T010320Z", Kind: "camera_offline", Severity: "red", Hall: "city-main", Window: "A02",
			Message: "窗口 A02 摄像头离线超过 30 秒", MessageEN: "Window A02 camera offline for over 30 s",
			RaisedAt: t0.Add(230 * time.Second)},
	}, got)
}

func TestStepOverrun(t *testing.T) {
	var s script
	s.add(ingest.TicketIssued, "2026-11-26 09:00:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
	s.add(ingest.Called, "2026-11-26 09:01:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.ServiceStarted, "2026-11-26 09:02:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	s.add(ingest.ServiceEnded, "2026-11-26 10:00:00", ingest.Event{Window: "A01", Ticket: "A001", Staff: "E1001"})
	want := Alert{ID: "step_overrun:city-main:20261126:A001", Kind: "step_overrun", Severity: "yellow", Hall: "city-main",
		Window: "A01", Ticket: "A001", Item: "SC-001",
		Message: "窗口 A01 办理 A001 号已超过 45 分钟", MessageEN: "Window A01 has served ticket A001 for over 45 min",
		RaisedAt: at("2026-11-26 09:46:00")}

	t.Run("in progress, by tick", func(t *testing.T) {
		e := NewEngine(testConfig(), Rules{})
		got := run(e, s.evs, at("2026-11-26 09:00:00"), at("2026-11-26 10:30:00"), 5*time.Second)
		require.Equal(t, []Alert{want}, got)
	})
	t.Run("at the end, no tick in between", func(t *testing.T) {
		e := NewEngine(testConfig(), Rules{})
		require.Equal(t, []Alert{want}, e.Observe(s.evs))
	})
	t.Run("a higher limit", func(t *testing.T) {
		e := NewEngine(testConfig(), Rules{MaxHandling: time.Hour})
		require.Empty(t, run(e, s.evs, at("2026-11-26 09:00:00"), at("2026-11-26 10:30:00"), 5*time.Second))
	})
}

func TestCaseWarnMoment(t *testing.T) {
	tests := []struct {
		name     string
		rules    Rules
		item     string
		accepted string
		warn     string
	}{
		{"1 day: the last working day begins", Rules{}, "SC-001", "2026-11-26 10:00:00", "2026-11-28 00:00:00"},
		{"3 days: the third working day begins (share would be 09:36)", Rules{}, "SC-002", "2026-11-26 10:00:00", "2026-12-01 00:00:00"},
		{"3 days, share 0.5 comes first", Rules{CaseWarnShare: 0.5}, "SC-002", "2026-11-26 10:00:00", "2026-11-30 12:00:00"},
		{"3 days, 2 working days left", Rules{CaseWarnWorkdays: 2}, "SC-002", "2026-11-26 10:00:00", "2026-11-30 00:00:00"},
		{"1 day, 2 working days left: at once", Rules{CaseWarnWorkdays: 2}, "SC-001", "2026-11-26 10:00:00", "2026-11-26 10:00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(testConfig(), tt.rules)
			var s script
			s.add(ingest.CaseAccepted, tt.accepted, ingest.Event{Window: "A01", Item: tt.item, CaseID: "CM-9"})
			require.Empty(t, e.Observe(s.evs))
			require.Empty(t, e.Tick(at(tt.warn).Add(-time.Second)))
			got := e.Tick(at(tt.warn).Add(time.Second))
			require.Len(t, got, 1)
			require.Equal(t, "case_due_soon:CM-9", got[0].ID)
			require.Equal(t, at(tt.warn), got[0].RaisedAt)
		})
	}
}

func TestLateNoticeRaisesOnlyTheHigherLevel(t *testing.T) {
	e := NewEngine(testConfig(), Rules{})
	e.RestoreCase(tracker.CaseState{CaseID: "CM-OLD", Hall: "city-main", Window: "A01", Item: "SC-001",
		State: "accepted", Accepted: at("2026-11-26 10:00:00"), Deadline: at("2026-11-29 00:00:00"), Version: 1})
	var s script
	s.add(ingest.TicketIssued, "2026-11-30 09:00:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
	e.Observe(s.evs)
	got := e.Tick(at("2026-11-30 09:30:00"))
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	require.Equal(t, []string{"case_overdue:CM-OLD", "long_wait:red:city-main:20261130:A001"}, ids)
}

func TestCaseCompletedLateRaisesOverdueOnce(t *testing.T) {
	e := NewEngine(testConfig(), Rules{})
	var s script
	s.add(ingest.CaseAccepted, "2026-11-26 10:00:00", ingest.Event{Window: "A01", Item: "SC-001", CaseID: "CM-5"})
	s.add(ingest.CaseCompleted, "2026-11-30 10:00:00", ingest.Event{CaseID: "CM-5", Item: "SC-001"})
	got := e.Observe(s.evs) // no tick ever ran: the server was down over the deadline
	require.Len(t, got, 1)
	require.Equal(t, "case_overdue:CM-5", got[0].ID)
	require.Equal(t, at("2026-11-29 00:00:00"), got[0].RaisedAt)
	require.Empty(t, e.Tick(at("2026-12-05 00:00:00")))
}

func TestRaiseOnce(t *testing.T) {
	e := NewEngine(testConfig(), Rules{})
	e.Now = func() time.Time { return at("2026-11-26 09:00:00") }
	a := Alert{Kind: KindSpoolFull, Severity: Red, Message: "事件缓存已满", MessageEN: "event spool full"}
	got := e.Raise(a)
	require.Len(t, got, 1)
	require.Equal(t, "spool_full:::20261126T010000Z", got[0].ID)
	require.Equal(t, at("2026-11-26 09:00:00"), got[0].RaisedAt)
	require.Empty(t, e.Raise(a))
	a.ID = "disk_full:/data:1"
	require.Len(t, e.Raise(a), 1)
	require.Empty(t, e.Raise(a))
}

// The engine's tracker reports data-quality signals too; the engine does
// not store them, and keeps none from one event to the next (a stream
// that never sends ticket_issued must not grow its memory).
func TestQualitySignalsAreNotKept(t *testing.T) {
	e := NewEngine(testConfig(), Rules{})
	var s script
	for i := range 50 {
		ts := at("2026-11-26 09:00:00").Add(time.Duration(i) * time.Minute).In(shanghai).Format(time.DateTime)
		s.add(ingest.ServiceEnded, ts, ingest.Event{Window: "A01", Ticket: fmt.Sprintf("X%03d", i)})
	}
	e.Observe(s.evs)
	require.LessOrEqual(t, len(e.facts.Quality), 2, "only the last event's signals (call without ticket, end without start)")
}
