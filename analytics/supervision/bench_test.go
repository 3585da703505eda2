package supervision

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/simulator"
)

// BenchmarkObserve feeds a simulated week of the example configuration's
// halls, in batches of 100 events, into fresh engines.
func BenchmarkObserve(b *testing.B) {
	cfg, err := config.Load("../../deploy/sunlight.example.yaml")
	require.NoError(b, err)
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, cfg.Location())
	evs := (&simulator.Timeline{Config: cfg, Seed: 1}).Events(from, from.AddDate(0, 0, 7))
	n, alerts := 0, 0
	for b.Loop() {
		b.StopTimer()
		e := NewEngine(cfg, Rules{}) // the same events again would be duplicates
		b.StartTimer()
		for i := 0; i < len(evs); i += 100 {
			alerts += len(e.Observe(evs[i:min(i+100, len(evs))]))
		}
		n += len(evs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
	b.ReportMetric(float64(alerts)/float64(n)*1000, "alerts/kevent")
}

// BenchmarkTick measures a tick with 2,000 open cases and 200 waiting
// tickets, between thresholds (the steady state: nothing new to raise).
func BenchmarkTick(b *testing.B) {
	cfg := testConfig()
	e := NewEngine(cfg, Rules{})
	t0 := at("2026-11-30 09:00:00")
	var evs []ingest.Event
	for i := range 2000 {
		evs = append(evs, ingest.Event{EventID: fmt.Sprintf("c%d", i), Type: ingest.CaseAccepted, Hall: "city-main",
			Window: "A02", Item: "SC-002", CaseID: fmt.Sprintf("CM-%04d", i), TS: t0.Add(-time.Duration(i) * time.Minute)})
	}
	for i := range 200 {
		item := []string{"SC-001", "SC-002"}[i%2]
		evs = append(evs, ingest.Event{EventID: fmt.Sprintf("t%d", i), Type: ingest.TicketIssued, Hall: "city-main",
			Ticket: fmt.Sprintf("T%03d", i), Item: item, TS: t0.Add(time.Duration(i) * time.Second)})
	}
	evs = append(evs, ingest.Event{EventID: "o1", Type: ingest.WindowOpened, Hall: "city-main", Window: "A01", TS: t0},
		ingest.Event{EventID: "o2", Type: ingest.WindowOpened, Hall: "city-main", Window: "A02", TS: t0})
	e.Observe(evs)
	now := t0.Add(4 * time.Minute)
	e.Tick(now)
	require.Len(b, e.OpenCases(), 2000)
	require.Len(b, e.Waiting(), 200)
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if len(e.Tick(now)) != 0 {
			b.Fatal("a steady tick raised an alert")
		}
	}
}
