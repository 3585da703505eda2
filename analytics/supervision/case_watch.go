package supervision

import (
	"container/heap"
	"fmt"
	"math"
	"time"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

// caseWatch is an open case waiting for its next threshold: the yellow
// warning, then the deadline.
type caseWatch struct {
	c      tracker.CaseState
	warnAt time.Time
	warned bool      // past the yellow stage
	next   time.Time // warnAt, then Deadline
	index  int       // in the heap
}

// caseHeap orders watches by next threshold, so a tick looks only at the
// cases whose threshold has come.
type caseHeap []*caseWatch

func (h caseHeap) Len() int           { return len(h) }
func (h caseHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h caseHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *caseHeap) Push(x any) {
	w := x.(*caseWatch)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *caseHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	w.index = -1
	return w
}

// watch schedules an accepted case (again, if it was re-accepted).
func (e *Engine) watch(c tracker.CaseState) {
	if c.Deadline.IsZero() {
		return // no known limit: nothing to supervise
	}
	e.drop(c.CaseID)
	w := &caseWatch{c: c, warnAt: e.warnAt(c)}
	w.next = w.warnAt
	e.caseByID[c.CaseID] = w
	heap.Push(&e.cases, w)
}

// unwatch drops a case that is no longer open and forgets its alert IDs:
// a closed case raises nothing more.
func (e *Engine) unwatch(id string) {
	e.drop(id)
	delete(e.raised, alertID(KindCaseDueSoon, id))
	delete(e.raised, alertID(KindCaseOverdue, id))
}

// drop takes a case off the schedule.
func (e *Engine) drop(id string) {
	if w, ok := e.caseByID[id]; ok {
		if w.index >= 0 {
			heap.Remove(&e.cases, w.index)
		}
		delete(e.caseByID, id)
	}
}

// warnAt is when c turns yellow: the earlier of the moment the share of
// its limit has passed (working days of 24 h after the accepting day) and
// the start of the working day from which only CaseWarnWorkdays remain.
func (e *Engine) warnAt(c tracker.CaseState) time.Time {
	if c.Accepted.IsZero() {
		return c.Deadline
	}
	r := e.Rules.withDefaults()
	limit := e.items[c.Item].limit
	if limit <= 0 {
		limit = e.cal.WorkdaysBetween(c.Accepted, c.Deadline.Add(-time.Nanosecond))
	}
	byDays := c.Accepted
	if k := limit - r.CaseWarnWorkdays + 1; k > 0 {
		byDays = e.workdayStart(c.Accepted, k)
	}
	s := r.CaseWarnShare * float64(limit)
	whole := math.Floor(s)
	byShare := e.workdayStart(c.Accepted, int(whole)+1).Add(time.Duration((s - whole) * float64(24*time.Hour)))
	at := byDays
	if byShare.Before(at) {
		at = byShare
	}
	if at.Before(c.Accepted) {
		at = c.Accepted
	}
	if at.After(c.Deadline) {
		at = c.Deadline
	}
	return at.UTC()
}

// workdayStart is the local midnight starting the k-th working day after
// the day of accepted.
// Remembered per accepting day and k: counting working days formats
// dates, too slow for every accepted case.
func (e *Engine) workdayStart(accepted time.Time, k int) time.Time {
	y, m, d := accepted.In(e.loc).Date()
	key := startKey{y*10000 + int(m)*100 + d, k}
	if t, ok := e.starts[key]; ok {
		return t
	}
	if len(e.starts) > 4096 {
		clear(e.starts)
	}
	end := e.cal.Deadline(accepted, k).In(e.loc)
	t := time.Date(end.Year(), end.Month(), end.Day()-1, 0, 0, 0, 0, e.loc).UTC()
	e.starts[key] = t
	return t
}

type startKey struct{ date, k int }

// tickCases raises the thresholds that have come.
func (e *Engine) tickCases(now time.Time, out *[]Alert) {
	for len(e.cases) > 0 && !e.cases[0].next.After(now) {
		w := e.cases[0]
		if !w.warned {
			w.warned, w.next = true, w.c.Deadline
			if now.Before(w.c.Deadline) {
				e.raise(e.caseAlert(KindCaseDueSoon, w.c, w.warnAt), out)
			}
			heap.Fix(&e.cases, 0)
			continue
		}
		e.raise(e.caseAlert(KindCaseOverdue, w.c, w.c.Deadline), out)
		heap.Pop(&e.cases)
		delete(e.caseByID, w.c.CaseID) // still open; the raised ID stays until it closes
	}
}

func (e *Engine) caseAlert(kind string, c tracker.CaseState, at time.Time) Alert {
	day := c.Deadline.In(e.loc).Add(-time.Nanosecond).Format(time.DateOnly) // the last working day
	a := Alert{ID: alertID(kind, c.CaseID), Kind: kind, Hall: c.Hall, Window: c.Window, CaseID: c.CaseID, Item: c.Item, RaisedAt: at}
	if kind == KindCaseOverdue {
		a.Severity = Red
		a.Message = fmt.Sprintf("办件 %s 已超期（期限 %s）", c.CaseID, day)
		a.MessageEN = fmt.Sprintf("Case %s is overdue (due %s)", c.CaseID, day)
	} else {
		a.Severity = Yellow
		a.Message = fmt.Sprintf("办件 %s 即将超期（期限 %s）", c.CaseID, day)
		a.MessageEN = fmt.Sprintf("Case %s is due soon (due %s)", c.CaseID, day)
	}
	return a
}
