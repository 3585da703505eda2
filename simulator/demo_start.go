package simulator

import (
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// The first minutes of a demo: when its hall should have finished cases
// whose service the freshly started recorder saw.
const (
	demoEndsFrom = time.Minute // after the start: the recorder runs by then
	demoEndsTo   = 150 * time.Second
	demoEndsWant = 3
	demoShiftMax = 5 * time.Minute // of the warm-up, either way
	demoShiftBy  = 10 * time.Second
)

// DemoAlwaysOpenFrom picks when a demo's always-open hall (t.AlwaysOpen)
// went over to around-the-clock hours: about warmUp before now, moved by
// up to 5 minutes either way to the first moment whose timeline has at
// least 3 services with a case ending 1 to 2.5 minutes after now. A hall
// ends a case every minute or so, so without the choice a demo's first
// minutes would, now and then, have no case whose service was recorded.
// Each candidate is a plausible history; this only picks one that shows
// what the demo is for. It simulates only the day of each candidate.
func DemoAlwaysOpenFrom(t *Timeline, now time.Time, warmUp time.Duration) time.Time {
	base := now.Add(-warmUp).Truncate(time.Second)
	if t == nil || t.Config == nil {
		return base
	}
	best, bestEnds := base, -1
	for shift := time.Duration(0); shift <= demoShiftMax; shift += demoShiftBy {
		for _, cand := range []time.Time{base.Add(shift), base.Add(-shift)} {
			if !cand.Before(now) {
				continue
			}
			if n := t.demoEnds(cand, now); n > bestEnds {
				best, bestEnds = cand, n
			}
			if bestEnds >= demoEndsWant {
				return best
			}
			if shift == 0 {
				break
			}
		}
	}
	return best
}

// demoEnds counts the services with a case that end 1 to 2.5 minutes
// after now if the hall went always-open at from.
func (t *Timeline) demoEnds(from, now time.Time) int {
	tl := *t
	tl.AlwaysOpenFrom = from
	g := tl.generator()
	lo, hi := now.Add(demoEndsFrom), now.Add(demoEndsTo)
	n := 0
	for d := g.dayOf(from); !g.dayOf(hi).before(d); d = d.add(1) {
		for _, h := range g.halls {
			for _, ev := range g.hallDay(h, d, lo, nil) {
				if ev.Type == ingest.ServiceEnded && ev.CaseID != "" && !ev.TS.Before(lo) && ev.TS.Before(hi) {
					n++
				}
			}
		}
	}
	return n
}
