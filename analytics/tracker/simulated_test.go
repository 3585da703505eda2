package tracker

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/simulator"
)

func exampleConfig(tb testing.TB) *config.Config {
	cfg, err := config.Load("../../deploy/sunlight.example.yaml")
	require.NoError(tb, err)
	return cfg
}

// TestSimulatedDayBalances feeds a simulated Monday of every hall and
// checks the facts against counts taken from the events themselves.
func TestSimulatedDayBalances(t *testing.T) {
	cfg := exampleConfig(t)
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, cfg.Location())
	evs := (&simulator.Timeline{Config: cfg, Seed: 1}).Events(from, from.AddDate(0, 0, 1))
	require.NotEmpty(t, evs)

	count := map[ingest.EventType]int{}
	open := map[string]time.Time{}
	openTime := map[string]time.Duration{}
	for _, ev := range evs {
		count[ev.Type]++
		switch ev.Type {
		case ingest.WindowOpened:
			open[ev.Window] = ev.TS
		case ingest.WindowPaused, ingest.WindowClosed:
			openTime[ev.Window] += ev.TS.Sub(open[ev.Window])
		}
	}

	tr := New(cfg)
	var f Facts
	for i, ev := range evs {
		tr.Apply(ev, &f)
		if i%500 == 0 {
			tr.Advance(ev.TS, &f)
		}
	}
	tr.Advance(from.AddDate(0, 0, 1), &f)

	outcomes := map[Outcome]int{}
	for _, v := range f.Visits {
		outcomes[v.Outcome]++
		if v.Outcome == Served {
			require.False(t, v.Called.Before(v.Issued), v.Ticket)
			require.False(t, v.Started.Before(v.Called), v.Ticket)
			require.True(t, v.Ended.After(v.Started), v.Ticket)
			require.NotEmpty(t, v.Window)
		}
	}
	require.Equal(t, count[ingest.TicketIssued], len(f.Visits), "every ticket ends in one visit row")
	require.Equal(t, count[ingest.ServiceEnded], outcomes[Served])
	require.Positive(t, outcomes[NoShow])
	require.Positive(t, outcomes[Abandoned])
	require.Empty(t, tr.Waiting())

	spanTime := map[string]time.Duration{}
	for _, s := range f.Spans {
		require.True(t, s.End.After(s.Start))
		require.Equal(t, s.Start.Truncate(time.Hour), s.End.Add(-time.Nanosecond).Truncate(time.Hour), "one UTC hour per span")
		spanTime[s.Window] += s.End.Sub(s.Start)
	}
	require.Equal(t, openTime, spanTime)

	require.Len(t, f.Ratings, count[ingest.Rating])
	for _, r := range f.Ratings {
		require.NotEmpty(t, r.Item)
		require.NotEmpty(t, r.Staff)
		require.NotEmpty(t, r.Ticket)
	}
	require.Equal(t, count[ingest.CaseAccepted]+count[ingest.CaseCompleted]+count[ingest.CaseRejected], len(f.Cases))
	for _, w := range tr.Windows() {
		require.Equal(t, StatusClosed, w.Status, w.Window)
		require.Nil(t, w.Serving, w.Window)
	}
}

// BenchmarkApply feeds a simulated week of every hall of the example
// configuration (the realistic mix of event types) into fresh trackers.
func BenchmarkApply(b *testing.B) {
	cfg := exampleConfig(b)
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, cfg.Location())
	evs := (&simulator.Timeline{Config: cfg, Seed: 1}).Events(from, from.AddDate(0, 0, 7))
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	var f Facts
	for b.Loop() {
		b.StopTimer()
		tr := New(cfg) // a fresh tracker: the same events again would be duplicates
		b.StartTimer()
		for _, ev := range evs {
			tr.Apply(ev, &f)
		}
		tr.Advance(from.AddDate(0, 0, 8), &f)
		n += len(evs)
		f = Facts{Visits: f.Visits[:0], Spans: f.Spans[:0], Cases: f.Cases[:0], Ratings: f.Ratings[:0]}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
	b.ReportMetric(float64(len(evs)), "events/op")
}
