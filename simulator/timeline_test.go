package simulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

func loadExampleConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load("../deploy/sunlight.example.yaml")
	require.NoError(t, err)
	return cfg
}

// testDay is a local day of the example config's time zone.
func testDay(t testing.TB, cfg *config.Config, date string) (time.Time, time.Time) {
	t.Helper()
	from, err := time.ParseInLocation(time.DateOnly, date, cfg.Location())
	require.NoError(t, err)
	return from, from.AddDate(0, 0, 1)
}

func countType(evs []ingest.Event, hall string, typ ingest.EventType) int {
	n := 0
	for _, ev := range evs {
		if ev.Type == typ && (hall == "" || ev.Hall == hall) {
			n++
		}
	}
	return n
}

func TestTimelineDeterministic(t *testing.T) {
	cfg := loadExampleConfig(t)
	from, _ := testDay(t, cfg, "2026-11-24")
	to := from.AddDate(0, 0, 2)
	a := (&Timeline{Config: cfg, Seed: 7}).Events(from, to)
	b := (&Timeline{Config: cfg, Seed: 7}).Events(from, to)
	c := (&Timeline{Config: cfg, Seed: 8}).Events(from, to)
	require.NotEmpty(t, a)
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	require.NotEqual(t, a[0].EventID, c[0].EventID, "another seed must not reuse event ids")

	t.Run("sorted", func(t *testing.T) {
		for i := 1; i < len(a); i++ {
			p, q := a[i-1], a[i]
			require.True(t, p.TS.Before(q.TS) || (p.TS.Equal(q.TS) && p.EventID < q.EventID), "event %d out of order", i)
		}
	})
}

func TestTimelineValid(t *testing.T) {
	cfg := loadExampleConfig(t)
	cat := cfg.Catalog()
	for _, always := range []bool{false, true} {
		t.Run(map[bool]string{false: "opening-hours", true: "always-open"}[always], func(t *testing.T) {
			from, _ := testDay(t, cfg, "2026-11-20")
			to := from.AddDate(0, 0, 5)
			evs := (&Timeline{Config: cfg, Seed: 1, AlwaysOpen: always}).Events(from, to)
			require.NotEmpty(t, evs)
			types := map[ingest.EventType]int{}
			for _, ev := range evs {
				if err := ingest.Validate(ev, cat, to); err != nil {
					t.Fatalf("%+v: %v", ev, err)
				}
				if ev.TS.Before(from) || !ev.TS.Before(to) {
					t.Fatalf("%+v: out of the range", ev)
				}
				types[ev.Type]++
			}
			for _, typ := range ingest.Types {
				require.Positive(t, types[typ], "no %s event", typ)
			}
		})
	}
}

// timelineModes runs a test for a weekday with real opening hours and for
// a Sunday with AlwaysOpen.
func timelineModes(t *testing.T, test func(t *testing.T, cfg *config.Config, evs []ingest.Event)) {
	cfg := loadExampleConfig(t)
	for _, tc := range []struct {
		name, date string
		always     bool
		since      time.Duration // AlwaysOpenFrom, after the day's midnight
	}{
		{"opening-hours", "2026-11-25", false, 0},
		{"always-open", "2026-11-22", true, 0},
		{"goes-always-open", "2026-11-25", true, 10*time.Hour + 17*time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := testDay(t, cfg, tc.date)
			tl := &Timeline{Config: cfg, Seed: 3, AlwaysOpen: tc.always}
			if tc.since > 0 {
				// Its day runs from then to the same time the next day.
				tl.AlwaysOpenFrom = from.Add(tc.since)
				from, to = tl.AlwaysOpenFrom, tl.AlwaysOpenFrom.Add(24*time.Hour)
			}
			test(t, cfg, tl.Events(from, to))
		})
	}
}

// A hall that goes over to always-open hours keeps its history before
// that day, starts that day empty at that time, then runs all day.
func TestTimelineGoesAlwaysOpen(t *testing.T) {
	cfg := loadExampleConfig(t)
	dayStart, _ := testDay(t, cfg, "2026-11-25")
	since := dayStart.Add(10*time.Hour + 17*time.Minute)
	hybrid := &Timeline{Config: cfg, Seed: 3, AlwaysOpen: true, AlwaysOpenFrom: since}
	real := &Timeline{Config: cfg, Seed: 3}
	always := &Timeline{Config: cfg, Seed: 3, AlwaysOpen: true}

	before := dayStart.AddDate(0, 0, -7)
	require.Equal(t, real.Events(before, dayStart), hybrid.Events(before, dayStart), "the history is the real hall's")

	seamDay := hybrid.Events(dayStart, dayStart.AddDate(0, 0, 1))
	require.NotEmpty(t, seamDay)
	opened := 0
	for _, ev := range seamDay {
		if ev.Type == ingest.CaseCompleted {
			continue // of cases accepted before
		}
		require.False(t, ev.TS.Before(since), "%s at %s, before the hall went always-open", ev.Type, ev.TS)
		if ev.Type == ingest.WindowOpened && ev.TS.Before(since.Add(2*time.Minute)) {
			opened++
		}
	}
	require.Equal(t, len(cfg.Windows()), opened, "every window opens when the hall goes always-open")
	alwaysIDs := map[string]bool{}
	for _, ev := range always.Events(dayStart, dayStart.AddDate(0, 0, 1)) {
		alwaysIDs[ev.EventID] = true
	}
	for _, ev := range seamDay {
		if ev.Type != ingest.CaseCompleted {
			require.False(t, alwaysIDs[ev.EventID], "the day it went always-open has ids of its own: %s", ev.EventID)
		}
	}

	// From then on its days run from that time of day to the same time
	// the next day, midnight included: some window is open at every
	// minute but in the quarter of an hour before each day's turnover.
	open := map[string]bool{}
	evs := hybrid.Events(since, since.Add(48*time.Hour))
	i := 0
	for at := since.Add(5 * time.Minute); at.Before(since.Add(47 * time.Hour)); at = at.Add(time.Minute) {
		for ; i < len(evs) && evs[i].TS.Before(at); i++ {
			switch evs[i].Type {
			case ingest.WindowOpened:
				open[evs[i].Window] = true
			case ingest.WindowPaused, ingest.WindowClosed:
				delete(open, evs[i].Window)
			}
		}
		turnover := since.Add(24 * time.Hour)
		if len(open) == 0 && (at.Before(turnover.Add(-16*time.Minute)) || at.After(turnover.Add(2*time.Minute))) {
			t.Fatalf("every window closed at %s (the day turns over at %s)", at.Format(time.DateTime), turnover.Format(time.DateTime))
		}
	}
}

func TestTimelineVisitOrder(t *testing.T) {
	timelineModes(t, testVisitOrder)
}

func testVisitOrder(t *testing.T, _ *config.Config, evs []ingest.Event) {
	type visit struct {
		issued, started, ended, accepted, rating time.Time
		calls                                    []time.Time
	}
	visits := map[string]*visit{}
	for _, ev := range evs {
		if ev.Ticket == "" {
			continue
		}
		key := ev.Hall + "/" + ev.Ticket
		v := visits[key]
		if v == nil {
			v = &visit{}
			visits[key] = v
		}
		switch ev.Type {
		case ingest.TicketIssued:
			require.True(t, v.issued.IsZero(), "ticket %s issued twice", key)
			v.issued = ev.TS
		case ingest.Called:
			v.calls = append(v.calls, ev.TS)
		case ingest.ServiceStarted:
			v.started = ev.TS
		case ingest.ServiceEnded:
			v.ended = ev.TS
		case ingest.CaseAccepted, ingest.CaseRejected:
			v.accepted = ev.TS
		case ingest.Rating:
			v.rating = ev.TS
		}
	}
	served, noShows, abandoned := 0, 0, 0
	for key, v := range visits {
		require.False(t, v.issued.IsZero(), key)
		switch {
		case len(v.calls) == 0:
			abandoned++
			require.True(t, v.started.IsZero(), key)
		case v.started.IsZero():
			noShows++
			require.Len(t, v.calls, 2, "a no-show is called twice: %s", key)
			require.True(t, v.issued.Before(v.calls[0]) && v.calls[0].Before(v.calls[1]), key)
		default:
			served++
			require.Len(t, v.calls, 1, key)
			require.True(t, v.issued.Before(v.calls[0]), key)
			require.True(t, v.calls[0].Before(v.started), key)
			require.True(t, v.started.Before(v.ended), key)
			if !v.accepted.IsZero() {
				require.True(t, v.started.Before(v.accepted) && v.accepted.Before(v.ended), key)
			}
			if !v.rating.IsZero() {
				require.True(t, v.ended.Before(v.rating), key)
			}
		}
	}
	require.Positive(t, served)
	require.Positive(t, noShows)
	require.Positive(t, abandoned)
}

func TestTimelineWindows(t *testing.T) {
	timelineModes(t, testWindows)
}

func testWindows(t *testing.T, cfg *config.Config, evs []ingest.Event) {
	// Each window opens, may pause at lunch and reopen, closes; it serves
	// only while open and one visit at a time.
	state := map[string]string{}
	serving := map[string]string{} // window -> ticket in service
	var sequences = map[string][]ingest.EventType{}
	for _, ev := range evs {
		switch ev.Type {
		case ingest.WindowOpened, ingest.WindowPaused, ingest.WindowClosed:
			require.Empty(t, serving[ev.Window], "%s at %s during a service", ev.Type, ev.Window)
			sequences[ev.Window] = append(sequences[ev.Window], ev.Type)
			state[ev.Window] = string(ev.Type)
		case ingest.Called, ingest.ServiceStarted:
			require.Equal(t, string(ingest.WindowOpened), state[ev.Window], "%s at %s while %s", ev.Type, ev.Window, state[ev.Window])
			require.Empty(t, serving[ev.Window], "%s of %s at %s while serving %s", ev.Type, ev.Ticket, ev.Window, serving[ev.Window])
			if ev.Type == ingest.ServiceStarted {
				serving[ev.Window] = ev.Ticket
			}
		case ingest.ServiceEnded:
			require.Equal(t, serving[ev.Window], ev.Ticket)
			serving[ev.Window] = ""
		}
	}
	for _, ref := range cfg.Windows() {
		seq := sequences[ref.Window.ID]
		require.NotEmpty(t, seq, ref.Window.ID)
		require.Equal(t, ingest.WindowOpened, seq[0], ref.Window.ID)
		require.Equal(t, ingest.WindowClosed, seq[len(seq)-1], ref.Window.ID)
		require.Contains(t, [][]ingest.EventType{
			{ingest.WindowOpened, ingest.WindowClosed},
			{ingest.WindowOpened, ingest.WindowPaused, ingest.WindowOpened, ingest.WindowClosed},
		}, seq, ref.Window.ID)
	}
	require.Positive(t, countType(evs, "", ingest.WindowPaused), "some windows take a lunch break")
}

func TestTimelineVolume(t *testing.T) {
	cfg := loadExampleConfig(t)
	tl := &Timeline{Config: cfg, Seed: 11}
	for _, date := range []string{"2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05", "2026-11-06"} {
		t.Run(date, func(t *testing.T) {
			from, to := testDay(t, cfg, date)
			evs := tl.Events(from, to)
			city := countType(evs, "city-main", ingest.TicketIssued)
			district := countType(evs, "district-hx", ingest.TicketIssued)
			community := countType(evs, "community-xy", ingest.TicketIssued)
			require.True(t, city >= 400 && city <= 900, "city hall: %d tickets", city)
			require.True(t, district >= 90 && district <= 220, "district: %d tickets", district)
			require.True(t, community >= 20 && community <= 70, "community: %d tickets", community)
		})
	}
}

func TestTimelineCalendar(t *testing.T) {
	cfg := loadExampleConfig(t)
	tl := &Timeline{Config: cfg, Seed: 5}
	for _, tc := range []struct {
		date string
		open bool
	}{
		{"2026-10-01", false}, // holiday (a Thursday)
		{"2026-11-22", false}, // Sunday
		{"2026-11-21", false}, // Saturday
		{"2026-09-27", true},  // adjusted working day (a Sunday)
		{"2026-10-10", true},  // adjusted working day (a Saturday)
		{"2026-11-23", true},  // Monday
	} {
		t.Run(tc.date, func(t *testing.T) {
			from, to := testDay(t, cfg, tc.date)
			evs := tl.Events(from, to)
			if tc.open {
				require.Greater(t, countType(evs, "", ingest.TicketIssued), 300)
			} else {
				require.Empty(t, evs)
			}
		})
	}
	t.Run("always-open", func(t *testing.T) {
		from, to := testDay(t, cfg, "2026-11-22")
		evs := (&Timeline{Config: cfg, Seed: 5, AlwaysOpen: true}).Events(from, to)
		hours := map[int]int{}
		for _, ev := range evs {
			if ev.Type == ingest.TicketIssued {
				hours[ev.TS.In(cfg.Location()).Hour()]++
			}
		}
		for h := 0; h < 24; h++ {
			require.Positive(t, hours[h], "no ticket at %02d:00 on a Sunday with AlwaysOpen", h)
		}
	})
}

func TestTimelineArrivalProfile(t *testing.T) {
	cfg := loadExampleConfig(t)
	from, _ := testDay(t, cfg, "2026-11-02")
	evs := (&Timeline{Config: cfg, Seed: 2}).Events(from, from.AddDate(0, 0, 14))
	var peak, lunch float64 // tickets per hour
	for _, ev := range evs {
		if ev.Type != ingest.TicketIssued {
			continue
		}
		local := ev.TS.In(cfg.Location())
		m := local.Hour()*60 + local.Minute()
		switch {
		case m >= 9*60 && m < 10*60:
			peak++
		case m >= 12*60 && m < 13*60+30:
			lunch += 1 / 1.5
		}
	}
	require.Less(t, lunch, 0.6*peak, "lunch %.0f/h, 9-10 %.0f/h", lunch, peak)
}

// workdaysBetween counts the working days after a up to and including b.
func workdaysBetween(cal calendar, a, b day) int {
	n := 0
	for d := a; d.before(b); {
		d = d.add(1)
		if cal.isWorkday(d) {
			n++
		}
	}
	return n
}

func TestTimelineCases(t *testing.T) {
	cfg := loadExampleConfig(t)
	tl := &Timeline{Config: cfg, Seed: 4}
	g := tl.generator()
	from, _ := testDay(t, cfg, "2026-11-02")
	evs := tl.Events(from, from.AddDate(0, 2, 0))
	accepted := map[string]ingest.Event{}
	services, rejected := 0, 0
	onTime, late, completed := 0, 0, 0
	for _, ev := range evs {
		switch ev.Type {
		case ingest.ServiceStarted:
			if ev.TS.Before(from.AddDate(0, 1, 0)) {
				services++
			}
		case ingest.CaseRejected:
			if ev.TS.Before(from.AddDate(0, 1, 0)) {
				rejected++
			}
		case ingest.CaseAccepted:
			accepted[ev.CaseID] = ev
		case ingest.CaseCompleted:
			acc, ok := accepted[ev.CaseID]
			if !ok || !acc.TS.Before(from.AddDate(0, 1, 0)) {
				continue // accepted before the range, or late in it
			}
			require.True(t, acc.TS.Before(ev.TS), ev.CaseID)
			require.Equal(t, acc.Item, ev.Item)
			item, _ := cfg.FindItem(ev.Item)
			completed++
			if workdaysBetween(g.cal, g.dayOf(acc.TS), g.dayOf(ev.TS)) <= item.TimeLimitDays {
				onTime++
			} else {
				late++
			}
		}
	}
	require.Positive(t, late, "some cases run past their limit")
	share := float64(onTime) / float64(completed)
	require.True(t, share > 0.8 && share < 0.97, "on-time share %.3f", share)
	nAccepted := 0
	for _, ev := range accepted {
		if ev.TS.Before(from.AddDate(0, 1, 0)) {
			nAccepted++
		}
	}
	acc := float64(nAccepted) / float64(services)
	require.True(t, acc > 0.85 && acc < 0.95, "accepted share %.3f", acc)
	rej := float64(rejected) / float64(services)
	require.True(t, rej > 0.01 && rej < 0.06, "rejected share %.3f", rej)
	require.Greater(t, completed, nAccepted*95/100, "cases accepted a month before are nearly all completed")
}

func TestTimelineRatings(t *testing.T) {
	cfg := loadExampleConfig(t)
	from, _ := testDay(t, cfg, "2026-11-02")
	evs := (&Timeline{Config: cfg, Seed: 9}).Events(from, from.AddDate(0, 0, 7))
	counts := map[int]int{}
	total, ended := 0, 0
	for _, ev := range evs {
		switch ev.Type {
		case ingest.Rating:
			counts[ev.Rating]++
			total++
		case ingest.ServiceEnded:
			ended++
		}
	}
	require.GreaterOrEqual(t, float64(counts[5])/float64(total), 0.7)
	for r := 1; r <= 5; r++ {
		require.Positive(t, counts[r], "rating %d never given", r)
	}
	share := float64(total) / float64(ended)
	require.True(t, share > 0.6 && share < 0.8, "rated share %.2f", share)
}

func TestTimelineUniqueIDs(t *testing.T) {
	cfg := loadExampleConfig(t)
	from, _ := testDay(t, cfg, "2026-11-01")
	for _, always := range []bool{false, true} {
		evs := (&Timeline{Config: cfg, Seed: 1, AlwaysOpen: always}).Events(from, from.AddDate(0, 0, 30))
		ids := make(map[string]bool, len(evs))
		cases := map[string]string{}
		for _, ev := range evs {
			if ids[ev.EventID] {
				t.Fatalf("duplicate event id %s", ev.EventID)
			}
			ids[ev.EventID] = true
			if ev.Type == ingest.CaseAccepted || ev.Type == ingest.CaseRejected {
				if _, dup := cases[ev.CaseID]; dup {
					t.Fatalf("case id %s used twice", ev.CaseID)
				}
				cases[ev.CaseID] = ev.Hall
			}
		}
		require.NotEmpty(t, ids)
	}
}

func TestTimelineSubRange(t *testing.T) {
	cfg := loadExampleConfig(t)
	for _, always := range []bool{false, true} {
		tl := &Timeline{Config: cfg, Seed: 21, AlwaysOpen: always}
		from, _ := testDay(t, cfg, "2026-11-09")
		to := from.AddDate(0, 0, 6)
		all := tl.Events(from, to)
		for _, r := range [][2]time.Time{
			{from.Add(34*time.Hour + 17*time.Minute + 33*time.Second + 123*time.Millisecond), from.Add(58*time.Hour + 2*time.Minute)},
			{from.Add(3 * 24 * time.Hour), from.Add(4 * 24 * time.Hour)},
			{from.Add(10*time.Hour + 1*time.Millisecond), from.Add(10*time.Hour + 2*time.Minute)},
		} {
			var want []ingest.Event
			for _, ev := range all {
				if !ev.TS.Before(r[0]) && ev.TS.Before(r[1]) {
					want = append(want, ev)
				}
			}
			got := tl.Events(r[0], r[1])
			require.Equal(t, want, got, "range %s - %s", r[0], r[1])
		}
	}
}

// TestTimelineRealism logs the KPIs of one weekday (go test -v) and checks
// they stay in a believable band.
func TestTimelineRealism(t *testing.T) {
	cfg := loadExampleConfig(t)
	tl := &Timeline{Config: cfg, Seed: 1}
	g := tl.generator()
	from, to := testDay(t, cfg, "2026-11-25")
	evs := tl.Events(from, to.AddDate(0, 0, 45))
	for _, hall := range []string{"city-main", "district-hx", "community-xy"} {
		accepted := map[string]ingest.Event{}
		onTime, completed := 0, 0
		issued := map[string]time.Time{}
		lastCall := map[string]time.Time{}
		calls := map[string]int{}
		served := 0
		var wait time.Duration
		withinTarget := 0
		for _, ev := range evs {
			if ev.Hall != hall {
				continue
			}
			if ev.Type == ingest.CaseAccepted && ev.TS.Before(to) {
				accepted[ev.CaseID] = ev
			}
			if acc, ok := accepted[ev.CaseID]; ok && ev.Type == ingest.CaseCompleted {
				item, _ := cfg.FindItem(ev.Item)
				completed++
				if workdaysBetween(g.cal, g.dayOf(acc.TS), g.dayOf(ev.TS)) <= item.TimeLimitDays {
					onTime++
				}
			}
			if !ev.TS.Before(to) {
				continue
			}
			switch ev.Type {
			case ingest.TicketIssued:
				issued[ev.Ticket] = ev.TS
			case ingest.Called:
				lastCall[ev.Ticket] = ev.TS
				calls[ev.Ticket]++
			case ingest.ServiceStarted:
				served++
				w := lastCall[ev.Ticket].Sub(issued[ev.Ticket])
				wait += w
				if w <= 15*time.Minute {
					withinTarget++
				}
			}
		}
		tickets := len(issued)
		noShows := len(calls) - served
		abandoned := tickets - len(calls)
		meanWait := wait / time.Duration(max(served, 1))
		t.Logf("%s: %d tickets, %d served, %d no-shows (%.1f%% of called), %d abandoned (%.1f%%), mean wait %s, served within 15 min %.0f%%, %d cases accepted, %d completed, %.0f%% on time",
			hall, tickets, served, noShows, 100*float64(noShows)/float64(len(calls)), abandoned,
			100*float64(abandoned)/float64(tickets), meanWait.Round(time.Second), 100*float64(withinTarget)/float64(served),
			len(accepted), completed, 100*float64(onTime)/float64(completed))
		require.Equal(t, len(accepted), completed, "%s: every case accepted is completed within 45 days", hall)
		require.Less(t, float64(abandoned)/float64(tickets), 0.15, hall)
		require.Less(t, meanWait, 30*time.Minute, hall)
	}
}

func TestTimelineSpeed(t *testing.T) {
	cfg := loadExampleConfig(t)
	from, _ := testDay(t, cfg, "2026-11-01")
	start := time.Now()
	evs := (&Timeline{Config: cfg, Seed: 1}).Events(from, from.AddDate(0, 0, 30))
	t.Logf("30 days of the example config: %d events in %s", len(evs), time.Since(start).Round(time.Millisecond))
}

func BenchmarkTimelineDay(b *testing.B) {
	cfg := loadExampleConfig(b)
	tl := &Timeline{Config: cfg, Seed: 1}
	g := tl.generator()
	d := day{2026, 11, 25}
	var out []ingest.Event
	for b.Loop() {
		out = out[:0]
		for _, h := range g.halls {
			out = g.hallDay(h, d, time.Time{}, out)
		}
	}
	b.ReportMetric(float64(len(out)), "events/day")
}
