package simulator

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// Kinds of simulation step.
const (
	stepOpen = iota
	stepArrive
	stepFree
	stepLunch
	stepResume
	stepClose
)

type step struct {
	at   int64 // ms after the day's base (local midnight but for an always-open hall: dayMode)
	seq  int32
	kind uint8
	idx  int32 // window or ticket
}

type simTicket struct {
	arrive, leave int64
	item          int
	name          string
}

type simWindow struct {
	plan                                 *winPlan
	open, busy, paused, pauseDue, closed bool
	idleSince                            int64
}

// daySim is one hall-day being simulated.
type daySim struct {
	g       *generator
	h       *hallPlan
	d       day
	base    time.Time
	rng     *rand.Rand
	out     []ingest.Event
	idPre   []byte
	n       int
	steps   []step
	seq     int32
	tickets []simTicket
	queue   []int32
	wins    []simWindow
	closing bool
	endMS   int64 // services end before this (AlwaysOpen)
	always  bool  // open around the clock
	// offMS is how far the day's time zero (base) is after midnight: the
	// steps count from base, the lunch break keeps to the clock.
	offMS   int64
	cases   int
	dateKey string
	// keepFrom drops events before it (still numbering them, so that
	// event ids do not depend on it).
	keepFrom time.Time
}

const msPerMin = 60_000

// clock is the step time (ms after base) of a time of day: the lunch
// break of a day that starts at 14:00 falls 22 hours after its start.
func (s *daySim) clock(tod time.Duration) int64 {
	day := ms(24 * time.Hour)
	return ((ms(tod)-s.offMS)%day + day) % day
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// hallDay simulates hall h on day d and appends its events with TS at or
// after keepFrom to out.
func (g *generator) hallDay(h *hallPlan, d day, keepFrom time.Time, out []ingest.Event) []ingest.Event {
	always := g.openAllDay(d)
	if !always && !g.cal.isWorkday(d) {
		return out
	}
	if len(h.windows) == 0 || len(h.items) == 0 {
		return out
	}
	key := strconv.Itoa(d.key())
	tag, zero := g.dayMode(d)
	s := &daySim{
		g: g, h: h, d: d, base: zero, out: out, dateKey: key, keepFrom: keepFrom,
		rng:    rand.New(rand.NewPCG(g.seed, hash64(h.id, key))),
		idPre:  []byte("sim-" + tag + "-" + h.code + "-" + key + "-"),
		always: always, offMS: zero.Sub(d.start(g.loc)).Milliseconds(),
		wins:  make([]simWindow, len(h.windows)),
		endMS: math.MaxInt64,
	}
	for i := range h.windows {
		s.wins[i].plan = &h.windows[i]
	}
	s.run()
	return s.out
}

func (s *daySim) run() {
	rng := s.rng
	// The day's volume: busier on Mondays, quieter on Fridays and
	// adjusted weekend working days, with some noise.
	factor := map[time.Weekday]float64{time.Monday: 1.12, time.Thursday: 0.97, time.Friday: 0.92, time.Saturday: 0.9, time.Sunday: 0.9}[s.d.weekday()]
	if factor == 0 {
		factor = 1
	}
	factor *= math.Exp(0.08 * rng.NormFloat64())
	daily := s.h.daily * factor

	open, lastIssue, closing := ms(openAt), ms(lastTicket), ms(closeAt)
	if s.always {
		open, lastIssue, closing = 0, ms(alwaysClose-15*time.Minute), ms(alwaysClose)
		s.endMS = ms(alwaysEnd)
	}
	for i, w := range s.wins {
		s.push(open+s.jitter(0, 90_000), stepOpen, i)
		if w.plan.pauses {
			s.push(s.clock(lunchStart)+s.jitter(0, 60_000), stepLunch, i)
			s.push(s.clock(lunchEnd)+s.jitter(0, 60_000), stepResume, i)
		}
	}
	s.push(closing, stepClose, 0)

	// Arrivals: a non-homogeneous Poisson process, by thinning.
	perMin := daily / arrivalArea // tickets per minute per unit of weight
	top := arrivalMax
	if s.always {
		perMin = daily / (lastTicket - openAt).Minutes()
		top = 1
	}
	letterSeq := map[string]int{}
	for t := float64(open); ; {
		t += rng.ExpFloat64() / (perMin * top) * msPerMin
		if t >= float64(lastIssue) {
			break
		}
		if !s.always && rng.Float64()*top > arrivalWeight(t/msPerMin) {
			continue
		}
		item, _ := slices.BinarySearch(s.h.cum, rng.Float64())
		item = min(item, len(s.h.items)-1)
		letter := s.h.items[item].letter
		letterSeq[letter]++
		at := int64(t)
		patience := ms(patienceGrace) + int64(rng.ExpFloat64()*float64(ms(patienceMean)))
		s.tickets = append(s.tickets, simTicket{arrive: at, leave: at + patience, item: item, name: ticketName(letter, letterSeq[letter])})
		s.push(at, stepArrive, len(s.tickets)-1)
	}

	for len(s.steps) > 0 {
		st := s.pop()
		switch st.kind {
		case stepOpen:
			w := &s.wins[st.idx]
			s.windowEvent(ingest.WindowOpened, st.at, w)
			w.open, w.idleSince = true, st.at
			s.dispatch(int(st.idx), st.at)
		case stepArrive:
			tk := &s.tickets[st.idx]
			s.emit(ingest.Event{Type: ingest.TicketIssued, TS: s.ts(st.at), Hall: s.h.id, Ticket: tk.name, Item: s.h.items[tk.item].code})
			s.queue = append(s.queue, st.idx)
			// The window idle longest that handles the item calls it.
			best := -1
			for i := range s.wins {
				w := &s.wins[i]
				if s.available(w) && w.plan.handles[tk.item] && (best < 0 || w.idleSince < s.wins[best].idleSince) {
					best = i
				}
			}
			if best >= 0 {
				s.dispatch(best, st.at)
			}
		case stepFree:
			w := &s.wins[st.idx]
			w.busy, w.idleSince = false, st.at
			switch {
			case s.closing:
				s.windowEvent(ingest.WindowClosed, st.at, w)
				w.closed = true
			case w.pauseDue:
				w.pauseDue = false
				if st.at < s.clock(lunchEnd)-5*msPerMin {
					s.windowEvent(ingest.WindowPaused, st.at, w)
					w.paused = true
				} else {
					s.dispatch(int(st.idx), st.at)
				}
			default:
				s.dispatch(int(st.idx), st.at)
			}
		case stepLunch:
			w := &s.wins[st.idx]
			if w.busy {
				w.pauseDue = true
			} else if w.open && !w.closed {
				s.windowEvent(ingest.WindowPaused, st.at, w)
				w.paused = true
			}
		case stepResume:
			w := &s.wins[st.idx]
			w.pauseDue = false
			if w.paused {
				w.paused, w.idleSince = false, st.at
				s.windowEvent(ingest.WindowOpened, st.at, w)
				s.dispatch(int(st.idx), st.at)
			}
		case stepClose:
			// Calls stop; whoever still waits leaves unserved. Windows
			// close now, or when their current service ends.
			s.closing = true
			for i := range s.wins {
				w := &s.wins[i]
				if w.open && !w.busy && !w.closed {
					s.windowEvent(ingest.WindowClosed, st.at+s.jitter(0, 60_000), w)
					w.closed = true
				}
			}
		}
	}
}

func ticketName(letter string, n int) string { return letter + zeroPad(n, 3) }

func (s *daySim) available(w *simWindow) bool {
	return w.open && !w.busy && !w.paused && !w.closed && !s.closing
}

// dispatch lets window wi, free at time t, call the longest-waiting ticket
// it handles; tickets whose patience ran out have left.
func (s *daySim) dispatch(wi int, t int64) {
	w := &s.wins[wi]
	if !s.available(w) {
		return
	}
	take := -1
	keep := s.queue[:0]
	for _, ti := range s.queue {
		tk := &s.tickets[ti]
		switch {
		case take >= 0:
			keep = append(keep, ti)
		case tk.leave <= t:
			// Abandoned: no event, the ticket is never called.
		case w.plan.handles[tk.item]:
			take = int(ti)
		default:
			keep = append(keep, ti)
		}
	}
	s.queue = keep
	if take >= 0 {
		s.serve(wi, take, t)
	}
}

func (s *daySim) windowEvent(typ ingest.EventType, t int64, w *simWindow) {
	s.emit(ingest.Event{Type: typ, TS: s.ts(t), Hall: s.h.id, Window: w.plan.id, Staff: w.plan.staff})
}

// emit gives ev the next event id of the hall-day and keeps it.
func (s *daySim) emit(ev ingest.Event) {
	s.n++
	if ev.TS.Before(s.keepFrom) {
		return
	}
	b := append(s.idPre[:len(s.idPre):len(s.idPre)], zeroPad(s.n, 5)...)
	ev.EventID = string(b)
	s.out = append(s.out, ev)
}

func (s *daySim) ts(msAfterBase int64) time.Time {
	return s.base.Add(time.Duration(msAfterBase) * time.Millisecond)
}

// jitter is a uniform number of milliseconds in [lo, hi).
func (s *daySim) jitter(lo, hi int64) int64 { return lo + s.rng.Int64N(hi-lo) }

// push and pop keep steps as a min-heap by (at, seq).
func (s *daySim) push(at int64, kind uint8, idx int) {
	s.seq++
	s.steps = append(s.steps, step{at: at, seq: s.seq, kind: kind, idx: int32(idx)})
	h := s.steps
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !stepLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (s *daySim) pop() step {
	h := s.steps
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && stepLess(h[l], h[m]) {
			m = l
		}
		if r < n && stepLess(h[r], h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	s.steps = h
	return top
}

func stepLess(a, b step) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}
