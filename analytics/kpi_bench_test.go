package analytics_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

// BenchmarkKPIDashboard times the typical dashboard KPI queries on a
// generated history of SUNLIGHT_KPI_BENCH_ROWS visits (skipped without it)
// and reports p50 and p95 in ms per query, read from ClickHouse (cold) and
// answered from the rows the store keeps (cached). The history is generated inside
// ClickHouse (INSERT … SELECT from numbers()), so it takes seconds, not
// hours: 800 windows in 40 halls (tiers city, district, community), 15
// departments with 3 items each, two staff per window, 395 days of 8 open
// hours; for N visits, 0.6 N completed cases (two rows each), 0.3 N ratings
// and one open span per window and hour: about six events per visit, so
// N = 1.7M (make bench) stands for 10M events and N = 17M for 100M. Rollups are merged (OPTIMIZE … FINAL) before timing, as
// background merges leave them in steady state.
//
//	SUNLIGHT_KPI_BENCH_ROWS=17000000 go test ./analytics -run '^$' -bench KPIDashboard -benchtime 40x -timeout 60m
func BenchmarkKPIDashboard(b *testing.B) {
	n, _ := strconv.ParseInt(os.Getenv("SUNLIGHT_KPI_BENCH_ROWS"), 10, 64)
	if n <= 0 {
		b.Skip("set SUNLIGHT_KPI_BENCH_ROWS to the number of visits to generate")
	}
	addr := chtest.Shared(b)
	ctx := context.Background()
	s, err := analytics.OpenStore(ctx, analytics.StoreConfig{Addr: []string{addr}, Database: chtest.NewDatabase(b, addr)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })

	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const days = 395
	start := end.AddDate(0, 0, -days)
	t0 := time.Now()
	if err := generateKPIHistory(ctx, s, n, start.Unix(), days); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d visits over %d days in %s", n, days, time.Since(t0).Round(time.Second))
	benchDashboard(b, s, start, end)
}

// benchDashboard times the dashboard queries on s, whose history ends at
// end (00:00 UTC) and starts at start.
func benchDashboard(b *testing.B, s *analytics.Store, start, end time.Time) {
	ctx := context.Background()

	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	now := end.Add(-37 * time.Minute) // 07:23 in Shanghai: not aligned
	midnight := time.Date(2026, 2, 28, 0, 0, 0, 0, shanghai)
	for _, bq := range []struct {
		name string
		q    analytics.KPIQuery
	}{
		{"window_last_30_days", analytics.KPIQuery{Level: analytics.LevelWindow, From: midnight.AddDate(0, 0, -30), To: now}},
		{"hall_whole_range", analytics.KPIQuery{Level: analytics.LevelHall, From: start, To: end}},
		{"department_ranking_month", analytics.KPIQuery{Level: analytics.LevelDepartment, Sort: "-on_time_rate",
			From: time.Date(2026, 2, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)}},
		{"window_ranking_month_compare", analytics.KPIQuery{Level: analytics.LevelWindow, Sort: "-served", Limit: 20, Compare: true,
			From: time.Date(2026, 2, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)}},
		{"hour_weekday_quarter", analytics.KPIQuery{Level: analytics.LevelHourWeekday,
			From: time.Date(2025, 12, 1, 0, 0, 0, 0, shanghai), To: time.Date(2026, 3, 1, 0, 0, 0, 0, shanghai)}},
		{"item_last_7_days", analytics.KPIQuery{Level: analytics.LevelItem, From: midnight.AddDate(0, 0, -7), To: now}},
	} {
		bq.q.Location = shanghai
		// cold reads ClickHouse every time (Fresh); cached asks again what
		// the store keeps, as a dashboard does until facts in its range
		// change (a past month); live stores a rating in the range before
		// each read, as the event writer does every few seconds for the
		// current period, while the previous period of a comparison stays
		// kept.
		for _, mode := range []string{"cold", "live", "cached"} {
			q := bq.q
			q.Fresh = mode == "cold"
			b.Run(bq.name+"/"+mode, func(b *testing.B) {
				var took []time.Duration
				if _, err := s.KPI(ctx, q); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if mode == "live" {
						b.StopTimer()
						if err := s.InsertFacts(ctx, &tracker.Facts{Ratings: []tracker.Rating{{EventID: fmt.Sprint("bench-", time.Now().UnixNano()),
							Hall: "H1", Tier: "district", Window: "W20", Department: "D5", Item: "D5-0", Staff: "E40",
							TS: q.To.Add(-time.Hour), Rating: 5}}}); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					t := time.Now()
					tab, err := s.KPI(ctx, q)
					if err != nil {
						b.Fatal(err)
					}
					took = append(took, time.Since(t))
					if len(tab.Rows) == 0 {
						b.Fatal("no rows")
					}
				}
				slices.Sort(took)
				ms := func(q float64) float64 {
					i := int(q*float64(len(took))+0.999999) - 1
					return float64(took[max(i, 0)].Microseconds()) / 1000
				}
				b.ReportMetric(ms(0.5), "p50-ms")
				b.ReportMetric(ms(0.95), "p95-ms")
			})
		}
	}
}

// generateKPIHistory fills the fact tables (and through them the rollups)
// with n visits over days days from start (Unix seconds), server-side.
func generateKPIHistory(ctx context.Context, s *analytics.Store, n, start int64, days int) error {
	const windows, halls = 800, 40
	// Shared expressions of a window number w.
	hall := func(w string) string { return fmt.Sprintf("concat('H', toString(intDiv(%s, %d)))", w, windows/halls) }
	tier := func(w string) string {
		return fmt.Sprintf("multiIf(intDiv(%s, %d) = 0, 'city', intDiv(%s, %d) < 10, 'district', 'community')", w, windows/halls, w, windows/halls)
	}
	dept := func(w string) string { return fmt.Sprintf("concat('D', toString(%s %% 15))", w) }
	win := func(w string) string { return fmt.Sprintf("concat('W', toString(%s))", w) }
	// A time in the open hours (09:00-17:00 Shanghai, 01:00-09:00 UTC) of
	// day intDiv(i * days, count), rising with i.
	openTime := func(i string, count int64, salt int) string {
		return fmt.Sprintf("toDateTime(%d + intDiv(%s * %d, %d) * 86400 + 3600 + cityHash64(%s, %d) %% 28800, 'UTC')", start, i, days, count, i, salt)
	}
	stmts := []string{
		// Visits: 85% served, 8% no-shows, 7% abandoned.
		`INSERT INTO visits (issued, tier, hall, department, ` + "`window`" + `, item, staff, ticket, case_id, outcome,
			called, started, ended, calls, wait_seconds, handle_seconds, met_target)
		SELECT issued, ` + tier("w") + `, ` + hall("w") + `, ` + dept("w") + `, if(outcome = 'abandoned', '', ` + win("w") + `),
			concat(` + dept("w") + `, '-', toString(cityHash64(number, 5) % 3)),
			if(outcome = 'abandoned', '', concat('E', toString(w * 2 + cityHash64(number, 6) % 2))),
			toString(number), '', outcome,
			if(outcome = 'abandoned', toDateTime(0, 'UTC'), issued + wait),
			if(outcome = 'served', issued + wait + 20, toDateTime(0, 'UTC')),
			if(outcome = 'served', issued + wait + handle, toDateTime(0, 'UTC')),
			toUInt16(outcome != 'abandoned'), if(outcome = 'abandoned', 0, wait), if(outcome = 'served', handle, 0),
			toUInt8(outcome != 'abandoned' AND wait < 900)
		FROM (SELECT number, ` + openTime("number", n, 1) + ` AS issued, cityHash64(number, 2) % 800 AS w,
			multiIf(cityHash64(number, 3) % 100 < 85, 'served', cityHash64(number, 3) % 100 < 93, 'no_show', 'abandoned') AS outcome,
			toUInt32(cityHash64(number, 4) % 1800) AS wait, toUInt32(120 + cityHash64(number, 7) % 1500) AS handle
			FROM numbers(` + strconv.FormatInt(n, 10) + `))`,
		// Window spans: every window open every hour, less a pause.
		fmt.Sprintf(`INSERT INTO window_spans (`+"`start`, `end`"+`, tier, hall, department, `+"`window`"+`)
		SELECT st, st + 3600 - cityHash64(number, 8) %% 600, %s, %s, %s, %s
		FROM (SELECT number, number %% %d AS w,
			toDateTime(%d + intDiv(intDiv(number, %d), 8) * 86400 + (1 + intDiv(number, %d) %% 8) * 3600, 'UTC') AS st
			FROM numbers(%d))`, tier("w"), hall("w"), dept("w"), win("w"), windows, start, windows, windows, int64(windows)*int64(days)*8),
		// Cases: 0.6 n, completed 0 to 3 days after acceptance within an hour
		// of its time of day, 90% on time.
		fmt.Sprintf(`INSERT INTO cases (case_id, tier, hall, department, `+"`window`"+`, item, state, accepted, deadline, completed, on_time, version)
		SELECT concat('C', toString(intDiv(number, 2))), %s, %s, %s, %s, concat(%s, '-', toString(cityHash64(c, 5) %% 3)),
			if(number %% 2 = 0, 'accepted', 'completed'), acc, acc + 3 * 86400,
			if(number %% 2 = 0, toDateTime(0, 'UTC'), acc + cityHash64(c, 9) %% 4 * 86400 + cityHash64(c, 14) %% 3600),
			toUInt8(number %% 2 = 1 AND cityHash64(c, 10) %% 10 < 9), number
		FROM (SELECT number, intDiv(number, 2) AS c, %s AS acc, cityHash64(c, 2) %% 800 AS w FROM numbers(%d))`,
			tier("w"), hall("w"), dept("w"), win("w"), dept("w"), openTime("c", n*6/10, 11), n*6/10*2),
		// Ratings: 0.3 n, mostly satisfied.
		fmt.Sprintf(`INSERT INTO ratings (ts, tier, hall, department, `+"`window`"+`, item, staff, ticket, case_id, event_id, rating)
		SELECT ts, %s, %s, %s, %s, concat(%s, '-', toString(cityHash64(number, 5) %% 3)),
			concat('E', toString(w * 2 + cityHash64(number, 6) %% 2)), '', '', toString(number),
			toUInt8(multiIf(r < 70, 5, r < 88, 4, r < 95, 3, r < 98, 2, 1))
		FROM (SELECT number, %s AS ts, cityHash64(number, 2) %% 800 AS w, cityHash64(number, 12) %% 100 AS r FROM numbers(%d))`,
			tier("w"), hall("w"), dept("w"), win("w"), dept("w"), openTime("number", n*3/10, 13), n*3/10),
	}
	for _, q := range stmts {
		if err := s.Conn().Exec(ctx, q); err != nil {
			return fmt.Errorf("generate: %w\n%s", err, q)
		}
	}
	rows, err := s.Conn().Query(ctx, `SELECT name FROM system.tables WHERE database = currentDatabase() AND engine IN ('AggregatingMergeTree', 'SummingMergeTree')`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, t)
	}
	rows.Close()
	for _, t := range tables {
		if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE "+t+" FINAL"); err != nil {
			return fmt.Errorf("optimize %s: %w", t, err)
		}
	}
	return nil
}
