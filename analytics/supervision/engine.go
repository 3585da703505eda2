package supervision

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// pruneAfter is how long the IDs of ticket, window, camera and rating
// alerts are remembered: their subjects cannot recur after their day or
// occurrence. Case alert IDs are kept while the case is open.
const pruneAfter = 72 * time.Hour

// Engine evaluates the supervision rules over its own live tracker.
//
// Engine methods are safe for concurrent use: one mutex guards the engine
// and its tracker. Readers (the live wall) go through Windows, Waiting,
// OpenCases and Case, which hold that lock; Tracker gives the tracker
// itself for use while nothing else calls the engine (start-up, tests).
type Engine struct {
	// Rules are the thresholds; zero fields take their defaults. Set them
	// before the first call.
	Rules Rules
	// Now is the clock for Raise without a time and for MarkRaised;
	// default time.Now. Time rules take their time from Tick.
	Now func() time.Time

	mu         sync.Mutex
	tr         *tracker.Tracker
	loc        *time.Location
	cal        *config.WorkCalendar
	items      map[string]itemInfo
	windowHall map[string]string
	// raised holds the IDs raised (or marked) and when.
	raised    map[string]time.Time
	lastPrune time.Time
	// cases schedules the open cases by their next threshold.
	cases    caseHeap
	caseByID map[string]*caseWatch
	// ticketLevel is the long-wait level reached by each waiting ticket,
	// overrun the services already found over their limit: both spare
	// building IDs on every tick.
	ticketLevel map[visitKey]int
	overrun     map[visitKey]bool
	// unattended holds the windows whose current unattended episode has
	// been raised.
	unattended map[string]bool
	cameras    map[string]*cameraState
	facts      tracker.Facts // reused buffer
	starts     map[startKey]time.Time
}

type itemInfo struct {
	name   string
	limit  int
	target time.Duration // 0: Rules.DefaultTargetWait
}

// visitKey names a visit without its local date: the issue (or call)
// instant is unique enough among a hall's open tickets.
type visitKey struct {
	hall, ticket string
	at           int64 // unix ms of the issue (long wait) or call (overrun)
}

type cameraState struct {
	offline bool
	since   time.Time
	raised  bool
}

// NewEngine returns an engine with its own tracker of cfg.
func NewEngine(cfg *config.Config, rules Rules) *Engine {
	e := &Engine{
		Rules:       rules,
		Now:         time.Now,
		tr:          tracker.New(cfg),
		loc:         cfg.Location(),
		cal:         cfg.WorkCalendar(),
		items:       map[string]itemInfo{},
		windowHall:  map[string]string{},
		raised:      map[string]time.Time{},
		caseByID:    map[string]*caseWatch{},
		ticketLevel: map[visitKey]int{},
		overrun:     map[visitKey]bool{},
		unattended:  map[string]bool{},
		cameras:     map[string]*cameraState{},
		starts:      map[startKey]time.Time{},
	}
	for _, it := range cfg.Items {
		e.items[it.Code] = itemInfo{name: it.Name, limit: it.TimeLimitDays, target: time.Duration(it.TargetWaitMinutes) * time.Minute}
	}
	for _, ref := range cfg.Windows() {
		e.windowHall[ref.Window.ID] = ref.Hall.ID
	}
	return e
}

// rules returns the effective rules and keeps the tracker's default
// target wait in step with them. Called with mu held.
func (e *Engine) rules() Rules {
	r := e.Rules.withDefaults()
	e.tr.DefaultTargetWait = r.DefaultTargetWait
	return r
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Observe applies events to the live tracker and returns the alerts they
// raise: bad ratings, services that ended over the handling limit (if no
// tick caught them in progress) and cases completed past their deadline
// whose overdue alert was not raised yet (a deadline that passed while the
// server was down still counts, with RaisedAt the deadline).
func (e *Engine) Observe(evs []ingest.Event) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rules()
	var out []Alert
	for _, ev := range evs {
		e.resetFacts()
		e.tr.Apply(ev, &e.facts)
		e.onFacts(r, &out)
	}
	return out
}

func (e *Engine) resetFacts() {
	f := &e.facts
	f.Visits, f.Spans, f.Cases, f.Ratings, f.Quality = f.Visits[:0], f.Spans[:0], f.Cases[:0], f.Ratings[:0], f.Quality[:0]
}

// onFacts watches new cases and raises the event-triggered alerts.
func (e *Engine) onFacts(r Rules, out *[]Alert) {
	for _, c := range e.facts.Cases {
		if c.State == tracker.CaseAcceptedState {
			e.watch(c)
			continue
		}
		if c.State == tracker.CaseCompletedState && !c.OnTime && !c.Deadline.IsZero() {
			e.raise(e.caseAlert(KindCaseOverdue, c, c.Deadline), out)
		}
		e.unwatch(c.CaseID)
	}
	for _, rt := range e.facts.Ratings {
		if int(rt.Rating) > r.BadRatingAtMost {
			continue
		}
		sev := Yellow
		if rt.Rating <= 1 {
			sev = Red
		}
		ticket := rt.Ticket
		if ticket == "" {
			ticket = "-"
		}
		e.raise(Alert{ID: alertID(KindBadRating, rt.EventID), Kind: KindBadRating, Severity: sev,
			Hall: rt.Hall, Window: rt.Window, CaseID: rt.CaseID, Ticket: rt.Ticket, Item: rt.Item,
			Message:   fmt.Sprintf("窗口 %s 收到差评（%d 分），号 %s，请回访", rt.Window, rt.Rating, ticket),
			MessageEN: fmt.Sprintf("Window %s got a bad rating (%d), ticket %s: follow up", rt.Window, rt.Rating, ticket),
			RaisedAt:  rt.TS}, out)
	}
	for _, v := range e.facts.Visits {
		ck := visitKey{v.Hall, v.Ticket, v.Called.UnixMilli()}
		if v.Outcome == tracker.Served && v.Ended.Sub(v.Called) > r.MaxHandling && !e.overrun[ck] {
			e.raise(e.overrunAlert(v.Hall, v.Window, v.Ticket, v.Item, v.CaseID, v.Called, r), out)
		}
		delete(e.overrun, ck)
		delete(e.ticketLevel, visitKey{v.Hall, v.Ticket, v.Issued.UnixMilli()})
	}
}

// raise appends a unless its ID was raised before.
func (e *Engine) raise(a Alert, out *[]Alert) {
	if _, dup := e.raised[a.ID]; dup {
		return
	}
	e.raised[a.ID] = a.RaisedAt
	*out = append(*out, a)
}

// Tick evaluates the time rules at now: long waits, unattended windows,
// services overrunning while in progress, cases due soon or overdue (in
// working days of the configuration's calendar) and cameras offline too
// long. It also advances the tracker (closing ended days). The alerts come
// ordered by RaisedAt, then ID.
//
// A condition noticed late, when a higher level of it is already reached
// (a case already overdue, a ticket already past twice its target), raises
// only the higher level: the lower one would be stale on arrival.
func (e *Engine) Tick(now time.Time) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rules()
	var out []Alert
	e.resetFacts()
	e.tr.Advance(now, &e.facts)
	e.onFacts(r, &out)
	e.tickCases(now, &out)
	e.tickWaiting(now, r, &out)
	e.tickWindows(now, r, &out)
	for w, c := range e.cameras {
		e.checkCamera(w, c, now, r, &out)
	}
	e.prune(now)
	slices.SortFunc(out, func(a, b Alert) int {
		if c := a.RaisedAt.Compare(b.RaisedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

func (e *Engine) tickWaiting(now time.Time, r Rules, out *[]Alert) {
	for _, w := range e.tr.Waiting() {
		if w.Called {
			continue
		}
		target := r.DefaultTargetWait
		it, known := e.items[w.Item]
		if known && it.target > 0 {
			target = it.target
		}
		wait := now.Sub(w.Issued)
		level := 0
		switch {
		case wait > 2*target:
			level = 2
		case wait > target:
			level = 1
		}
		k := visitKey{w.Hall, w.Ticket, w.Issued.UnixMilli()}
		if level <= e.ticketLevel[k] {
			continue
		}
		e.ticketLevel[k] = level
		sev, limit := Yellow, target
		if level == 2 {
			sev, limit = Red, 2*target
		}
		name := w.Item
		if known && it.name != "" {
			name = it.name
		}
		mins := int(limit / time.Minute)
		e.raise(Alert{
			ID:   alertID(KindLongWait, sev, w.Hall, w.Issued.In(e.loc).Format("20060102"), w.Ticket),
			Kind: KindLongWait, Severity: sev, Hall: w.Hall, Ticket: w.Ticket, Item: w.Item,
			Message:   fmt.Sprintf("%s 号（%s）已等候超过 %d 分钟", w.Ticket, name, mins),
			MessageEN: fmt.Sprintf("Ticket %s (%s) has waited over %d min", w.Ticket, w.Item, mins),
			RaisedAt:  w.Issued.Add(limit)}, out)
	}
}

func (e *Engine) tickWindows(now time.Time, r Rules, out *[]Alert) {
	for _, w := range e.tr.Windows() {
		s := w.Serving
		if s != nil && !s.Started.IsZero() {
			k := visitKey{w.Hall, s.Ticket, s.Called.UnixMilli()}
			if now.Sub(s.Called) > r.MaxHandling && !e.overrun[k] {
				e.overrun[k] = true
				e.raise(e.overrunAlert(w.Hall, w.Window, s.Ticket, s.Item, s.CaseID, s.Called, r), out)
			}
		}
		// Unattended: open, tickets waiting for it, nobody served or
		// called. The episode starts at the latest of: opened, last
		// service start or end, last call, the oldest waiting ticket's
		// issue (the queue has not been empty since).
		if w.Status != tracker.StatusOpen || w.QueueLength == 0 || (s != nil && !s.Started.IsZero()) {
			delete(e.unattended, w.Window)
			continue
		}
		onset := latest(w.Since, w.LastServiceStart, w.LastServiceEnd, w.OldestWaiting)
		if s != nil {
			onset = latest(onset, s.Called)
		}
		if now.Sub(onset) < r.UnattendedAfter || e.unattended[w.Window] {
			continue
		}
		e.unattended[w.Window] = true
		mins := int(r.UnattendedAfter / time.Minute)
		e.raise(Alert{ID: alertID(KindUnattended, w.Window, stamp(onset)), Kind: KindUnattended, Severity: Yellow,
			Hall: w.Hall, Window: w.Window,
			Message:   fmt.Sprintf("窗口 %s 有 %d 人等候，已 %d 分钟无人办理", w.Window, w.QueueLength, mins),
			MessageEN: fmt.Sprintf("Window %s: %d waiting, nobody served for %d min", w.Window, w.QueueLength, mins),
			RaisedAt:  onset.Add(r.UnattendedAfter)}, out)
	}
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

func (e *Engine) overrunAlert(hall, window, ticket, item, caseID string, called time.Time, r Rules) Alert {
	mins := int(r.MaxHandling / time.Minute)
	return Alert{ID: alertID(KindStepOverrun, hall, called.In(e.loc).Format("20060102"), ticket),
		Kind: KindStepOverrun, Severity: Yellow, Hall: hall, Window: window, Ticket: ticket, Item: item, CaseID: caseID,
		Message:   fmt.Sprintf("窗口 %s 办理 %s 号已超过 %d 分钟", window, ticket, mins),
		MessageEN: fmt.Sprintf("Window %s has served ticket %s for over %d min", window, ticket, mins),
		RaisedAt:  called.Add(r.MaxHandling)}
}

// CameraState records a camera's state at a time (each health report may
// call it) and returns the offline alert if the camera has now been
// offline for Rules.CameraOfflineAfter. Back online clears the condition:
// a later outage is a new one, with its own ID.
func (e *Engine) CameraState(window string, online bool, at time.Time) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.rules()
	c := e.cameras[window]
	if c == nil {
		c = &cameraState{}
		e.cameras[window] = c
	}
	if online {
		*c = cameraState{}
		return nil
	}
	if !c.offline {
		*c = cameraState{offline: true, since: at}
	}
	var out []Alert
	e.checkCamera(window, c, at, r, &out)
	return out
}

func (e *Engine) checkCamera(window string, c *cameraState, now time.Time, r Rules, out *[]Alert) {
	if !c.offline || c.raised || now.Sub(c.since) < r.CameraOfflineAfter {
		return
	}
	c.raised = true
	secs := int(r.CameraOfflineAfter / time.Second)
	e.raise(Alert{ID: alertID(KindCameraOffline, window, stamp(c.since)), Kind: KindCameraOffline, Severity: Red,
		Hall: e.windowHall[window], Window: window,
		Message:   fmt.Sprintf("窗口 %s 摄像头离线超过 %d 秒", window, secs),
		MessageEN: fmt.Sprintf("Window %s camera offline for over %d s", window, secs),
		RaisedAt:  c.since.Add(r.CameraOfflineAfter)}, out)
}

// Raise raises a condition detected elsewhere (spool_full, disk_full)
// once: an alert whose ID was raised before returns nil. The ID should
// name the kind, the subject and the occurrence; when empty it is made of
// the kind, hall, window and RaisedAt. RaisedAt defaults to Now.
func (e *Engine) Raise(a Alert) []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a.RaisedAt.IsZero() {
		a.RaisedAt = e.now()
	}
	if a.ID == "" {
		a.ID = alertID(a.Kind, a.Hall, a.Window, stamp(a.RaisedAt))
	}
	var out []Alert
	e.raise(a, &out)
	return out
}

// MarkRaised records IDs already raised (stored before a restart), so
// that replaying their conditions raises nothing.
func (e *Engine) MarkRaised(ids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for _, id := range ids {
		if _, ok := e.raised[id]; !ok {
			e.raised[id] = now
		}
	}
}

// prune forgets, at most hourly, the IDs of alerts that cannot recur.
func (e *Engine) prune(now time.Time) {
	if now.Sub(e.lastPrune) < time.Hour {
		return
	}
	e.lastPrune = now
	for id, at := range e.raised {
		if now.Sub(at) > pruneAfter && !strings.HasPrefix(id, "case_") {
			delete(e.raised, id)
		}
	}
}

// Tracker returns the engine's tracker. It is guarded by the engine's
// lock: use it only while no other goroutine calls the engine (start-up,
// tests); live readers use Windows, Waiting, OpenCases and Case.
func (e *Engine) Tracker() *tracker.Tracker { return e.tr }

// Windows is Tracker().Windows() under the engine's lock.
func (e *Engine) Windows() []tracker.WindowState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tr.Windows()
}

// Waiting is Tracker().Waiting() under the engine's lock.
func (e *Engine) Waiting() []tracker.Waiting {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tr.Waiting()
}

// OpenCases is Tracker().OpenCases() under the engine's lock.
func (e *Engine) OpenCases() []tracker.CaseState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tr.OpenCases()
}

// Case is Tracker().Case(id) under the engine's lock.
func (e *Engine) Case(id string) (tracker.CaseState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.tr.Case(id)
}

// RestoreCase loads an open case at start (into the tracker and the
// deadline schedule).
func (e *Engine) RestoreCase(c tracker.CaseState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tr.RestoreCase(c)
	if _, ok := e.tr.Case(c.CaseID); ok {
		e.watch(c)
	}
}
