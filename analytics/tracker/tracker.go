package tracker

import (
	"cmp"
	"slices"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// recentIDs is how many recent event ids are remembered to drop
// duplicates: re-sends of a batch arrive within seconds, and at the full
// intake rate (200k events/s) this still covers the last half second of
// the whole network, and hours of one hall.
const recentIDs = 1 << 17

// Tracker follows the queue, windows and cases of every configured hall.
// It keeps only open state: a visit is forgotten once its fact is out, a
// case once it is completed or rejected, a hall-day once it has ended.
//
// A Tracker is not safe for concurrent use: its owner serializes calls
// (the supervision engine holds a lock around it).
type Tracker struct {
	// DefaultTargetWait is the target wait of an item whose own
	// target_wait_minutes is 0; New sets 15 minutes.
	DefaultTargetWait time.Duration
	// UniqueEvents says that the caller applies each event once (the
	// event writer applies only the events the store found new), so
	// Apply skips its own check for re-sent ids, a map lookup per event.
	UniqueEvents bool

	loc     *time.Location
	cal     *config.WorkCalendar
	halls   map[string]*hallState
	windows map[string]*windowState
	order   []*windowState // config order
	items   map[string]*itemInfo
	cases   map[string]CaseState // open (accepted) cases
	recent  recentSet
	// deadlines caches WorkCalendar.Deadline by accepting day and limit.
	deadlines map[deadlineKey]time.Time

	// dayDue is the earliest end of an open hall-day or of the local day
	// of an open window: before it, no day needs closing.
	dayDue time.Time
	// lastDay caches the last local day looked up (most events fall on it).
	lastDay localDay
}

type hallState struct {
	id, tier string
	lastTS   time.Time        // the latest time of an event without a window
	days     map[int]*hallDay // by local date yyyymmdd
}

// hallDay holds the open visits of one hall on one local date; ticket
// numbers restart every day.
type hallDay struct {
	hall       *hallState
	date       int
	start, end time.Time
	visits     map[string]*visit
}

type itemInfo struct {
	code, dept string
	limit      int
	target     time.Duration // 0: the tracker's DefaultTargetWait
}

type windowState struct {
	hall      *hallState
	id, dept  string
	items     []string
	status    string
	since     time.Time
	spanStart time.Time // while open: start of the span not yet emitted
	// current is the visit called or being served at this window.
	current          *visit
	lastServiceStart time.Time
	lastServiceEnd   time.Time
	// inferredTo is the end of the open time last inferred for this window
	// from its service (see inferOpen); zero before any.
	inferredTo time.Time
	lastTS     time.Time // the latest time of an event of this window
	// last is the visit that ended here last, so that a rating or a case
	// event arriving just after service_ended still finds its visit.
	last lastVisit
}

type lastVisit struct {
	date                        int
	ticket, item, staff, caseID string
}

// visit is a Visit under construction.
type visit struct {
	Visit
	day     *hallDay
	item    *itemInfo
	win     *windowState
	started bool
	// issuedSeen: ticket_issued came; flagged: its absence was reported.
	issuedSeen, flagged bool
}

// Window statuses.
const (
	StatusClosed = "closed"
	StatusOpen   = "open"
	StatusPaused = "paused"
)

// New returns a tracker of cfg's halls, windows, items and calendar.
func New(cfg *config.Config) *Tracker {
	t := &Tracker{
		DefaultTargetWait: 15 * time.Minute,
		loc:               cfg.Location(),
		cal:               cfg.WorkCalendar(),
		halls:             map[string]*hallState{},
		windows:           map[string]*windowState{},
		items:             map[string]*itemInfo{},
		cases:             map[string]CaseState{},
		recent:            newRecentSet(recentIDs),
		deadlines:         map[deadlineKey]time.Time{},
	}
	for _, it := range cfg.Items {
		t.items[it.Code] = &itemInfo{code: it.Code, dept: it.Department, limit: it.TimeLimitDays,
			target: time.Duration(it.TargetWaitMinutes) * time.Minute}
	}
	for i := range cfg.Halls {
		h := &cfg.Halls[i]
		hs := &hallState{id: h.ID, tier: string(h.Tier), days: map[int]*hallDay{}}
		t.halls[h.ID] = hs
		for _, w := range h.Windows {
			ws := &windowState{hall: hs, id: w.ID, dept: w.Department, items: w.Items, status: StatusClosed}
			t.windows[w.ID] = ws
			t.order = append(t.order, ws)
		}
	}
	return t
}

// Apply applies one event and appends the facts that became final to out.
// Events of one hall should arrive roughly in time order; small reordering
// within a visit (a rating before service_ended) and duplicate event ids
// among the recent ones are tolerated. An event of a later local day first
// closes the days that ended before it, as Advance would.
func (t *Tracker) Apply(ev ingest.Event, out *Facts) {
	h := t.halls[ev.Hall]
	if h == nil {
		return
	}
	if !t.UniqueEvents && ev.EventID != "" && !t.recent.add(ev.EventID) {
		return
	}
	ts := ev.TS.UTC()
	if !t.dayDue.IsZero() && !ts.Before(t.dayDue) {
		t.closeDays(ts, out)
	}
	var w *windowState
	if ev.Window != "" {
		if w = t.windows[ev.Window]; w != nil && w.hall != h {
			w = nil
		}
	}
	t.checkOrder(h, w, ts, out)
	switch ev.Type {
	case ingest.TicketIssued:
		t.issued(h, ev, ts)
	case ingest.Called:
		if w != nil && ev.Ticket != "" {
			t.called(w, ev, ts, out)
		}
	case ingest.ServiceStarted:
		if w != nil && ev.Ticket != "" {
			t.started(w, ev, ts, out)
		}
	case ingest.ServiceEnded:
		if w != nil && ev.Ticket != "" {
			t.ended(w, ev, ts, out)
		}
	case ingest.CaseAccepted:
		t.caseAccepted(h, w, ev, ts, out)
	case ingest.CaseCompleted, ingest.CaseRejected:
		t.caseClosed(h, w, ev, ts, out)
	case ingest.Rating:
		if w != nil {
			t.rating(h, w, ev, ts, out)
		}
	case ingest.WindowOpened:
		if w != nil {
			t.windowOpened(w, ts)
		}
	case ingest.WindowPaused:
		if w != nil {
			t.windowStopped(w, StatusPaused, ts, out)
		}
	case ingest.WindowClosed:
		if w != nil {
			t.windowStopped(w, StatusClosed, ts, out)
		}
	}
}

// Advance tells the tracker that time now has come (the latest event time
// or the wall clock). Visits of hall-days that ended before now are closed
// (never called: Abandoned; called, not started: NoShow; started, never
// ended: Served, ending at the day's end), windows still open at the end
// of their local day close at local midnight, and open windows emit their
// finished whole-UTC-hour span pieces so that hourly rollups are current.
func (t *Tracker) Advance(now time.Time, out *Facts) {
	now = now.UTC()
	if !t.dayDue.IsZero() && !now.Before(t.dayDue) {
		t.closeDays(now, out)
	}
	hour := now.Truncate(time.Hour)
	for _, w := range t.order {
		if w.status == StatusOpen && hour.After(w.spanStart) {
			t.emitSpans(w, w.spanStart, hour, false, out)
			w.spanStart = hour
		}
	}
}

// localDay is a local date and the UTC instants it spans.
type localDay struct {
	date       int
	start, end time.Time
}

// dayOf returns the local day of ts.
func (t *Tracker) dayOf(ts time.Time) localDay {
	if d := t.lastDay; !ts.Before(d.start) && ts.Before(d.end) {
		return d
	}
	y, m, dd := ts.In(t.loc).Date()
	d := localDay{
		date:  y*10000 + int(m)*100 + dd,
		start: time.Date(y, m, dd, 0, 0, 0, 0, t.loc).UTC(),
		end:   time.Date(y, m, dd+1, 0, 0, 0, 0, t.loc).UTC(),
	}
	t.lastDay = d
	return d
}

// hallDay returns the open hall-day of h holding ts, creating it.
func (t *Tracker) hallDay(h *hallState, ts time.Time) *hallDay {
	ld := t.dayOf(ts)
	d := h.days[ld.date]
	if d == nil {
		d = &hallDay{hall: h, date: ld.date, start: ld.start, end: ld.end, visits: map[string]*visit{}}
		h.days[ld.date] = d
		t.due(ld.end)
	}
	return d
}

// due lowers dayDue to end.
func (t *Tracker) due(end time.Time) {
	if t.dayDue.IsZero() || end.Before(t.dayDue) {
		t.dayDue = end
	}
}

// visitOf returns the open visit of ticket on ts's day, creating one (its
// issue time unknown: the first time seen) when absent.
func (t *Tracker) visitOf(h *hallState, ticket string, ts time.Time) *visit {
	d := t.hallDay(h, ts)
	v := d.visits[ticket]
	if v == nil {
		v = &visit{day: d}
		v.Hall, v.Tier, v.Ticket, v.Issued = h.id, h.tier, ticket, ts
		d.visits[ticket] = v
	}
	return v
}

// justEnded reports whether ticket of ts's day is the one that last ended
// at w: a late duplicate of its call or start must not reopen it.
func (t *Tracker) justEnded(w *windowState, ticket string, ts time.Time) bool {
	return w.last.ticket == ticket && w.last.date == t.dayOf(ts).date
}

func (t *Tracker) setItem(v *visit, code string) {
	if v.Item == "" && code != "" {
		v.Item = code
		v.item = t.items[code]
	}
}

func (t *Tracker) issued(h *hallState, ev ingest.Event, ts time.Time) {
	if ev.Ticket == "" {
		return
	}
	d := t.hallDay(h, ts)
	v := d.visits[ev.Ticket]
	if v == nil {
		v = t.visitOf(h, ev.Ticket, ts)
	} else if ts.Before(v.Issued) {
		// The issue arrived after a call of the same ticket.
		v.Issued = ts
	}
	v.issuedSeen = true
	t.setItem(v, ev.Item)
}

func (t *Tracker) called(w *windowState, ev ingest.Event, ts time.Time, out *Facts) {
	if t.justEnded(w, ev.Ticket, ts) {
		return
	}
	v := t.visitOf(w.hall, ev.Ticket, ts)
	t.checkIssued(w, v, ts, out)
	if v.started {
		return // a call after the start is noise
	}
	if w.current != nil && w.current != v {
		t.finishCurrent(w, ts, out)
	}
	t.attach(w, v)
	v.Calls++
	if ts.After(v.Called) {
		v.Called = ts
	}
	if ev.Staff != "" {
		v.Staff = ev.Staff
	}
	t.setItem(v, ev.Item)
}

// attach makes w the window of v.
func (t *Tracker) attach(w *windowState, v *visit) {
	if v.win != nil && v.win != w && v.win.current == v {
		v.win.current = nil
	}
	v.win, v.Window, v.Department = w, w.id, w.dept
	w.current = v
}

func (t *Tracker) started(w *windowState, ev ingest.Event, ts time.Time, out *Facts) {
	if t.justEnded(w, ev.Ticket, ts) {
		return
	}
	v := t.visitOf(w.hall, ev.Ticket, ts)
	t.checkIssued(w, v, ts, out)
	if v.started {
		return
	}
	if w.current != nil && w.current != v {
		t.finishCurrent(w, ts, out)
	}
	t.attach(w, v)
	if v.Called.IsZero() {
		v.Called = ts // started without a call we saw: the start is the call
	}
	v.Started, v.started = ts, true
	if ev.Staff != "" {
		v.Staff = ev.Staff
	}
	t.setItem(v, ev.Item)
	w.lastServiceStart = ts
}

func (t *Tracker) ended(w *windowState, ev ingest.Event, ts time.Time, out *Facts) {
	if t.justEnded(w, ev.Ticket, ts) {
		return
	}
	v := t.visitOf(w.hall, ev.Ticket, ts)
	t.checkIssued(w, v, ts, out)
	t.attach(w, v)
	if v.Called.IsZero() {
		v.Called = ts
	}
	if !v.started {
		t.quality(w.hall, w, EndWithoutStart, ts, out)
		v.Started, v.started = v.Called, true
	}
	if ev.Staff != "" && v.Staff == "" {
		v.Staff = ev.Staff
	}
	t.setItem(v, ev.Item)
	if v.CaseID == "" {
		v.CaseID = ev.CaseID
	}
	v.Ended = ts
	t.emitVisit(v, Served, out)
}

// finishCurrent ends w's current visit because the window moved on at ts:
// a called ticket that never started is a no-show; a service whose end we
// never saw ends now.
func (t *Tracker) finishCurrent(w *windowState, ts time.Time, out *Facts) {
	v := w.current
	if v == nil {
		return
	}
	if v.started {
		v.Ended = ts
		t.emitVisit(v, Served, out)
		return
	}
	t.emitVisit(v, NoShow, out)
}

// emitVisit completes v's fact, appends it and forgets v.
func (t *Tracker) emitVisit(v *visit, o Outcome, out *Facts) {
	f := v.Visit
	f.Outcome = o
	if f.Department == "" && v.item != nil {
		f.Department = v.item.dept
	}
	if o != Abandoned {
		wait := f.Called.Sub(f.Issued)
		f.WaitSeconds = seconds(wait)
		target := t.DefaultTargetWait
		if v.item != nil && v.item.target > 0 {
			target = v.item.target
		}
		f.MetTarget = wait <= target
	}
	if o == Served {
		f.HandleSeconds = seconds(f.Ended.Sub(f.Called))
	} else {
		f.Started, f.Ended = time.Time{}, time.Time{}
	}
	out.Visits = append(out.Visits, f)
	if w := v.win; w != nil {
		if o == Served && w.status != StatusOpen {
			t.inferOpen(w, f.Called, f.Ended, out)
		}
		if w.current == v {
			w.current = nil
		}
		if o == Served {
			w.lastServiceEnd = f.Ended
			w.last = lastVisit{date: v.day.date, ticket: f.Ticket, item: f.Item, staff: f.Staff, caseID: f.CaseID}
		}
	}
	delete(v.day.visits, f.Ticket)
}

func seconds(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(d / time.Second)
}

func (t *Tracker) rating(h *hallState, w *windowState, ev ingest.Event, ts time.Time, out *Facts) {
	r := Rating{EventID: ev.EventID, Hall: h.id, Tier: h.tier, Window: w.id, Department: w.dept,
		Item: ev.Item, Staff: ev.Staff, Ticket: ev.Ticket, CaseID: ev.CaseID, TS: ts, Rating: uint8(ev.Rating)}
	fill := func(ticket, item, staff, caseID string) {
		if r.Ticket == "" {
			r.Ticket = ticket
		}
		if r.Item == "" {
			r.Item = item
		}
		if r.Staff == "" {
			r.Staff = staff
		}
		if r.CaseID == "" {
			r.CaseID = caseID
		}
	}
	date := t.dayOf(ts).date
	switch {
	case w.current != nil && (r.Ticket == "" || r.Ticket == w.current.Ticket):
		v := w.current
		fill(v.Ticket, v.Item, v.Staff, v.CaseID)
	case w.last.ticket != "" && w.last.date == date && (r.Ticket == "" || r.Ticket == w.last.ticket):
		l := w.last
		fill(l.ticket, l.item, l.staff, l.caseID)
	case r.Ticket != "":
		if d := h.days[date]; d != nil {
			if v := d.visits[r.Ticket]; v != nil {
				fill(v.Ticket, v.Item, v.Staff, v.CaseID)
			}
		}
	}
	out.Ratings = append(out.Ratings, r)
}

func (t *Tracker) windowOpened(w *windowState, ts time.Time) {
	if w.status == StatusOpen {
		return
	}
	w.status, w.since, w.spanStart = StatusOpen, ts, ts
	t.due(t.dayOf(ts).end)
}

// windowStopped pauses or closes w at ts: its open span ends, and a ticket
// called there that never came is a no-show (nobody is served across a
// break); a service in progress at closing ends at the close.
func (t *Tracker) windowStopped(w *windowState, status string, ts time.Time, out *Facts) {
	if v := w.current; v != nil && (!v.started || status == StatusClosed) {
		t.finishCurrent(w, ts, out)
	}
	if w.status == status || (w.status == StatusClosed && status == StatusPaused) {
		return
	}
	if w.status == StatusOpen {
		t.emitSpans(w, w.spanStart, ts, false, out)
	}
	w.status, w.since = status, ts
}

// emitSpans appends w's open time [from, to) cut at whole UTC hours.
// Inferred marks open time that inferOpen deduced from service rather than
// an opening event.
func (t *Tracker) emitSpans(w *windowState, from, to time.Time, inferred bool, out *Facts) {
	for from.Before(to) {
		end := from.Truncate(time.Hour).Add(time.Hour)
		if end.After(to) {
			end = to
		}
		out.Spans = append(out.Spans, Span{Hall: w.hall.id, Tier: w.hall.tier, Window: w.id, Department: w.dept, Start: from, End: end, Inferred: inferred})
		from = end
	}
}

// closeDays closes the hall-days and window days that ended at or before
// now, then recomputes dayDue.
func (t *Tracker) closeDays(now time.Time, out *Facts) {
	var next time.Time
	later := func(end time.Time) {
		if next.IsZero() || end.Before(next) {
			next = end
		}
	}
	for _, h := range t.sortedHalls() {
		var ended []*hallDay
		for _, d := range h.days {
			if now.Before(d.end) {
				later(d.end)
			} else {
				ended = append(ended, d)
			}
		}
		slices.SortFunc(ended, func(a, b *hallDay) int { return cmp.Compare(a.date, b.date) })
		for _, d := range ended {
			t.closeHallDay(d, out)
			delete(h.days, d.date)
		}
	}
	for _, w := range t.order {
		if w.status == StatusClosed {
			continue
		}
		end := t.dayOf(w.since).end
		if now.Before(end) {
			later(end)
			continue
		}
		if w.status == StatusOpen {
			t.emitSpans(w, w.spanStart, end, false, out)
		}
		w.status, w.since = StatusClosed, end
	}
	t.dayDue = next
}

// closeHallDay ends every visit still open on d, in issue order.
func (t *Tracker) closeHallDay(d *hallDay, out *Facts) {
	vs := make([]*visit, 0, len(d.visits))
	for _, v := range d.visits {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b *visit) int {
		if c := a.Issued.Compare(b.Issued); c != 0 {
			return c
		}
		return cmp.Compare(a.Ticket, b.Ticket)
	})
	for _, v := range vs {
		switch {
		case v.started:
			v.Ended = d.end
			t.emitVisit(v, Served, out)
		case v.Calls > 0:
			t.emitVisit(v, NoShow, out)
		default:
			t.emitVisit(v, Abandoned, out)
		}
	}
}

func (t *Tracker) sortedHalls() []*hallState {
	hs := make([]*hallState, 0, len(t.halls))
	for _, h := range t.halls {
		if len(h.days) > 0 {
			hs = append(hs, h)
		}
	}
	slices.SortFunc(hs, func(a, b *hallState) int { return cmp.Compare(a.id, b.id) })
	return hs
}
