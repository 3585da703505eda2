package simulator

import (
	"cmp"
	"slices"
	"strings"

	"github.com/sunlight-gov/sunlight/ingest"
)

// stream hands out the events of consecutive days. Cases completed on a
// later day than they were accepted wait in pending until their day.
type stream struct {
	g       *generator
	next    day // the next day to simulate
	pending []ingest.Event
}

// newStream prepares to hand out the events of first and the days after
// it: it starts simulating early enough to catch every case accepted
// earlier and completed on or after first.
func (g *generator) newStream(first day) *stream {
	need := g.maxLimit + maxOverrun + 1
	d := first
	for i := 0; need > 0 && i < 3660; i++ {
		d = d.add(-1)
		if g.cal.isWorkday(d) {
			need--
		}
	}
	return &stream{g: g, next: d.add(-2)}
}

// day returns the events with TS on day d, sorted by TS then event id.
// Days must be asked for in increasing order.
func (s *stream) day(d day) []ingest.Event {
	start, end := d.start(s.g.loc), d.add(1).start(s.g.loc)
	for !d.before(s.next) {
		for _, h := range s.g.halls {
			// Of a day before d only its cases completed later matter.
			s.pending = s.g.hallDay(h, s.next, start, s.pending)
		}
		s.next = s.next.add(1)
	}
	var out []ingest.Event
	keep := s.pending[:0]
	for _, ev := range s.pending {
		switch {
		case !ev.TS.Before(end):
			keep = append(keep, ev)
		case !ev.TS.Before(start):
			out = append(out, ev)
		}
	}
	clear(s.pending[len(keep):])
	s.pending = keep
	sortEvents(out)
	return out
}

// sortEvents sorts by TS, then event id. It sorts small keys and moves
// each event once: events are big.
func sortEvents(evs []ingest.Event) {
	type key struct {
		ns int64
		id string
		i  int
	}
	keys := make([]key, len(evs))
	for i := range evs {
		keys[i] = key{evs[i].TS.UnixNano(), evs[i].EventID, i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.ns != b.ns {
			return cmp.Compare(a.ns, b.ns)
		}
		return strings.Compare(a.id, b.id)
	})
	sorted := make([]ingest.Event, len(evs))
	for j, k := range keys {
		sorted[j] = evs[k.i]
	}
	copy(evs, sorted)
}
