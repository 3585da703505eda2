package ingestbench

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/simulator"
)

// Workload is a set of events ready to post: generated and encoded before
// any timing starts, so that the client's cost of making them is not
// measured.
type Workload struct {
	// Bodies are the request bodies, JSON arrays of at most the batch
	// size; Sizes[i] is the number of events in Bodies[i].
	Bodies [][]byte
	Sizes  []int
	// Events is the total number of events.
	Events int
	// IDPrefix is the longest prefix shared by every event id ("" if
	// none): the workload's rows are those whose id starts with it.
	IDPrefix string
	// From and To bound the events' times.
	From, To time.Time
}

// NewWorkload generates the n most recent events before to of the
// simulated history simulator.Timeline{Config: cfg, Seed: seed} and
// encodes them in batches of batch events. Different seeds give disjoint
// event ids. Every event is valid for cfg and lies in the past, so the
// server accepts all of them.
func NewWorkload(cfg *config.Config, seed int64, n, batch int, to time.Time) (*Workload, error) {
	if n <= 0 || batch <= 0 {
		return nil, fmt.Errorf("workload: n (%d) and batch (%d) must be positive", n, batch)
	}
	tl := &simulator.Timeline{Config: cfg, Seed: seed}
	// Start with a day, then widen by the rate seen so far (weekends and
	// holidays have none: a week at least once the first day falls short).
	days := 1
	var evs []ingest.Event
	for {
		evs = tl.Events(to.Add(-time.Duration(days)*24*time.Hour), to)
		if len(evs) >= n {
			break
		}
		if days > 3*366 {
			return nil, fmt.Errorf("workload: only %d events in %d days, want %d: add halls or windows", len(evs), days, n)
		}
		next := 2 * days
		if len(evs) > 0 {
			next = int(float64(n)/float64(len(evs))*float64(days)*1.15) + 2
		}
		days = max(next, days+1, 7)
	}
	evs = evs[len(evs)-n:]

	w := &Workload{Events: n, From: evs[0].TS, To: evs[n-1].TS, IDPrefix: evs[0].EventID}
	for i := 0; i < n; i += batch {
		part := evs[i:min(i+batch, n)]
		body, err := json.Marshal(part)
		if err != nil {
			return nil, fmt.Errorf("workload: encode: %w", err)
		}
		w.Bodies = append(w.Bodies, body)
		w.Sizes = append(w.Sizes, len(part))
		for _, ev := range part {
			w.IDPrefix = commonPrefix(w.IDPrefix, ev.EventID)
		}
	}
	return w, nil
}

// Split returns the workload's first k bodies and the others as two
// workloads (IDPrefix, From and To are kept for both).
func (w *Workload) Split(k int) (*Workload, *Workload) {
	a, b := *w, *w
	a.Bodies, a.Sizes = w.Bodies[:k], w.Sizes[:k]
	b.Bodies, b.Sizes = w.Bodies[k:], w.Sizes[k:]
	a.Events, b.Events = sum(a.Sizes), sum(b.Sizes)
	return &a, &b
}

// Bytes is the size of all bodies.
func (w *Workload) Bytes() int {
	n := 0
	for _, b := range w.Bodies {
		n += len(b)
	}
	return n
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func commonPrefix(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return a[:i]
}
