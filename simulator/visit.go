package simulator

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// serve plays one visit: call (and a re-call for a no-show), service,
// case, rating. Every event of the visit is drawn now.
func (s *daySim) serve(wi, ti int, t int64) {
	rng := s.rng
	w := &s.wins[wi]
	tk := &s.tickets[ti]
	it := &s.h.items[tk.item]
	w.busy = true
	visit := ingest.Event{Hall: s.h.id, Window: w.plan.id, Staff: w.plan.staff, Ticket: tk.name, Item: it.code}
	at := func(typ ingest.EventType, t int64) ingest.Event {
		ev := visit
		ev.Type, ev.TS = typ, s.ts(t)
		return ev
	}
	call := t + s.jitter(1000, 4000)
	s.emit(at(ingest.Called, call))
	if rng.Float64() < noShowShare {
		recall := call + s.jitter(55_000, 75_000)
		s.emit(at(ingest.Called, recall))
		s.push(recall+s.jitter(20_000, 40_000), stepFree, wi)
		return
	}
	start := call + s.jitter(20_000, 60_000)
	handling := it.median * math.Exp(handlingSigma*rng.NormFloat64())
	handling = math.Max(60, math.Min(handling, math.Min(4*it.median, 3600)))
	hms := int64(handling * 1000)
	if start+hms > s.endMS-60_000 {
		hms = max(s.endMS-60_000-start, 30_000)
	}
	end := start + hms
	s.emit(at(ingest.ServiceStarted, start))

	u := rng.Float64()
	if u < acceptShare+rejectShare {
		s.cases++
		caseID := s.h.code + "-" + s.dateKey + "-" + zeroPad(s.cases, 4)
		visit.CaseID = caseID
		ts := start + int64(float64(hms)*(0.5+0.4*rng.Float64()))
		if u < acceptShare {
			s.emit(at(ingest.CaseAccepted, ts))
			s.complete(ts, it, caseID)
		} else {
			s.emit(at(ingest.CaseRejected, ts))
		}
	}
	s.emit(at(ingest.ServiceEnded, end))
	if rng.Float64() < ratingShare {
		cum := &ratingsNormal
		if wait := call - tk.arrive; wait > 2*ms(15*time.Minute) {
			cum = &ratingsAfterLongWait
		}
		r, x := 1, rng.Float64()
		for i, c := range cum {
			if x < c {
				r = 5 - i
				break
			}
		}
		ev := at(ingest.Rating, end+s.jitter(5000, 40_000))
		ev.Rating = r
		s.emit(ev)
	}
	s.push(end+s.jitter(5000, 30_000), stepFree, wi)
}

// zeroPad formats n with at least width digits.
func zeroPad(n, width int) string {
	num := strconv.Itoa(n)
	if len(num) < width {
		num = strings.Repeat("0", width-len(num)) + num
	}
	return num
}

// complete draws when a case accepted at acc (ms after the base) is
// completed: often the same day for one-day items, else after k working
// days, within the item's limit for about 90% of cases.
func (s *daySim) complete(acc int64, it *itemPlan, caseID string) {
	rng := s.rng
	ev := ingest.Event{Type: ingest.CaseCompleted, Hall: s.h.id, CaseID: caseID, Item: it.code}
	dayEnd := ms(closeAt)
	if s.always {
		dayEnd = ms(alwaysEnd)
	}
	late := rng.Float64() < lateShare
	sameDay := 0.1
	if it.limit <= 1 {
		sameDay = 0.6
	}
	var k int
	switch {
	case late:
		k = it.limit + 1 + min(int(rng.ExpFloat64()*2), maxOverrun-1)
	case rng.Float64() < sameDay && acc+ms(90*time.Minute) < dayEnd:
		ev.TS = s.ts(acc + ms(20*time.Minute) + int64(rng.Float64()*float64(min(dayEnd-acc-ms(30*time.Minute), ms(3*time.Hour)))))
		s.emit(ev)
		return
	default:
		k = 1 + min(int(math.Pow(rng.Float64(), 1.5)*float64(it.limit)), it.limit-1)
	}
	d := s.g.cal.addWorkdays(s.d, k)
	tod := ms(9*time.Hour) + int64(rng.Float64()*float64(ms(8*time.Hour)))
	ev.TS = d.start(s.g.loc).Add(time.Duration(tod) * time.Millisecond)
	s.emit(ev)
}
