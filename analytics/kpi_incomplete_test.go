package analytics_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/simulator"
)

// incompleteConfig is writerConfig with a second window, A02.
func incompleteConfig() *config.Config {
	cfg := writerConfig()
	cfg.Halls[0].Windows = append(cfg.Halls[0].Windows, config.Window{ID: "A02", Department: "市场监管局", Items: []string{"SC-001"}})
	return cfg
}

// visitEvents is one visit at win as many queue systems first send it:
// ticket, call, start and end (at the call), and the case completed at the
// end, with no window_opened and no case_accepted. Times are local on
// Monday 2026-11-23 ("09:05").
func visitEvents(win, ticket, caseID, issued, called, ended string) []ingest.Event {
	ts := func(hm string) string { return "2026-11-23T" + hm + ":00+08:00" }
	id := win + ticket
	return []ingest.Event{
		ev(id+"t", ingest.TicketIssued, ts(issued), ingest.Event{Ticket: ticket, Item: "SC-001"}),
		ev(id+"c", ingest.Called, ts(called), ingest.Event{Window: win, Ticket: ticket}),
		ev(id+"s", ingest.ServiceStarted, ts(called), ingest.Event{Window: win, Ticket: ticket, Item: "SC-001"}),
		ev(id+"e", ingest.ServiceEnded, ts(ended), ingest.Event{Window: win, Ticket: ticket, Item: "SC-001"}),
		ev(id+"d", ingest.CaseCompleted, ts(ended), ingest.Event{Window: win, Ticket: ticket, Item: "SC-001", CaseID: caseID}),
	}
}

// TestKPIIncompleteStreams: the KPI fixture of an incomplete stream, through
// the real intake (spool, event writer, tracker, ClickHouse), and a late
// batch from a window whose site was offline.
//
// A01 sends no window_opened and no case_accepted (the day one):
//
//	V1 issued 09:00, called 09:05, ended 09:15, case C1 completed 09:15
//	V2 issued 09:10, called 09:20, ended 09:30, case C2 completed 09:30
//	V3 issued 09:20, called 09:35, ended 09:45, case C3 completed 09:45
//	V4 issued 13:00, called 13:00, ended 13:10 (no case)
//
// Open time is inferred from the service: 09:05–09:45 (the gaps of 5
// minutes are idle time of one stretch) = 2400 s, and 13:00–13:10 = 600 s
// (a new stretch: the gap from 09:45 is over 30 minutes): 3000 s, all
// inferred. Serving (end − call) 4 × 600 = 2400 s, idle 600 s, utilisation
// 0.8, throughput 4 ÷ (3000 s / 3600) = 4.8 per hour. Waits 300 600 900 0
// → sorted 0 300 600 900: p50 rank 2 = 300, p90 rank 4 = 900; all within
// the 15-minute target. The three cases were never accepted: completed 3,
// completed_unknown 3, on_time_rate null (limit_unknown), not 0.
//
// A02 is the late batch, posted after all of A01 (its site was offline):
// opened 09:00, V5 issued 09:30, called 09:40, ended 09:50, case C5
// accepted 09:45 and completed 09:50, closed 10:00. Open 3600 s (its own),
// serving 600, idle 3000, utilisation 1/6, throughput 1 per hour; C5 on
// time (3 working days): on_time_rate 1. Posted twice, it counts once, in
// its own hour: hour 9 (Monday) holds V1–V3 and V5, open 2400 + 3600 =
// 6000 s; hour 13 holds V4, open 600 s.
//
// The data-quality table of the same range (received: A01's morning at
// 10:00, its afternoon at 13:15, the late batch at 14:30):
//
//	city-main, no window: the 5 tickets; B001 (09:30) came after A004
//	  (13:00): 1 out of order; B001 is 5 h late: 1 late
//	city-main A01: 15 events (4 + 4 + 4 + 3), 3 cases completed without
//	  acceptance, nothing late (at most 55 minutes)
//	city-main A02: 7 events, all late (4.5 h and more), in order
func TestKPIIncompleteStreams(t *testing.T) {
	var received atomic.Int64 // the store's clock: when events are stored
	s, _, sp, dir := writerRig(t, func() time.Time { return time.Unix(received.Load(), 0) })
	receive := func(hm string) {
		ts, err := time.Parse(time.RFC3339, "2026-11-23T"+hm+":00+08:00")
		require.NoError(t, err)
		received.Store(ts.Unix())
	}
	cfg := incompleteConfig()
	intake := &ingest.Intake{Spool: sp}
	clock := func() time.Time { return time.Date(2026, 11, 23, 6, 30, 0, 0, time.UTC) } // 14:30 local
	w := &analytics.EventWriter{Spool: sp, Store: s, Tracker: tracker.New(cfg), Location: cfg.Location(),
		StatePath: filepath.Join(dir, "writer.json"), Now: clock, Interval: -1}
	require.NoError(t, w.Initialize(t.Context()))
	stop := runWriter(w)
	defer stop()

	var morning []ingest.Event
	morning = append(morning, visitEvents("A01", "A001", "C1", "09:00", "09:05", "09:15")...)
	morning = append(morning, visitEvents("A01", "A002", "C2", "09:10", "09:20", "09:30")...)
	morning = append(morning, visitEvents("A01", "A003", "C3", "09:20", "09:35", "09:45")...)
	receive("10:00")
	require.NoError(t, intake.Accept(t.Context(), morning))
	drain(t, sp)
	receive("13:15")
	require.NoError(t, intake.Accept(t.Context(), visitEvents("A01", "A004", "", "13:00", "13:00", "13:10")[:4]))
	drain(t, sp)
	late := []ingest.Event{
		ev("L1", ingest.WindowOpened, "2026-11-23T09:00:00+08:00", ingest.Event{Window: "A02"}),
		ev("L2", ingest.TicketIssued, "2026-11-23T09:30:00+08:00", ingest.Event{Ticket: "B001", Item: "SC-001"}),
		ev("L3", ingest.Called, "2026-11-23T09:40:00+08:00", ingest.Event{Window: "A02", Ticket: "B001"}),
		ev("L4", ingest.ServiceStarted, "2026-11-23T09:40:00+08:00", ingest.Event{Window: "A02", Ticket: "B001"}),
		ev("L5", ingest.CaseAccepted, "2026-11-23T09:45:00+08:00", ingest.Event{Window: "A02", Ticket: "B001", Item: "SC-001", CaseID: "C5"}),
		ev("L6", ingest.ServiceEnded, "2026-11-23T09:50:00+08:00", ingest.Event{Window: "A02", Ticket: "B001"}),
		ev("L7", ingest.CaseCompleted, "2026-11-23T09:50:00+08:00", ingest.Event{Window: "A02", Item: "SC-001", CaseID: "C5"}),
		ev("L8", ingest.WindowClosed, "2026-11-23T10:00:00+08:00", ingest.Event{Window: "A02"}),
	}
	receive("14:30")
	for range 2 { // re-sent: a no-op
		require.NoError(t, intake.Accept(t.Context(), late))
		drain(t, sp)
	}

	from := time.Date(2026, 11, 23, 9, 0, 0, 0, cfg.Location())
	wantA01 := kpiWant{keys: []any{"city-main", "A01", "city", "市场监管局"},
		tickets: 4, called: 4, served: 4,
		open: 3000, inferred: 3000, serving: 2400, idle: 600,
		throughput: 4.8, util: 0.8,
		waitP50: 300, waitP90: 900, handleP50: 600, handleP90: 600,
		serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0,
		completed: 3, completedUnknown: 3, onTime: 0, onTimeRate: nil, reasons: "on_time_rate:limit_unknown"}
	wantA02 := kpiWant{keys: []any{"city-main", "A02", "city", "市场监管局"},
		tickets: 1, called: 1, served: 1,
		open: 3600, serving: 600, idle: 3000,
		throughput: 1.0, util: 1.0 / 6,
		waitP50: 600, waitP90: 600, handleP50: 600, handleP90: 600,
		serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0,
		completed: 1, onTime: 1, onTimeRate: 1.0}
	for _, mode := range []struct {
		name      string
		maxDirect int64
	}{{"rollups", -1}, {"direct", 1000}} {
		t.Run(mode.name, func(t *testing.T) {
			query := func(l analytics.Level) *analytics.KPITable {
				tab, err := s.KPI(t.Context(), analytics.KPIQuery{Level: l, From: from, To: from.Add(5 * time.Hour),
					Location: cfg.Location(), MaxDirectVisits: mode.maxDirect, Fresh: true})
				require.NoError(t, err)
				return tab
			}
			checkRows(t, query(analytics.LevelWindow), []kpiWant{wantA01, wantA02}, nil)
			hours := query(analytics.LevelHourWeekday)
			checkRows(t, hours, []kpiWant{
				{keys: []any{int64(1), int64(9)}, // V1 V2 V3 V5
					tickets: 4, called: 4, served: 4, open: 6000, inferred: 2400, serving: 2400, idle: 3600,
					throughput: 4 * 3600.0 / 6000, util: 0.4,
					waitP50: 600, waitP90: 900, handleP50: 600, handleP90: 600, // waits 300 600 900 600
					serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0,
					completed: 4, completedUnknown: 3, onTime: 1, onTimeRate: 1.0}, // C1 C2 C3 unknown, C5 on time
				{keys: []any{int64(1), int64(13)}, // V4
					tickets: 1, called: 1, served: 1, open: 600, inferred: 600, serving: 600, idle: 0,
					throughput: 6.0, util: 1.0,
					waitP50: 0, waitP90: 0, handleP50: 600, handleP90: 600,
					serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0, completed: 0, onTime: 0},
			}, nil)
		})
	}

	quality, err := s.Quality(t.Context(), analytics.QualityQuery{From: from, To: from.Add(5 * time.Hour)})
	require.NoError(t, err)
	require.Equal(t, []analytics.QualityRow{
		{Hall: "city-main", Window: "", Events: 5, OutOfOrder: 1, Late: 1},
		{Hall: "city-main", Window: "A01", Events: 15, CompletedWithoutAcceptance: 3},
		{Hall: "city-main", Window: "A02", Events: 7, Late: 7},
	}, quality)
	other, err := s.Quality(t.Context(), analytics.QualityQuery{From: from, To: from.Add(5 * time.Hour), Hall: "dist-east"})
	require.NoError(t, err)
	require.Empty(t, other)
}

// TestKPIBoundsOnDroppedEvents: simulated days of the example network with
// a random share of the events dropped (an integration that loses some)
// give KPIs that stay within their bounds at every level: counts and
// seconds never negative, rates and utilisation in [0, 1], inferred open
// time within open time, unknown and on-time completions within the
// completions, and a null KPI where the data cannot give it.
func TestKPIBoundsOnDroppedEvents(t *testing.T) {
	cfg, err := config.Load("../deploy/sunlight.example.yaml")
	require.NoError(t, err)
	s := openStore(t)
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, cfg.Location()) // a Monday
	to := from.AddDate(0, 0, 2)
	for seed := range 3 {
		rng := rand.New(rand.NewPCG(uint64(seed), 42))
		drop := []float64{0.05, 0.2, 0.5}[seed]
		evs := (&simulator.Timeline{Config: cfg, Seed: int64(seed + 1)}).Events(from, to)
		require.NotEmpty(t, evs)
		tr := tracker.New(cfg)
		var f tracker.Facts
		kept := 0
		for _, e := range evs {
			if rng.Float64() < drop {
				continue
			}
			e.EventID = fmt.Sprintf("s%d-%s", seed, e.EventID)
			tr.Apply(e, &f)
			kept++
		}
		tr.Advance(to.Add(24*time.Hour), &f)
		t.Logf("seed %d: %d of %d events kept, %d visits, %d spans, %d case rows", seed, kept, len(evs), len(f.Visits), len(f.Spans), len(f.Cases))
		require.NoError(t, s.InsertFacts(context.Background(), &f))
	}
	levels := []analytics.Level{analytics.LevelWindow, analytics.LevelHall, analytics.LevelTier, analytics.LevelDepartment,
		analytics.LevelItem, analytics.LevelStaff, analytics.LevelHourWeekday, analytics.LevelNetwork}
	rates := []string{"utilisation", "service_level", "no_show_rate", "abandonment_rate", "on_time_rate"}
	for _, l := range levels {
		for _, maxDirect := range []int64{-1, 1 << 30} {
			tab, err := s.KPI(t.Context(), analytics.KPIQuery{Level: l, From: from.Add(90 * time.Minute), To: to.Add(-7 * time.Hour),
				Location: cfg.Location(), MaxDirectVisits: maxDirect, Fresh: true})
			require.NoError(t, err)
			require.NotEmpty(t, tab.Rows, "level %s", l)
			for _, row := range tab.Rows {
				cell := func(c string) any { return row[tab.Column(c)] }
				num := func(c string) (float64, bool) {
					switch v := cell(c).(type) {
					case int64:
						return float64(v), true
					case float64:
						return v, true
					}
					return 0, false
				}
				where := fmt.Sprintf("level %s row %v", l, row[:len(analytics.KeyColumns(l))])
				for _, c := range tab.Columns[len(analytics.KeyColumns(l)):] {
					if v, ok := num(c); ok {
						require.GreaterOrEqual(t, v, 0.0, "%s: %s", where, c)
					}
				}
				for _, c := range rates {
					if v, ok := num(c); ok {
						require.LessOrEqual(t, v, 1.0, "%s: %s", where, c)
					}
				}
				if open, ok := num("open_seconds"); ok {
					inferred, _ := num("open_inferred_seconds")
					require.LessOrEqual(t, inferred, open, where)
					serving, _ := num("serving_seconds")
					if serving > open {
						require.Nil(t, cell("idle_seconds"), where)
						require.Contains(t, cell("unknown_reasons"), "idle_seconds:", where)
					}
				}
				if done, ok := num("completed"); ok {
					unknown, _ := num("completed_unknown")
					onTime, _ := num("completed_on_time")
					require.LessOrEqual(t, unknown+onTime, done, where)
					if done > 0 && unknown == done {
						require.Nil(t, cell("on_time_rate"), where)
						require.Contains(t, cell("unknown_reasons"), "on_time_rate:limit_unknown", where)
					}
				}
			}
		}
	}
}
