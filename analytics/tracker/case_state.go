package tracker

import (
	"cmp"
	"slices"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// Case states.
const (
	CaseAcceptedState  = "accepted"
	CaseCompletedState = "completed"
	CaseRejectedState  = "rejected"
)

func (t *Tracker) caseAccepted(h *hallState, w *windowState, ev ingest.Event, ts time.Time, out *Facts) {
	if ev.CaseID == "" {
		return
	}
	c := CaseState{CaseID: ev.CaseID, Hall: h.id, Tier: h.tier, Window: ev.Window, Item: ev.Item,
		State: CaseAcceptedState, Accepted: ts, Version: version(ts)}
	it := t.items[ev.Item]
	switch {
	case it != nil:
		c.Department = it.dept
		c.Deadline = t.deadline(ts, it.limit)
	case w != nil:
		c.Department = w.dept
	}
	if old, ok := t.cases[c.CaseID]; ok && old.Version > c.Version {
		return // a later state of this case is already known
	}
	t.cases[c.CaseID] = c
	out.Cases = append(out.Cases, c)
	t.linkCase(h, w, ev.Ticket, c.CaseID, ts)
}

// caseClosed handles case_completed and case_rejected. A case the tracker
// never saw accepted (accepted before it started and not restored) still
// yields a row with what the event says; its Deadline is then unknown and
// OnTime false.
func (t *Tracker) caseClosed(h *hallState, w *windowState, ev ingest.Event, ts time.Time, out *Facts) {
	if ev.CaseID == "" {
		return
	}
	c, ok := t.cases[ev.CaseID]
	if !ok && ev.Type == ingest.CaseCompleted {
		t.quality(h, w, CompletedWithoutAcceptance, ts, out)
	}
	if !ok {
		c = CaseState{CaseID: ev.CaseID, Hall: h.id, Tier: h.tier, Window: ev.Window, Item: ev.Item}
		if it := t.items[ev.Item]; it != nil {
			c.Department = it.dept
		} else if w != nil {
			c.Department = w.dept
		}
	}
	c.Completed, c.Version = ts, version(ts)
	if ev.Type == ingest.CaseRejected {
		c.State, c.OnTime = CaseRejectedState, false
		t.linkCase(h, w, ev.Ticket, c.CaseID, ts)
	} else {
		c.State = CaseCompletedState
		c.OnTime = !c.Deadline.IsZero() && ts.Before(c.Deadline)
	}
	delete(t.cases, c.CaseID)
	out.Cases = append(out.Cases, c)
}

// linkCase records caseID on the visit during which it was accepted or
// rejected: the window's current visit, or the ticket named by the event.
func (t *Tracker) linkCase(h *hallState, w *windowState, ticket, caseID string, ts time.Time) {
	if w == nil {
		return
	}
	if v := w.current; v != nil && (ticket == "" || ticket == v.Ticket) {
		v.CaseID = caseID
		return
	}
	if w.last.ticket != "" && (ticket == "" || ticket == w.last.ticket) && w.last.date == t.dayOf(ts).date {
		w.last.caseID = caseID // the case event came just after service_ended
		return
	}
	if ticket != "" {
		if d := h.days[t.dayOf(ts).date]; d != nil {
			if v := d.visits[ticket]; v != nil {
				v.CaseID = caseID
			}
		}
	}
}

// deadline is WorkCalendar.Deadline, remembered per accepting day and
// limit: counting working days formats dates, too slow per event.
func (t *Tracker) deadline(accepted time.Time, days int) time.Time {
	k := deadlineKey{t.dayOf(accepted).date, days}
	d, ok := t.deadlines[k]
	if !ok {
		if len(t.deadlines) > 4096 {
			clear(t.deadlines) // bounded: a backfill walks through many days
		}
		d = t.cal.Deadline(accepted, days).UTC()
		t.deadlines[k] = d
	}
	return d
}

type deadlineKey struct{ date, days int }

func version(ts time.Time) uint64 { return uint64(ts.UnixMilli()) }

// RestoreCase loads an open case (from the database, at start) so that
// its completion is judged against its deadline. Rows that are not open
// are ignored.
func (t *Tracker) RestoreCase(c CaseState) {
	if c.State != CaseAcceptedState || c.CaseID == "" {
		return
	}
	if old, ok := t.cases[c.CaseID]; ok && old.Version > c.Version {
		return
	}
	c.Accepted, c.Deadline, c.Completed = c.Accepted.UTC(), c.Deadline.UTC(), c.Completed.UTC()
	t.cases[c.CaseID] = c
}

// OpenCases returns the accepted, not yet completed cases by deadline,
// then case id.
func (t *Tracker) OpenCases() []CaseState {
	out := make([]CaseState, 0, len(t.cases))
	for _, c := range t.cases {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b CaseState) int {
		if c := a.Deadline.Compare(b.Deadline); c != 0 {
			return c
		}
		return cmp.Compare(a.CaseID, b.CaseID)
	})
	return out
}

// Case returns the open case id; completed and rejected cases are
// forgotten once their row is out.
func (t *Tracker) Case(id string) (CaseState, bool) {
	c, ok := t.cases[id]
	return c, ok
}
