package analytics_test

import (
	"bytes"
	"encoding/csv"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// The KPI fixture: two halls of different tiers (city-main: windows A01
// market and A02 tax; dist-east: window B01 market), items SC-001 and
// SC-002 (market) and TX-001 (tax), staff E1 and E2. All times UTC; the
// hall zone is Asia/Shanghai (UTC+8), 2026-03-02 is a Monday.
//
// The range [03-02 01:30, 03-04 03:20) is not aligned, so the KPI queries
// tile it as raw [01:30, 02:00), hourly [02:00, 24:00), daily 03-03, hourly
// [03-04 00:00, 03:00), raw [03:00, 03:20): the fixture has facts in each.
// The previous period of the same length (49h50m) is [02-27 23:40, 03-02
// 01:30).
var (
	kpiFrom = time.Date(2026, 3, 2, 1, 30, 0, 0, time.UTC)
	kpiTo   = time.Date(2026, 3, 4, 3, 20, 0, 0, time.UTC)
)

func at(day, h, m int) time.Time { return time.Date(2026, 3, day, h, m, 0, 0, time.UTC) }

func visit(hall, tier, win, dept, item, staff, ticket string, o tracker.Outcome, issued time.Time, wait, handle uint32, met bool, calls int) tracker.Visit {
	v := tracker.Visit{Hall: hall, Tier: tier, Window: win, Department: dept, Item: item, Staff: staff,
		Ticket: ticket, Outcome: o, Issued: issued, Calls: calls, WaitSeconds: wait, HandleSeconds: handle, MetTarget: met}
	if o != tracker.Abandoned {
		v.Called = issued.Add(time.Duration(wait) * time.Second)
	}
	if o == tracker.Served {
		v.Started = v.Called.Add(30 * time.Second)
		v.Ended = v.Called.Add(time.Duration(handle) * time.Second)
	}
	return v
}

func kpiFixture() *tracker.Facts {
	const (
		cm, de = "city-main", "dist-east"
		ci, di = "city", "district"
	)
	return &tracker.Facts{
		Visits: []tracker.Visit{
			// V1 raw edge piece; V2 re-called twice, served; V3 no-show.
			visit(cm, ci, "A01", "market", "SC-001", "E1", "A001", tracker.Served, at(2, 1, 40), 300, 600, true, 1),
			visit(cm, ci, "A01", "market", "SC-002", "E1", "A002", tracker.Served, at(2, 2, 10), 120, 900, true, 2),
			visit(cm, ci, "A01", "market", "SC-001", "E1", "A003", tracker.NoShow, at(2, 2, 30), 600, 0, false, 2),
			// V4; V5 abandoned: no window, no staff, the item's department.
			visit(cm, ci, "A02", "tax", "TX-001", "E2", "T001", tracker.Served, at(2, 3, 0), 60, 300, true, 1),
			visit(cm, ci, "", "tax", "TX-001", "", "T002", tracker.Abandoned, at(2, 5, 0), 0, 0, false, 0),
			// V6, V7 in the daily piece.
			visit(de, di, "B01", "market", "SC-001", "E2", "B001", tracker.Served, at(3, 2, 0), 900, 1200, false, 1),
			visit(de, di, "B01", "market", "SC-002", "E2", "B002", tracker.Served, at(3, 6, 0), 30, 200, true, 1),
			// V8 raw end piece; V9 after To; V10 in the previous period.
			visit(cm, ci, "A02", "tax", "TX-001", "E2", "T001", tracker.Served, at(4, 3, 10), 100, 400, true, 1),
			visit(cm, ci, "A01", "market", "SC-001", "E1", "A001", tracker.Served, at(4, 3, 30), 50, 50, true, 1),
			visit(cm, ci, "A01", "market", "SC-001", "E1", "A001", tracker.Served, at(1, 2, 0), 200, 500, true, 1),
		},
		Spans: []tracker.Span{
			{Hall: cm, Tier: ci, Window: "A01", Department: "market", Start: at(2, 1, 0), End: at(2, 2, 0)},  // S1: 1800 in, 1800 in prev
			{Hall: cm, Tier: ci, Window: "A01", Department: "market", Start: at(2, 2, 0), End: at(2, 3, 0)},  // S2: 3600
			{Hall: cm, Tier: ci, Window: "A02", Department: "tax", Start: at(2, 3, 0), End: at(2, 3, 30)},    // S3: 1800
			{Hall: de, Tier: di, Window: "B01", Department: "market", Start: at(3, 2, 0), End: at(3, 3, 0)},  // S4: 3600
			{Hall: de, Tier: di, Window: "B01", Department: "market", Start: at(3, 6, 0), End: at(3, 6, 40)}, // S5: 2400
			{Hall: cm, Tier: ci, Window: "A02", Department: "tax", Start: at(4, 3, 0), End: at(4, 3, 45)},    // S6: 1200 in
			{Hall: cm, Tier: ci, Window: "A01", Department: "market", Start: at(1, 2, 0), End: at(1, 3, 0)},  // S7: prev 3600
			// Open time inferred from service (no window_opened), counted
			// apart too: S8 in the raw edge piece, S9 in the daily piece.
			{Hall: cm, Tier: ci, Window: "A02", Department: "tax", Start: at(2, 1, 35), End: at(2, 1, 50), Inferred: true},   // S8: 900
			{Hall: de, Tier: di, Window: "B01", Department: "market", Start: at(3, 8, 0), End: at(3, 8, 30), Inferred: true}, // S9: 1800
		},
		Cases: []tracker.CaseState{
			{CaseID: "C1", Hall: cm, Tier: ci, Window: "A01", Department: "market", Item: "SC-001", State: "accepted", Accepted: at(2, 1, 55), Deadline: at(5, 9, 0), Version: 1},
			{CaseID: "C1", Hall: cm, Tier: ci, Window: "A01", Department: "market", Item: "SC-001", State: "completed", Accepted: at(2, 1, 55), Deadline: at(5, 9, 0), Completed: at(2, 6, 0), OnTime: true, Version: 2},
			{CaseID: "C2", Hall: cm, Tier: ci, Window: "A02", Department: "tax", Item: "TX-001", State: "completed", Accepted: at(1, 3, 0), Deadline: at(2, 9, 0), Completed: at(3, 5, 0), Version: 5},
			{CaseID: "C3", Hall: de, Tier: di, Window: "B01", Department: "market", Item: "SC-001", State: "completed", Accepted: at(3, 2, 20), Deadline: at(6, 9, 0), Completed: at(4, 3, 5), OnTime: true, Version: 3},
			{CaseID: "C4", Hall: de, Tier: di, Window: "B01", Department: "market", Item: "SC-002", State: "accepted", Accepted: at(3, 6, 5), Deadline: at(6, 9, 0), Version: 4},
			{CaseID: "C5", Hall: de, Tier: di, Window: "B01", Department: "market", Item: "SC-001", State: "completed", Accepted: at(3, 2, 5), Deadline: at(6, 9, 0), Completed: at(4, 4, 0), OnTime: true, Version: 6},
			{CaseID: "C6", Hall: cm, Tier: ci, Window: "A01", Department: "market", Item: "SC-001", State: "rejected", Completed: at(2, 4, 0), Version: 7},
			{CaseID: "C7", Hall: cm, Tier: ci, Window: "A01", Department: "market", Item: "SC-001", State: "completed", Accepted: at(1, 1, 0), Deadline: at(1, 2, 0), Completed: at(1, 3, 0), Version: 8},
			// Completed without a known acceptance (no deadline): unknown,
			// not late. C8 in the daily piece, C9 in the raw edge piece.
			{CaseID: "C8", Hall: cm, Tier: ci, Window: "A02", Department: "tax", Item: "TX-001", State: "completed", Completed: at(3, 7, 0), Version: 9},
			{CaseID: "C9", Hall: de, Tier: di, Window: "B01", Department: "market", Item: "SC-001", State: "completed", Completed: at(2, 1, 45), Version: 10},
		},
		Ratings: []tracker.Rating{
			{EventID: "R1", Hall: cm, Tier: ci, Window: "A01", Department: "market", Item: "SC-001", Staff: "E1", TS: at(2, 1, 56), Rating: 5},
			{EventID: "R2", Hall: cm, Tier: ci, Window: "A01", Department: "market", Item: "SC-002", Staff: "E1", TS: at(2, 2, 40), Rating: 4},
			{EventID: "R3", Hall: cm, Tier: ci, Window: "A02", Department: "tax", Item: "TX-001", Staff: "E2", TS: at(2, 3, 10), Rating: 1},
			{EventID: "R4", Hall: de, Tier: di, Window: "B01", Department: "market", Item: "SC-001", Staff: "E2", TS: at(3, 2, 30), Rating: 5},
			{EventID: "R5", Hall: de, Tier: di, Window: "B01", Department: "market", Item: "SC-002", Staff: "E2", TS: at(4, 3, 15), Rating: 3},
			{EventID: "R6", Hall: de, Tier: di, Window: "B01", Department: "market", Item: "SC-002", Staff: "E2", TS: at(4, 4, 0), Rating: 2},
			{EventID: "R7", Hall: cm, Tier: ci, Window: "A01", Department: "market", Item: "SC-001", Staff: "E1", TS: at(1, 2, 30), Rating: 2},
		},
	}
}

// kpiWant is one expected row. Ints are counts or seconds; any fields are
// nil (absent), an int (seconds) or a float64.
type kpiWant struct {
	keys                                   []any
	tickets, called, served, noShows, aban int
	open, serving, idle                    any
	throughput, util                       any
	waitP50, waitP90, handleP50, handleP90 any
	serviceLevel, noShowRate, abanRate     any
	completed, onTime, onTimeRate          any
	ratings                                int
	ratingAvg                              any
	byRating                               [5]int
	// inferred and completedUnknown default to 0 where open and completed
	// are given (nil where they are absent); reasons defaults to "".
	inferred, completedUnknown any
	reasons                    string
}

func (w kpiWant) values() map[string]any {
	m := map[string]any{
		"tickets": w.tickets, "called": w.called, "served": w.served, "no_shows": w.noShows, "abandoned": w.aban,
		"open_seconds": w.open, "serving_seconds": w.serving, "idle_seconds": w.idle,
		"throughput_per_hour": w.throughput, "utilisation": w.util,
		"wait_p50_s": w.waitP50, "wait_p90_s": w.waitP90, "handle_p50_s": w.handleP50, "handle_p90_s": w.handleP90,
		"service_level": w.serviceLevel, "no_show_rate": w.noShowRate, "abandonment_rate": w.abanRate,
		"completed": w.completed, "completed_on_time": w.onTime, "on_time_rate": w.onTimeRate,
		"ratings": w.ratings, "rating_avg": w.ratingAvg,
	}
	for i, n := range w.byRating {
		m["rating_"+string(rune('1'+i))] = n
	}
	m["open_inferred_seconds"], m["completed_unknown"], m["unknown_reasons"] = w.inferred, w.completedUnknown, w.reasons
	if w.open != nil && w.inferred == nil {
		m["open_inferred_seconds"] = 0
	}
	if w.completed != nil && w.completedUnknown == nil {
		m["completed_unknown"] = 0
	}
	for k, v := range m {
		if i, ok := v.(int); ok {
			m[k] = int64(i)
		}
	}
	return m
}

// checkRows compares the table's rows, in order, with want (keys and
// every KPI column; prev and delta columns when prev is given).
func checkRows(t *testing.T, tab *analytics.KPITable, want []kpiWant, prev []kpiWant) {
	t.Helper()
	require.Len(t, tab.Rows, len(want))
	for r, w := range want {
		row := tab.Rows[r]
		for i, k := range w.keys {
			require.Equal(t, k, row[i], "row %d key %d", r, i)
		}
		vals := w.values()
		var pvals map[string]any
		if prev != nil {
			pvals = prev[r].values()
		}
		for name, v := range vals {
			checkCell(t, tab, row, name, v, w.keys)
			if pvals != nil {
				checkCell(t, tab, row, "prev_"+name, pvals[name], w.keys)
				checkCell(t, tab, row, "delta_"+name, wantDelta(v, pvals[name]), w.keys)
			}
		}
	}
}

func wantDelta(cur, prev any) any {
	switch c := cur.(type) {
	case int64:
		if p, ok := prev.(int64); ok {
			return c - p
		}
	case float64:
		if p, ok := prev.(float64); ok {
			return c - p
		}
	}
	return nil
}

func checkCell(t *testing.T, tab *analytics.KPITable, row []any, name string, want any, keys []any) {
	t.Helper()
	i := tab.Column(name)
	require.GreaterOrEqual(t, i, 0, "column %s", name)
	got := row[i]
	if f, ok := want.(float64); ok {
		require.IsType(t, float64(0), got, "%v %s", keys, name)
		require.InDelta(t, f, got.(float64), 1e-9, "%v %s", keys, name)
		return
	}
	require.Equal(t, want, got, "%v %s", keys, name)
}

func TestKPIFixture(t *testing.T) { testKPIFixture(t, openStore(t)) }

// TestKPIFixtureOnCluster runs the fixture on 2 shards × 2 replicas: the
// same hand-computed values, so the cluster's KPIs equal the single
// server's.
func TestKPIFixtureOnCluster(t *testing.T) { testKPIFixture(t, chtest.ClusterStore(t)) }

func testKPIFixture(t *testing.T, s *analytics.Store) {
	ctx := t.Context()
	f := kpiFixture()
	require.NoError(t, s.InsertFacts(ctx, f))
	// Case rows written again (a replay), and C2's completion re-sent with
	// a later version: the cases count once.
	again := append([]tracker.CaseState(nil), f.Cases...)
	c2 := f.Cases[2]
	c2.Version, c2.Completed = 9, at(3, 5, 30)
	again = append(again, c2)
	require.NoError(t, s.InsertFacts(ctx, &tracker.Facts{Cases: again}))
	var n uint64
	require.NoError(t, s.Conn().QueryRow(ctx, `SELECT count() FROM cases FINAL WHERE case_id = 'C2'`).Scan(&n))
	require.Equal(t, uint64(1), n)

	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	// Both ways of reading visits: the rollups (quantile states), and the
	// raw table (MaxDirectVisits above the fixture's size).
	for _, mode := range []struct {
		name      string
		maxDirect int64
	}{{"rollups", -1}, {"direct", 1000}} {
		t.Run(mode.name, func(t *testing.T) {
			maxDirect := mode.maxDirect
			query := func(q analytics.KPIQuery) *analytics.KPITable {
				t.Helper()
				// Fresh: else the direct mode would be answered from the
				// rows the rollups mode left in the store's cache.
				q.From, q.To, q.Location, q.MaxDirectVisits, q.Fresh = kpiFrom, kpiTo, shanghai, maxDirect, true
				tab, err := s.KPI(ctx, q)
				require.NoError(t, err)
				return tab
			}
			third := 1.0 / 3

			// Window level. A01: V1 V2 V3 (waits 300 120 600 → sorted 120 300 600:
			// p50 = rank ceil(1.5)=2 → 300, p90 = rank ceil(2.7)=3 → 600; handling
			// 600 900: p50 rank 1 → 600, p90 rank 2 → 900), open S1 1800 (clipped
			// at From) + S2 3600 = 5400, serving 600+900 = 1500. A02: V4 V8, open
			// S3 1800 + S6 1200 (clipped at To) + S8 900 (inferred) = 3900. B01:
			// V6 V7, open 3600+2400 + S9 1800 (inferred).
			a01 := kpiWant{keys: []any{"city-main", "A01", "city", "market"},
				tickets: 3, called: 3, served: 2, noShows: 1,
				open: 5400, serving: 1500, idle: 3900, // 5400 − 1500
				throughput: 2 * 3600.0 / 5400, util: 1500.0 / 5400,
				waitP50: 300, waitP90: 600, handleP50: 600, handleP90: 900,
				serviceLevel: 2 * third, noShowRate: third, abanRate: 0.0, // met V1 V2 of 3 called
				completed: 1, onTime: 1, onTimeRate: 1.0, // C1; C6 was rejected
				ratings: 2, ratingAvg: 4.5, byRating: [5]int{0, 0, 0, 1, 1}} // R1 5, R2 4
			a02 := kpiWant{keys: []any{"city-main", "A02", "city", "tax"},
				tickets: 2, called: 2, served: 2,
				open: 3900, inferred: 900, serving: 700, idle: 3200, // 300+400; 3900−700
				throughput: 2 * 3600.0 / 3900, util: 700.0 / 3900,
				waitP50: 60, waitP90: 100, handleP50: 300, handleP90: 400, // 60 100: ranks 1, ceil(1.8)=2
				serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0,
				completed: 2, completedUnknown: 1, onTime: 0, onTimeRate: 0.0, // C2 late, counted once; C8 unknown: 0 of 1
				ratings: 1, ratingAvg: 1.0, byRating: [5]int{1, 0, 0, 0, 0}}
			noWindow := kpiWant{keys: []any{"city-main", "", "city", "tax"}, // V5 abandoned
				tickets: 1, aban: 1, open: 0, serving: 0, idle: 0,
				abanRate: 1.0, completed: 0, onTime: 0}
			b01 := kpiWant{keys: []any{"dist-east", "B01", "district", "market"},
				tickets: 2, called: 2, served: 2,
				open: 7800, inferred: 1800, serving: 1400, idle: 6400, // 1200+200
				throughput: 2 * 3600.0 / 7800, util: 1400.0 / 7800,
				waitP50: 30, waitP90: 900, handleP50: 200, handleP90: 1200, // 30 900; 200 1200
				serviceLevel: 0.5, noShowRate: 0.0, abanRate: 0.0, // V7 met, V6 not
				completed: 2, completedUnknown: 1, onTime: 1, onTimeRate: 1.0, // C3 (raw end piece); C9 unknown; C5 after To
				ratings: 2, ratingAvg: 4.0, byRating: [5]int{0, 0, 1, 0, 1}} // R4 5, R5 3; R6 after To
			t.Run("window", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelWindow}), []kpiWant{noWindow, a01, a02, b01}, nil)
			})

			// Hall and tier level: city-main = A01 + A02 + the abandoned ticket.
			// Waits of called 300 120 600 60 100 → 60 100 120 300 600: p50 rank
			// ceil(2.5)=3 → 120, p90 rank ceil(4.5)=5 → 600; handling 600 900 300
			// 400 → 300 400 600 900: p50 rank 2 → 400, p90 rank ceil(3.6)=4 → 900.
			cityMain := kpiWant{keys: []any{"city-main", "city"},
				tickets: 6, called: 5, served: 4, noShows: 1, aban: 1,
				open: 9300, inferred: 900, serving: 2200, idle: 7100, // 5400+3900; 1500+700
				throughput: 4 * 3600.0 / 9300, util: 2200.0 / 9300,
				waitP50: 120, waitP90: 600, handleP50: 400, handleP90: 900,
				serviceLevel: 0.8, noShowRate: 0.2, abanRate: 1.0 / 6, // met V1 V2 V4 V8 of 5
				completed: 3, completedUnknown: 1, onTime: 1, onTimeRate: 0.5, // C1, C2; C8 unknown
				ratings: 3, ratingAvg: 10.0 / 3, byRating: [5]int{1, 0, 0, 1, 1}} // 5+4+1
			distEast := b01
			distEast.keys = []any{"dist-east", "district"}
			t.Run("hall", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelHall}), []kpiWant{cityMain, distEast}, nil)
			})
			// Halls (a user's scope) keeps the listed halls, at every level
			// and in both modes; an empty list keeps none.
			t.Run("halls", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelHall, Halls: []string{"dist-east"}}), []kpiWant{distEast}, nil)
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelHall, Halls: []string{"city-main", "dist-east"}}), []kpiWant{cityMain, distEast}, nil)
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelWindow, Halls: []string{"dist-east"}}), []kpiWant{b01}, nil)
				district := distEast
				district.keys = []any{"district"}
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelTier, Halls: []string{"dist-east"}}), []kpiWant{district}, nil)
				require.Empty(t, query(analytics.KPIQuery{Level: analytics.LevelHall, Halls: []string{}}).Rows)
			})
			t.Run("tier", func(t *testing.T) {
				city, district := cityMain, distEast
				city.keys, district.keys = []any{"city"}, []any{"district"}
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelTier}), []kpiWant{city, district}, nil)
			})

			// Network: city-main + dist-east, the medians from all visits.
			// Waits 30 60 100 120 300 600 900: p50 rank ceil(3.5)=4 → 120,
			// p90 rank ceil(6.3)=7 → 900; handling 200 300 400 600 900 1200:
			// p50 rank 3 → 400, p90 rank ceil(5.4)=6 → 1200.
			t.Run("network", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelNetwork}), []kpiWant{{keys: []any{"all"},
					tickets: 8, called: 7, served: 6, noShows: 1, aban: 1,
					open: 17100, inferred: 2700, serving: 3600, idle: 13500, // 9300+7800; 2200+1400
					throughput: 6 * 3600.0 / 17100, util: 3600.0 / 17100,
					waitP50: 120, waitP90: 900, handleP50: 400, handleP90: 1200,
					serviceLevel: 5.0 / 7, noShowRate: 1.0 / 7, abanRate: 1.0 / 8, // met 4 + 1 of 5 + 2 called
					completed: 5, completedUnknown: 2, onTime: 2, onTimeRate: 2.0 / 3, // C1 C2 C3; C8 C9 unknown
					ratings: 5, ratingAvg: 18.0 / 5, byRating: [5]int{1, 0, 1, 1, 2}}}, nil)
			})

			// Department: market = A01 + B01 (V1 V2 V3 V6 V7), tax = A02 + V5.
			market := kpiWant{keys: []any{"market"},
				tickets: 5, called: 5, served: 4, noShows: 1,
				open: 13200, inferred: 1800, serving: 2900, idle: 10300, // 5400+7800; 1500+1400
				throughput: 4 * 3600.0 / 13200, util: 2900.0 / 13200,
				waitP50: 300, waitP90: 900, // 30 120 300 600 900: ranks 3, 5
				handleP50: 600, handleP90: 1200, // 200 600 900 1200: ranks 2, 4
				serviceLevel: 0.6, noShowRate: 0.2, abanRate: 0.0, // met V1 V2 V7
				completed: 3, completedUnknown: 1, onTime: 2, onTimeRate: 1.0, // C1, C3; C9 unknown
				ratings: 4, ratingAvg: 17.0 / 4, byRating: [5]int{0, 0, 1, 1, 2}} // 5+4+5+3
			tax := kpiWant{keys: []any{"tax"},
				tickets: 3, called: 2, served: 2, aban: 1,
				open: 3900, inferred: 900, serving: 700, idle: 3200,
				throughput: 2 * 3600.0 / 3900, util: 700.0 / 3900,
				waitP50: 60, waitP90: 100, handleP50: 300, handleP90: 400,
				serviceLevel: 1.0, noShowRate: 0.0, abanRate: third,
				completed: 2, completedUnknown: 1, onTime: 0, onTimeRate: 0.0, // C2 late, C8 unknown
				ratings: 1, ratingAvg: 1.0, byRating: [5]int{1, 0, 0, 0, 0}}
			t.Run("department", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelDepartment}), []kpiWant{market, tax}, nil)
			})

			// Item: no open time (spans have no item).
			t.Run("item", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelItem}), []kpiWant{
					{keys: []any{"SC-001"}, // V1 V3 V6
						tickets: 3, called: 3, served: 2, noShows: 1, serving: 1800, // 600+1200
						waitP50: 600, waitP90: 900, handleP50: 600, handleP90: 1200, // 300 600 900: ranks 2, 3
						serviceLevel: third, noShowRate: third, abanRate: 0.0,
						completed: 3, completedUnknown: 1, onTime: 2, onTimeRate: 1.0, // C1, C3; C9 unknown
						ratings: 2, ratingAvg: 5.0, byRating: [5]int{0, 0, 0, 0, 2}},
					{keys: []any{"SC-002"}, // V2 V7
						tickets: 2, called: 2, served: 2, serving: 1100, // 900+200
						waitP50: 30, waitP90: 120, handleP50: 200, handleP90: 900,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0,
						completed: 0, onTime: 0, // C4 still open
						ratings: 2, ratingAvg: 3.5, byRating: [5]int{0, 0, 1, 1, 0}},
					{keys: []any{"TX-001"}, // V4 V5 V8
						tickets: 3, called: 2, served: 2, aban: 1, serving: 700,
						waitP50: 60, waitP90: 100, handleP50: 300, handleP90: 400,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: third,
						completed: 2, completedUnknown: 1, onTime: 0, onTimeRate: 0.0, // C2 late, C8 unknown
						ratings: 1, ratingAvg: 1.0, byRating: [5]int{1, 0, 0, 0, 0}},
				}, nil)
			})

			// Staff: no open time, no completions (cases have no staff).
			t.Run("staff", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelStaff}), []kpiWant{
					{keys: []any{""}, tickets: 1, aban: 1, serving: 0, abanRate: 1.0}, // V5
					{keys: []any{"E1"}, // V1 V2 V3
						tickets: 3, called: 3, served: 2, noShows: 1, serving: 1500,
						waitP50: 300, waitP90: 600, handleP50: 600, handleP90: 900,
						serviceLevel: 2 * third, noShowRate: third, abanRate: 0.0,
						ratings: 2, ratingAvg: 4.5, byRating: [5]int{0, 0, 0, 1, 1}},
					{keys: []any{"E2"}, // V4 V6 V7 V8
						tickets: 4, called: 4, served: 4, serving: 2100, // 300+1200+200+400
						waitP50: 60, waitP90: 900, // 30 60 100 900: ranks 2, 4
						handleP50: 300, handleP90: 1200, // 200 300 400 1200
						serviceLevel: 0.75, noShowRate: 0.0, abanRate: 0.0, // V6 missed
						ratings: 3, ratingAvg: 3.0, byRating: [5]int{1, 0, 1, 0, 1}},
				}, nil)
			})

			// Hour of day × weekday in Asia/Shanghai (UTC+8): Monday 03-02, Tuesday
			// 03-03, Wednesday 03-04.
			t.Run("hour_weekday", func(t *testing.T) {
				checkRows(t, query(analytics.KPIQuery{Level: analytics.LevelHourWeekday}), []kpiWant{
					{keys: []any{int64(1), int64(9)}, // V1 09:40, S1 09:30-10:00, S8 09:35-09:50, C9 09:45 (unknown), R1
						tickets: 1, called: 1, served: 1, open: 2700, inferred: 900, serving: 600, idle: 2100,
						throughput: 3600.0 / 2700, util: 600.0 / 2700, waitP50: 300, waitP90: 300, handleP50: 600, handleP90: 600,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0,
						completed: 1, completedUnknown: 1, onTime: 0, onTimeRate: nil, reasons: "on_time_rate:limit_unknown",
						ratings: 1, ratingAvg: 5.0, byRating: [5]int{0, 0, 0, 0, 1}},
					{keys: []any{int64(1), int64(10)}, // V2 V3, S2, R2
						tickets: 2, called: 2, served: 1, noShows: 1, open: 3600, serving: 900, idle: 2700,
						throughput: 1.0, util: 0.25, waitP50: 120, waitP90: 600, handleP50: 900, handleP90: 900,
						serviceLevel: 0.5, noShowRate: 0.5, abanRate: 0.0, completed: 0, onTime: 0,
						ratings: 1, ratingAvg: 4.0, byRating: [5]int{0, 0, 0, 1, 0}},
					{keys: []any{int64(1), int64(11)}, // V4, S3, R3
						tickets: 1, called: 1, served: 1, open: 1800, serving: 300, idle: 1500,
						throughput: 2.0, util: 300.0 / 1800, waitP50: 60, waitP90: 60, handleP50: 300, handleP90: 300,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0, completed: 0, onTime: 0,
						ratings: 1, ratingAvg: 1.0, byRating: [5]int{1, 0, 0, 0, 0}},
					{keys: []any{int64(1), int64(13)}, // V5 abandoned
						tickets: 1, aban: 1, open: 0, serving: 0, idle: 0, abanRate: 1.0, completed: 0, onTime: 0},
					{keys: []any{int64(1), int64(14)}, // C1 completed 14:00
						open: 0, serving: 0, idle: 0, completed: 1, onTime: 1, onTimeRate: 1.0},
					{keys: []any{int64(2), int64(10)}, // V6, S4, R4
						tickets: 1, called: 1, served: 1, open: 3600, serving: 1200, idle: 2400,
						throughput: 1.0, util: 1200.0 / 3600, waitP50: 900, waitP90: 900, handleP50: 1200, handleP90: 1200,
						serviceLevel: 0.0, noShowRate: 0.0, abanRate: 0.0, completed: 0, onTime: 0,
						ratings: 1, ratingAvg: 5.0, byRating: [5]int{0, 0, 0, 0, 1}},
					{keys: []any{int64(2), int64(13)}, // C2 late
						open: 0, serving: 0, idle: 0, completed: 1, onTime: 0, onTimeRate: 0.0},
					{keys: []any{int64(2), int64(14)}, // V7, S5
						tickets: 1, called: 1, served: 1, open: 2400, serving: 200, idle: 2200,
						throughput: 1.5, util: 200.0 / 2400, waitP50: 30, waitP90: 30, handleP50: 200, handleP90: 200,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0, completed: 0, onTime: 0},
					{keys: []any{int64(2), int64(15)}, // C8 completed 15:00, acceptance unknown
						open: 0, serving: 0, idle: 0, completed: 1, completedUnknown: 1, onTime: 0, reasons: "on_time_rate:limit_unknown"},
					{keys: []any{int64(2), int64(16)}, // S9 16:00-16:30, inferred, nobody served
						open: 1800, inferred: 1800, serving: 0, idle: 1800, throughput: 0.0, util: 0.0, completed: 0, onTime: 0},
					{keys: []any{int64(3), int64(11)}, // V8, S6 11:00-11:20, C3, R5
						tickets: 1, called: 1, served: 1, open: 1200, serving: 400, idle: 800,
						throughput: 3.0, util: 400.0 / 1200, waitP50: 100, waitP90: 100, handleP50: 400, handleP90: 400,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0, completed: 1, onTime: 1, onTimeRate: 1.0,
						ratings: 1, ratingAvg: 3.0, byRating: [5]int{0, 0, 1, 0, 0}},
				}, nil)
			})

			// Compare at hall level: the previous period [02-27 23:40, 03-02 01:30)
			// holds V10 (wait 200, handling 500), S7 3600 + S1's first half 1800,
			// C7 (late) and R7 (2), all of city-main.
			t.Run("compare", func(t *testing.T) {
				prevCity := kpiWant{keys: cityMain.keys,
					tickets: 1, called: 1, served: 1, open: 5400, serving: 500, idle: 4900,
					throughput: 3600.0 / 5400, util: 500.0 / 5400,
					waitP50: 200, waitP90: 200, handleP50: 500, handleP90: 500,
					serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0,
					completed: 1, onTime: 0, onTimeRate: 0.0,
					ratings: 1, ratingAvg: 2.0, byRating: [5]int{0, 1, 0, 0, 0}}
				prevEast := kpiWant{keys: distEast.keys, open: 0, serving: 0, idle: 0, completed: 0, onTime: 0}
				tab := query(analytics.KPIQuery{Level: analytics.LevelHall, Compare: true})
				require.Equal(t, time.Date(2026, 2, 27, 23, 40, 0, 0, time.UTC), *tab.PrevFrom)
				require.Equal(t, kpiFrom, *tab.PrevTo)
				checkRows(t, tab, []kpiWant{cityMain, distEast}, []kpiWant{prevCity, prevEast})
			})

			// A whole UTC month, read from the monthly visit rollups: city-main in
			// March is V1-V5, V8, V9 and V10. Waits of called 300 120 600 60 100 50
			// 200 → 50 60 100 120 200 300 600: p50 rank ceil(3.5)=4 → 120, p90 rank
			// ceil(6.3)=7 → 600; handling 600 900 300 400 50 500 → 50 300 400 500
			// 600 900: p50 rank 3 → 400, p90 rank ceil(5.4)=6 → 900.
			t.Run("monthly", func(t *testing.T) {
				tab, err := s.KPI(ctx, analytics.KPIQuery{Level: analytics.LevelHall, Hall: "city-main", Location: shanghai, MaxDirectVisits: maxDirect, Fresh: true,
					From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)})
				require.NoError(t, err)
				checkRows(t, tab, []kpiWant{{keys: []any{"city-main", "city"},
					tickets: 8, called: 7, served: 6, noShows: 1, aban: 1,
					open: 16200, inferred: 900, serving: 2750, idle: 13450, // S1 S2 S7 3600 each, S3 1800, S6 2700, S8 900; 600+900+300+400+50+500
					throughput: 6 * 3600.0 / 16200, util: 2750.0 / 16200,
					waitP50: 120, waitP90: 600, handleP50: 400, handleP90: 900,
					serviceLevel: 6.0 / 7, noShowRate: 1.0 / 7, abanRate: 1.0 / 8, // all called met the target but V3
					completed: 4, completedUnknown: 1, onTime: 1, onTimeRate: third, // C1 on time, C2 and C7 late, C8 unknown
					ratings: 4, ratingAvg: 3.0, byRating: [5]int{1, 1, 0, 1, 1}}}, nil) // R1 5, R2 4, R3 1, R7 2
				// The same month through Halls: the same rows.
				byHalls, err := s.KPI(ctx, analytics.KPIQuery{Level: analytics.LevelHall, Halls: []string{"city-main"}, Location: shanghai, MaxDirectVisits: maxDirect, Fresh: true,
					From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)})
				require.NoError(t, err)
				require.Equal(t, tab.Rows, byHalls.Rows)
			})

			// A whole rollup week, Thursday 02-26 to Thursday 03-05 UTC: A01 has V1
			// V2 V3 V9 V10, waits 300 120 600 50 200 → 50 120 200 300 600 (ranks 3
			// and 5), handling 600 900 50 500 → 50 500 600 900 (ranks 2 and 4).
			t.Run("weekly", func(t *testing.T) {
				tab, err := s.KPI(ctx, analytics.KPIQuery{Level: analytics.LevelWindow, Window: "A01", Location: shanghai, MaxDirectVisits: maxDirect, Fresh: true,
					From: time.Date(2026, 2, 26, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)})
				require.NoError(t, err)
				checkRows(t, tab, []kpiWant{{keys: a01.keys,
					tickets: 5, called: 5, served: 4, noShows: 1,
					open: 10800, serving: 2050, idle: 8750, // S1 S2 S7; 600+900+50+500
					throughput: 4 * 3600.0 / 10800, util: 2050.0 / 10800,
					waitP50: 200, waitP90: 600, handleP50: 500, handleP90: 900,
					serviceLevel: 0.8, noShowRate: 0.2, abanRate: 0.0, // V3 missed
					completed: 2, onTime: 1, onTimeRate: 0.5, // C1 on time, C7 late
					ratings: 3, ratingAvg: 11.0 / 3, byRating: [5]int{0, 1, 0, 1, 1}}}, nil) // R1 5, R2 4, R7 2
			})

			t.Run("ranking", func(t *testing.T) {
				tab := query(analytics.KPIQuery{Level: analytics.LevelDepartment, Sort: "-served"})
				checkRows(t, tab, []kpiWant{market, tax}, nil) // 4 > 2
				tab = query(analytics.KPIQuery{Level: analytics.LevelDepartment, Sort: "abandonment_rate"})
				checkRows(t, tab, []kpiWant{market, tax}, nil) // 0 < 1/3
				// p90 wait, best first; the window without a value sorts last.
				tab = query(analytics.KPIQuery{Level: analytics.LevelWindow, Sort: "wait_p90_s", Limit: 2})
				checkRows(t, tab, []kpiWant{a02, a01}, nil) // 100 < 600 < 900 (B01) < nil
				tab = query(analytics.KPIQuery{Level: analytics.LevelWindow, Sort: "-wait_p90_s"})
				checkRows(t, tab, []kpiWant{b01, a01, a02, noWindow}, nil)
			})

			t.Run("filters", func(t *testing.T) {
				tab := query(analytics.KPIQuery{Level: analytics.LevelHall, Hall: "city-main", Department: "tax"})
				checkRows(t, tab, []kpiWant{{keys: []any{"city-main", "city"},
					tickets: 3, called: 2, served: 2, aban: 1, open: 3900, inferred: 900, serving: 700, idle: 3200,
					throughput: 2 * 3600.0 / 3900, util: 700.0 / 3900,
					waitP50: 60, waitP90: 100, handleP50: 300, handleP90: 400,
					serviceLevel: 1.0, noShowRate: 0.0, abanRate: third,
					completed: 2, completedUnknown: 1, onTime: 0, onTimeRate: 0.0,
					ratings: 1, ratingAvg: 1.0, byRating: [5]int{1, 0, 0, 0, 0}}}, nil)
				// An item filter narrows visits, cases and ratings, not open time.
				tab = query(analytics.KPIQuery{Level: analytics.LevelWindow, Item: "SC-002"})
				checkRows(t, tab, []kpiWant{
					{keys: []any{"city-main", "A01", "city", "market"}, // V2
						tickets: 1, called: 1, served: 1, open: 5400, serving: 900, idle: 4500,
						throughput: 3600.0 / 5400, util: 900.0 / 5400,
						waitP50: 120, waitP90: 120, handleP50: 900, handleP90: 900,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0, completed: 0, onTime: 0,
						ratings: 1, ratingAvg: 4.0, byRating: [5]int{0, 0, 0, 1, 0}},
					{keys: []any{"city-main", "A02", "city", "tax"}, open: 3900, inferred: 900, serving: 0, idle: 3900, throughput: 0.0, util: 0.0,
						completed: 0, onTime: 0},
					{keys: []any{"dist-east", "B01", "district", "market"}, // V7
						tickets: 1, called: 1, served: 1, open: 7800, inferred: 1800, serving: 200, idle: 7600,
						throughput: 3600.0 / 7800, util: 200.0 / 7800,
						waitP50: 30, waitP90: 30, handleP50: 200, handleP90: 200,
						serviceLevel: 1.0, noShowRate: 0.0, abanRate: 0.0, completed: 0, onTime: 0,
						ratings: 1, ratingAvg: 3.0, byRating: [5]int{0, 0, 1, 0, 0}},
				}, nil)
			})

			t.Run("csv", func(t *testing.T) {
				tab := query(analytics.KPIQuery{Level: analytics.LevelTier})
				var buf bytes.Buffer
				require.NoError(t, tab.WriteCSV(&buf))
				recs, err := csv.NewReader(&buf).ReadAll()
				require.NoError(t, err)
				require.Len(t, recs, 3)
				require.Equal(t, tab.Columns, recs[0])
				row := map[string]string{}
				for i, c := range recs[1] {
					row[recs[0][i]] = c
				}
				require.Equal(t, "city", row["tier"])
				require.Equal(t, "4", row["served"])
				require.Equal(t, "0.5", row["on_time_rate"])
				// Absent values are empty fields: items have no open time.
				tab = query(analytics.KPIQuery{Level: analytics.LevelItem, Item: "SC-002"})
				buf.Reset()
				require.NoError(t, tab.WriteCSV(&buf))
				recs, err = csv.NewReader(&buf).ReadAll()
				require.NoError(t, err)
				require.Len(t, recs, 2)
				require.Equal(t, "", recs[1][tab.Column("open_seconds")])
				require.Equal(t, "", recs[1][tab.Column("on_time_rate")])
				require.Equal(t, "3.5", recs[1][tab.Column("rating_avg")])
			})
		})
	}
}

func TestKPIRejectsBadQueries(t *testing.T) {
	s := openStore(t)
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for name, q := range map[string]analytics.KPIQuery{
		"empty range":                  {From: from, To: from, Level: analytics.LevelHall},
		"reversed range":               {From: from, To: from.Add(-time.Hour), Level: analytics.LevelHall},
		"over two years":               {From: from, To: from.AddDate(2, 0, 2), Level: analytics.LevelHall},
		"unknown level":                {From: from, To: from.Add(time.Hour), Level: "floor"},
		"no level":                     {From: from, To: from.Add(time.Hour)},
		"unknown sort key":             {From: from, To: from.Add(time.Hour), Level: analytics.LevelHall, Sort: "-speed"},
		"sort by prev without compare": {From: from, To: from.Add(time.Hour), Level: analytics.LevelHall, Sort: "prev_served"},
		"negative limit":               {From: from, To: from.Add(time.Hour), Level: analytics.LevelHall, Limit: -1},
		"half-hour zone": {From: from, To: from.Add(time.Hour), Level: analytics.LevelHourWeekday,
			Location: time.FixedZone("IST", 5*3600+1800)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.KPI(t.Context(), q)
			require.ErrorIs(t, err, analytics.ErrInvalidKPIQuery)
			require.ErrorIs(t, err, apperr.Invalid)
		})
	}
	// Two years exactly is fine.
	_, err := s.KPI(t.Context(), analytics.KPIQuery{From: from, To: from.AddDate(2, 0, 0), Level: analytics.LevelHall})
	require.NoError(t, err)
}

// A ranking with a limit reads the visits' quantiles, and the previous
// period's visits, for the rows it shows alone (unless it ranks on a
// quantile, or a row only the previous period has could be shown: its
// current KPIs are those of no activity): either way, the rows are the
// whole table's first ones.
func TestKPIRankingReadsShownRows(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	f := kpiFixture()
	// C09 served once in the previous period and has nothing in the
	// current one: with served ascending it comes first.
	f.Visits = append(f.Visits, visit("city-main", "city", "C09", "market", "SC-001", "E9", "C001", tracker.Served, at(1, 2, 30), 100, 200, true, 1))
	require.NoError(t, s.InsertFacts(ctx, f))
	for _, maxDirect := range []int64{-1, 1000} {
		for _, compare := range []bool{true, false} {
			query := func(q analytics.KPIQuery) *analytics.KPITable {
				t.Helper()
				q.Level, q.Compare, q.From, q.To, q.Location, q.MaxDirectVisits, q.Fresh = analytics.LevelWindow, compare, kpiFrom, kpiTo, time.UTC, maxDirect, true
				tab, err := s.KPI(ctx, q)
				require.NoError(t, err)
				return tab
			}
			for _, sort := range []string{"-served", "served", "-wait_p50_s", "wait_p50_s", "-throughput_per_hour", "rating_avg"} {
				whole := query(analytics.KPIQuery{Sort: sort})
				want := 4 // C09 has no current row without the previous period
				if compare {
					want = 5
				}
				require.Len(t, whole.Rows, want)
				for limit := 1; limit < want; limit++ {
					ranked := query(analytics.KPIQuery{Sort: sort, Limit: limit})
					require.Equal(t, whole.Rows[:limit], ranked.Rows, "sort %s, limit %d, compare %v, max direct %d", sort, limit, compare, maxDirect)
				}
			}
		}
	}
}

// The store keeps a period's KPI rows until facts in that period are
// stored: a visit added inside the range shows at once, one outside it
// leaves the kept rows be, and Fresh reads ClickHouse again.
func TestKPICacheFollowsFacts(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	require.NoError(t, s.InsertFacts(ctx, kpiFixture()))
	q := analytics.KPIQuery{Level: analytics.LevelHall, From: kpiFrom, To: kpiTo, Location: time.UTC, Compare: true}
	tickets := func(tab *analytics.KPITable, hall string, col string) int64 {
		t.Helper()
		ci := slices.Index(tab.Columns, col)
		require.GreaterOrEqual(t, ci, 0, col)
		for _, r := range tab.Rows {
			if r[0] == hall {
				return r[ci].(int64)
			}
		}
		t.Fatalf("no row of hall %s", hall)
		return 0
	}
	kpi := func(q analytics.KPIQuery) *analytics.KPITable {
		t.Helper()
		tab, err := s.KPI(ctx, q)
		require.NoError(t, err)
		return tab
	}
	first := kpi(q)
	require.Equal(t, first, kpi(q), "the same answer again")
	base := tickets(first, "dist-east", "tickets")

	// Stored behind the store's back: not seen while the rows are kept…
	require.NoError(t, s.Conn().Exec(ctx, `INSERT INTO visits (issued, tier, hall, department, `+"`window`"+`, item, staff, ticket, case_id, outcome,
		called, started, ended, calls, wait_seconds, handle_seconds, met_target)
		SELECT toDateTime('2026-03-03 04:00:00', 'UTC'), 'district', 'dist-east', 'market', 'B01', 'SC-001', 'E2', 'X1', '', 'abandoned',
			toDateTime(0, 'UTC'), toDateTime(0, 'UTC'), toDateTime(0, 'UTC'), 0, 0, 0, 0`))
	require.Equal(t, base, tickets(kpi(q), "dist-east", "tickets"), "rows kept")
	// …and by a fresh read.
	require.Equal(t, base+1, tickets(kpi(analytics.KPIQuery{Level: q.Level, From: q.From, To: q.To, Location: q.Location, Compare: true, Fresh: true}), "dist-east", "tickets"))

	// A visit stored through the store in the range is seen at once…
	v := visit("dist-east", "district", "B01", "market", "SC-001", "E2", "X2", tracker.Abandoned, at(3, 5, 0), 0, 0, false, 0)
	require.NoError(t, s.InsertFacts(ctx, &tracker.Facts{Visits: []tracker.Visit{v}}))
	require.Equal(t, base+2, tickets(kpi(q), "dist-east", "tickets"))
	// …in the previous period too.
	prev := tickets(kpi(q), "dist-east", "prev_tickets")
	v.Ticket, v.Issued = "X3", kpiFrom.Add(-time.Hour)
	require.NoError(t, s.InsertFacts(ctx, &tracker.Facts{Visits: []tracker.Visit{v}}))
	require.Equal(t, prev+1, tickets(kpi(q), "dist-east", "prev_tickets"))
	require.Equal(t, base+2, tickets(kpi(q), "dist-east", "tickets"))
}

// Migration 0009 fills the network rollup from the hall rollup for the
// visits stored before it, once: run again, it adds nothing.
func TestNetworkRollupBackfill(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	require.NoError(t, s.InsertFacts(ctx, kpiFixture()))
	sums := func() (tickets, served uint64) {
		t.Helper()
		require.NoError(t, s.Conn().QueryRow(ctx,
			`SELECT sumMerge(tickets), sumMerge(served) FROM visits_network_hourly`).Scan(&tickets, &served))
		return
	}
	var visits, served uint64
	require.NoError(t, s.Conn().QueryRow(ctx, `SELECT count(), countIf(outcome = 'served') FROM visits`).Scan(&visits, &served))
	gotT, gotS := sums()
	require.Equal(t, [2]uint64{visits, served}, [2]uint64{gotT, gotS}, "filled as visits are stored")

	require.NoError(t, s.Conn().Exec(ctx, `TRUNCATE TABLE visits_network_hourly`))
	require.NoError(t, analytics.RerunMigrations(ctx, s))
	gotT, gotS = sums()
	require.Equal(t, [2]uint64{visits, served}, [2]uint64{gotT, gotS}, "filled by the migration")
	require.NoError(t, analytics.RerunMigrations(ctx, s))
	gotT, gotS = sums()
	require.Equal(t, [2]uint64{visits, served}, [2]uint64{gotT, gotS}, "not filled twice")
}
