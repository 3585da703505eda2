package tracker

import "time"

// WindowState is a window's live state.
type WindowState struct {
	Hall, Window, Department string
	Status                   string    // closed | open | paused
	Since                    time.Time // when Status began (zero: closed since start)
	// Serving is the ticket called or being served; nil when idle.
	Serving          *Serving
	LastServiceStart time.Time
	LastServiceEnd   time.Time
	// QueueLength counts the tickets of the window's items issued and not
	// yet called (a called ticket belongs to the window that called it).
	QueueLength int
	// OldestWaiting is the issue time of the longest-waiting of those
	// tickets (zero when none): the queue has not been empty since.
	OldestWaiting time.Time
}

// Serving is the visit at a window.
type Serving struct {
	Ticket, CaseID, Item, Staff string
	Called                      time.Time
	Started                     time.Time // zero: called, not yet started
	Calls                       int
}

// Windows returns every configured window's state, in config order.
func (t *Tracker) Windows() []WindowState {
	type key struct{ hall, item string }
	type queue struct {
		n      int
		oldest time.Time
	}
	queues := map[key]queue{}
	for _, h := range t.halls {
		for _, d := range h.days {
			for _, v := range d.visits {
				if v.Calls > 0 || v.started {
					continue
				}
				k := key{h.id, v.Item}
				q := queues[k]
				q.n++
				if q.oldest.IsZero() || v.Issued.Before(q.oldest) {
					q.oldest = v.Issued
				}
				queues[k] = q
			}
		}
	}
	out := make([]WindowState, 0, len(t.order))
	for _, w := range t.order {
		s := WindowState{Hall: w.hall.id, Window: w.id, Department: w.dept, Status: w.status, Since: w.since,
			LastServiceStart: w.lastServiceStart, LastServiceEnd: w.lastServiceEnd}
		if v := w.current; v != nil {
			s.Serving = &Serving{Ticket: v.Ticket, CaseID: v.CaseID, Item: v.Item, Staff: v.Staff,
				Called: v.Called, Started: v.Started, Calls: v.Calls}
		}
		for _, it := range w.items {
			q := queues[key{w.hall.id, it}]
			s.QueueLength += q.n
			if q.n > 0 && (s.OldestWaiting.IsZero() || q.oldest.Before(s.OldestWaiting)) {
				s.OldestWaiting = q.oldest
			}
		}
		out = append(out, s)
	}
	return out
}
