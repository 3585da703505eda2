package simulator

import (
	"cmp"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// Timeline generates a realistic, deterministic event history of the halls
// in Config: the same Seed gives the same events (and event ids), so a
// backfill and a later live run agree and re-sending is a no-op.
//
// Each hall-day is simulated on its own, from a random source seeded with
// Seed, the hall and the date, so any time range can be generated without
// generating everything before it. A day is a discrete-event simulation of
// a multi-server queue: tickets arrive as a time-of-day Poisson process
// (a burst at opening, a morning peak 9:00–10:30, a lunch dip, a smaller
// afternoon peak); a free window calls the longest-waiting ticket whose
// item it handles; handling times are lognormal per item (median 4–15 min);
// some applicants do not show up when called, some leave when their
// patience runs out, and those still waiting at closing leave unserved.
// Most services accept a case, completed later in working days (from
// Config.Calendar, in Config.Location()): about 90% within the item's
// time limit, the rest past it. A case accepted on day D is on time when it
// is completed by the end of the time_limit_days-th working day after D.
//
// Halls open on working days 08:30–17:30 local time; tickets are issued
// until 17:00; from 12:00 to 13:30 every window of a department but its
// first pauses for lunch (window_paused, then window_opened again). The
// planned volume is about 60 tickets per city window, 38 per district
// window and 20 per community window on a normal day, capped at 85% of
// what the window can handle; Mondays are busier, Fridays quieter.
//
// Event ids look like "sim-<seed tag>-<hall code>-<yyyymmdd>-<n>", case ids
// like "CM-20261125-0123" (hall code, date, sequence), tickets like "A031"
// (a letter per department, a daily sequence), staff like "E1003" (one per
// window, numbered in file order). The ids depend on the hall ids and the
// order of halls and windows in the file: editing the config changes them.
//
// Events is safe for concurrent use; the Config must not change meanwhile.
type Timeline struct {
	// Config gives the halls, windows, items, calendar and time zone.
	Config *config.Config
	// Seed picks one history among many; the same seed, the same events.
	Seed int64
	// AlwaysOpen makes every hour an opening hour at a steady daytime rate
	// (for demos run at night); default false = real opening hours.
	// Every day is then open from midnight to 23:45 (services end before
	// midnight), windows still pause for lunch, and cases are still
	// completed on working days, 09:00–17:00.
	AlwaysOpen bool
}

// Events returns every event with from <= TS < to, sorted by TS (ties by
// event id).
func (t *Timeline) Events(from, to time.Time) []ingest.Event {
	if t == nil || t.Config == nil || !from.Before(to) {
		return nil
	}
	g := t.generator()
	first, last := g.dayOf(from), g.dayOf(to.Add(-time.Nanosecond))
	s := g.newStream(first)
	var days [][]ingest.Event
	total := 0
	for d := first; !last.before(d); d = d.add(1) {
		evs := inRange(s.day(d), from, to)
		days = append(days, evs)
		total += len(evs)
	}
	if total == 0 {
		return nil
	}
	out := make([]ingest.Event, 0, total)
	for _, evs := range days {
		out = append(out, evs...)
	}
	return out
}

// inRange returns the events of sorted evs with from <= TS < to.
func inRange(evs []ingest.Event, from, to time.Time) []ingest.Event {
	i, _ := slices.BinarySearchFunc(evs, from, func(ev ingest.Event, t time.Time) int { return ev.TS.Compare(t) })
	j, _ := slices.BinarySearchFunc(evs, to, func(ev ingest.Event, t time.Time) int { return ev.TS.Compare(t) })
	return evs[i:j]
}

// The shape of a real opening day, as offsets from local midnight.
const (
	openAt     = 8*time.Hour + 30*time.Minute
	lastTicket = 17 * time.Hour
	closeAt    = 17*time.Hour + 30*time.Minute
	lunchStart = 12 * time.Hour
	lunchEnd   = 13*time.Hour + 30*time.Minute
	// With AlwaysOpen a day runs from midnight to alwaysClose, and
	// services are cut short so that they end before midnight: the next
	// day's simulation starts with every window free.
	alwaysClose = 23*time.Hour + 45*time.Minute
	alwaysEnd   = 24*time.Hour - 90*time.Second
)

// Realism parameters (DESIGN.md, "Domain notes").
const (
	handlingSigma = 0.5  // lognormal sigma of handling times
	noShowShare   = 0.03 // of calls: called twice, then the window moves on
	ratingShare   = 0.70 // of services: the applicant rates on the pad
	acceptShare   = 0.90 // of services: a case is accepted
	rejectShare   = 0.03 // of services: a case is rejected (不予受理)
	lateShare     = 0.10 // of accepted cases: completed past the time limit
	maxOverrun    = 10   // working days past the limit, at most
	patienceGrace = 15 * time.Minute
	patienceMean  = 60 * time.Minute
	targetUtil    = 0.85 // cap of a window's planned load, of its capacity
	visitOverhead = 1.2  // minutes per visit beside handling (call, walk, rating)
)

// Planned tickets per window and normal day, by tier (capped by capacity):
// a city hall of 12 windows lands around 500–800 a day, a district centre
// of 4 around 150, a community station of 2 around 40.
var tierPerWindow = map[config.Tier]float64{
	config.TierCity:      62,
	config.TierDistrict:  38,
	config.TierCommunity: 20,
}

// arrivalKnots is the relative arrival rate over a real opening day
// (minutes after midnight, weight), linearly interpolated: people queue
// at the door before 8:30, a morning peak until 10:30, a lunch dip and a
// smaller afternoon peak.
var arrivalKnots = [][2]float64{
	{510, 2.2}, {520, 1.6}, {540, 1.35}, {570, 1.6}, {630, 1.55}, {660, 1.25},
	{700, 0.9}, {720, 0.45}, {780, 0.4}, {810, 0.75}, {870, 1.15}, {930, 1.1},
	{960, 0.8}, {1020, 0.35},
}

// arrivalWeight interpolates arrivalKnots at minute m.
func arrivalWeight(m float64) float64 {
	k := arrivalKnots
	if m <= k[0][0] {
		return k[0][1]
	}
	for i := 1; i < len(k); i++ {
		if m <= k[i][0] {
			f := (m - k[i-1][0]) / (k[i][0] - k[i-1][0])
			return k[i-1][1] + f*(k[i][1]-k[i-1][1])
		}
	}
	return k[len(k)-1][1]
}

// arrivalArea is the integral of arrivalWeight over the ticket hours, in
// weight-minutes, and arrivalMax its maximum (for thinning).
var arrivalArea, arrivalMax = func() (float64, float64) {
	area, top := 0.0, 0.0
	for i := 1; i < len(arrivalKnots); i++ {
		a, b := arrivalKnots[i-1], arrivalKnots[i]
		area += (b[0] - a[0]) * (a[1] + b[1]) / 2
		top = math.Max(top, math.Max(a[1], b[1]))
	}
	return area, top
}()

// ratingsNormal and ratingsAfterLongWait are cumulative shares of the
// ratings 5, 4, 3, 2, 1.
var (
	ratingsNormal        = [5]float64{0.80, 0.92, 0.97, 0.99, 1}
	ratingsAfterLongWait = [5]float64{0.62, 0.82, 0.92, 0.97, 1}
)

// day is a civil date in the halls' time zone.
type day struct {
	y int
	m time.Month
	d int
}

func (d day) add(n int) day {
	t := time.Date(d.y, d.m, d.d+n, 0, 0, 0, 0, time.UTC)
	return day{t.Year(), t.Month(), t.Day()}
}
func (d day) key() int              { return d.y*10000 + int(d.m)*100 + d.d }
func (d day) before(e day) bool     { return d.key() < e.key() }
func (d day) weekday() time.Weekday { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Weekday() }
func (d day) start(loc *time.Location) time.Time {
	return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, loc)
}
func (d day) String() string { return d.start(time.UTC).Format(time.DateOnly) }

// calendar answers working-day questions about simulation days with the
// configuration's calendar (holidays and 调休), so that the simulator and
// the platform count time limits the same way.
type calendar struct {
	wc  *config.WorkCalendar
	loc *time.Location
}

func newCalendar(c *config.Config) calendar {
	return calendar{wc: c.WorkCalendar(), loc: c.Location()}
}

// noon is a moment inside day d, away from any DST edge.
func (c calendar) noon(d day) time.Time { return d.start(c.loc).Add(12 * time.Hour) }

func (c calendar) isWorkday(d day) bool { return c.wc.IsWorkday(c.noon(d)) }

// addWorkdays returns the n-th working day after d (d itself for n <= 0).
func (c calendar) addWorkdays(d day, n int) day {
	if n <= 0 {
		return d
	}
	// Deadline is the local midnight ending the n-th working day.
	end := c.wc.Deadline(c.noon(d), n).Add(-time.Hour)
	return day{end.Year(), end.Month(), end.Day()}
}

// generator is a Timeline prepared for simulation: the calendar, the time
// zone and a plan per hall.
type generator struct {
	loc        *time.Location
	cal        calendar
	alwaysOpen bool
	seed       uint64
	seedTag    string
	halls      []*hallPlan
	maxLimit   int
}

type hallPlan struct {
	id      string
	code    string // prefix of case ids and event ids, unique among halls
	windows []winPlan
	items   []itemPlan
	cum     []float64 // cumulative item choice weights, ending at 1
	daily   float64   // expected tickets on a normal day
}

type winPlan struct {
	id      string
	staff   string
	handles []bool // by hall item index
	pauses  bool   // takes a lunch break (every window of a department but its first)
}

type itemPlan struct {
	code   string
	limit  int     // working days
	median float64 // handling, seconds
	letter string  // ticket prefix of the item's department
}

func (t *Timeline) generator() *generator {
	c := t.Config
	g := &generator{loc: c.Location(), cal: newCalendar(c), alwaysOpen: t.AlwaysOpen, seed: uint64(t.Seed)}
	mode := "real"
	if t.AlwaysOpen {
		mode = "always"
	}
	g.seedTag = strconv.FormatUint(hash64(strconv.FormatInt(t.Seed, 10), mode)&0xffffffff, 16)
	codes := hallCodes(c.Halls)
	staffNo := 1001
	for i := range c.Halls {
		h := &c.Halls[i]
		hp := &hallPlan{id: h.ID, code: codes[i]}
		itemIdx := map[string]int{}
		deptLetter := map[string]string{}
		letterOf := func(dept string) string {
			if l, ok := deptLetter[dept]; ok {
				return l
			}
			n := len(deptLetter)
			l := string(rune('A' + n%26))
			if n >= 26 {
				l += strconv.Itoa(n / 26)
			}
			deptLetter[dept] = l
			return l
		}
		firstOfDept := map[string]bool{}
		for _, w := range h.Windows {
			wp := winPlan{id: w.ID, staff: "E" + strconv.Itoa(staffNo)}
			staffNo++
			if firstOfDept[w.Department] {
				wp.pauses = true
			}
			firstOfDept[w.Department] = true
			for _, code := range w.Items {
				if _, ok := itemIdx[code]; ok {
					continue
				}
				it, ok := c.FindItem(code)
				if !ok {
					continue
				}
				dept := it.Department
				if dept == "" {
					dept = w.Department
				}
				limit := max(it.TimeLimitDays, 1)
				g.maxLimit = max(g.maxLimit, limit)
				itemIdx[code] = len(hp.items)
				hp.items = append(hp.items, itemPlan{code: code, limit: limit, median: itemMedian(code, limit), letter: letterOf(dept)})
			}
			hp.windows = append(hp.windows, wp)
		}
		// Plan each window's load from its tier and its capacity, and
		// spread it over the items it handles.
		demand := make([]float64, len(hp.items))
		for wi, w := range h.Windows {
			wp := &hp.windows[wi]
			wp.handles = make([]bool, len(hp.items))
			var idx []int
			for _, code := range w.Items {
				if j, ok := itemIdx[code]; ok && !wp.handles[j] {
					wp.handles[j] = true
					idx = append(idx, j)
				}
			}
			if len(idx) == 0 {
				continue
			}
			mean := 0.0
			for _, j := range idx {
				mean += hp.items[j].median * math.Exp(handlingSigma*handlingSigma/2) / 60
			}
			mean = mean/float64(len(idx)) + visitOverhead
			open := (closeAt - openAt).Minutes()
			if wp.pauses {
				open -= (lunchEnd - lunchStart).Minutes()
			}
			per, ok := tierPerWindow[h.Tier]
			if !ok {
				per = 40
			}
			load := math.Min(per, targetUtil*open/mean)
			for _, j := range idx {
				demand[j] += load / float64(len(idx))
			}
		}
		sum := 0.0
		for _, v := range demand {
			sum += v
		}
		hp.daily = sum
		hp.cum = make([]float64, len(demand))
		acc := 0.0
		for j, v := range demand {
			acc += v
			hp.cum[j] = acc / sum
		}
		g.halls = append(g.halls, hp)
	}
	return g
}

// itemMedian is an item's median handling time in seconds: 4–15 minutes,
// longer for items with a longer time limit, fixed per item code.
func itemMedian(code string, limit int) float64 {
	jitter := float64(hash64("median", code)%1000) / 1000
	m := 4 + 0.4*float64(min(limit, 15)) + 2*jitter
	return math.Min(math.Max(m, 4), 15) * 60
}

// hallCodes derives a short unique code per hall from its id: the initials
// of its parts ("city-main" -> "CM"), or its first letters when it has one
// part; a code shared by several halls gets their position appended.
func hallCodes(halls []config.Hall) []string {
	codes := make([]string, len(halls))
	count := map[string]int{}
	for i, h := range halls {
		parts := strings.FieldsFunc(h.ID, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		var b strings.Builder
		if len(parts) > 1 {
			for _, p := range parts {
				b.WriteRune(unicode.ToUpper([]rune(p)[0]))
			}
		} else if len(parts) == 1 {
			r := []rune(strings.ToUpper(parts[0]))
			b.WriteString(string(r[:min(3, len(r))]))
		}
		codes[i] = b.String()
		if codes[i] == "" {
			codes[i] = "H"
		}
		count[codes[i]]++
	}
	for i := range codes {
		if count[codes[i]] > 1 {
			codes[i] += strconv.Itoa(i + 1)
		}
	}
	return codes
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func (g *generator) dayOf(t time.Time) day {
	t = t.In(g.loc)
	return day{t.Year(), t.Month(), t.Day()}
}

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
	at   int64 // ms after local midnight
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
	cases   int
	dateKey string
	// keepFrom drops events before it (still numbering them, so that
	// event ids do not depend on it).
	keepFrom time.Time
}

const msPerMin = 60_000

func ms(d time.Duration) int64 { return d.Milliseconds() }

// hallDay simulates hall h on day d and appends its events with TS at or
// after keepFrom to out.
func (g *generator) hallDay(h *hallPlan, d day, keepFrom time.Time, out []ingest.Event) []ingest.Event {
	if !g.alwaysOpen && !g.cal.isWorkday(d) {
		return out
	}
	if len(h.windows) == 0 || len(h.items) == 0 {
		return out
	}
	key := strconv.Itoa(d.key())
	s := &daySim{
		g: g, h: h, d: d, base: d.start(g.loc), out: out, dateKey: key, keepFrom: keepFrom,
		rng:   rand.New(rand.NewPCG(g.seed, hash64(h.id, key))),
		idPre: []byte("sim-" + g.seedTag + "-" + h.code + "-" + key + "-"),
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
	if s.g.alwaysOpen {
		open, lastIssue, closing = 0, ms(alwaysClose-15*time.Minute), ms(alwaysClose)
		s.endMS = ms(alwaysEnd)
	}
	for i, w := range s.wins {
		s.push(open+s.jitter(0, 90_000), stepOpen, i)
		if w.plan.pauses {
			s.push(ms(lunchStart)+s.jitter(0, 60_000), stepLunch, i)
			s.push(ms(lunchEnd)+s.jitter(0, 60_000), stepResume, i)
		}
	}
	s.push(closing, stepClose, 0)

	// Arrivals: a non-homogeneous Poisson process, by thinning.
	perMin := daily / arrivalArea // tickets per minute per unit of weight
	top := arrivalMax
	if s.g.alwaysOpen {
		perMin = daily / (lastTicket - openAt).Minutes()
		top = 1
	}
	letterSeq := map[string]int{}
	for t := float64(open); ; {
		t += rng.ExpFloat64() / (perMin * top) * msPerMin
		if t >= float64(lastIssue) {
			break
		}
		if !s.g.alwaysOpen && rng.Float64()*top > arrivalWeight(t/msPerMin) {
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
				if st.at < ms(lunchEnd)-5*msPerMin {
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

// complete draws when a case accepted at acc (ms after midnight) is
// completed: often the same day for one-day items, else after k working
// days, within the item's limit for about 90% of cases.
func (s *daySim) complete(acc int64, it *itemPlan, caseID string) {
	rng := s.rng
	ev := ingest.Event{Type: ingest.CaseCompleted, Hall: s.h.id, CaseID: caseID, Item: it.code}
	dayEnd := ms(closeAt)
	if s.g.alwaysOpen {
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

func (s *daySim) ts(msAfterMidnight int64) time.Time {
	return s.base.Add(time.Duration(msAfterMidnight) * time.Millisecond)
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
