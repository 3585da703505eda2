package simulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
)

// A demo started at any hour has finished cases for its recorder in its
// first minutes: the hall's always-open moment is picked for it.
func TestDemoAlwaysOpenFrom(t *testing.T) {
	cfg := loadExampleConfig(t)
	const warmUp = 45 * time.Minute
	day, _ := testDay(t, cfg, "2026-12-03")
	// Every 3 hours, and around midnight, where a day of a hall open
	// around the clock used to end.
	starts := []time.Duration{23*time.Hour + 50*time.Minute, 24*time.Hour + 3*time.Minute}
	for h := 0; h < 24; h += 3 {
		starts = append(starts, time.Duration(h)*time.Hour+17*time.Minute+23*time.Second)
	}
	for _, at := range starts {
		now := day.Add(at)
		start := time.Now()
		tl := &Timeline{Config: cfg, Seed: 1, AlwaysOpen: true}
		from := DemoAlwaysOpenFrom(tl, now, warmUp)
		took := time.Since(start)
		require.WithinDuration(t, now.Add(-warmUp), from, demoShiftMax, "at %s", now)
		tl.AlwaysOpenFrom = from
		ends := 0
		for _, ev := range tl.Events(now.Add(demoEndsFrom), now.Add(demoEndsTo)) {
			if ev.Type == ingest.ServiceEnded && ev.CaseID != "" {
				ends++
			}
		}
		t.Logf("start %s: always open from %s, %d cases end 1–2.5 min after the start (picked in %s)",
			now.Format("15:04"), from.Format("15:04:05"), ends, took.Round(time.Millisecond))
		require.GreaterOrEqual(t, ends, demoEndsWant, "at %s", now)
	}
}
