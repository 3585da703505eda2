package tracker

import (
	"cmp"
	"slices"
	"time"
)

// Waiting is a ticket issued and not yet served: uncalled, or called but
// not started (Called true).
type Waiting struct {
	Hall, Ticket, Item string
	Issued             time.Time
	Called             bool
	Window             string    // the calling window when Called
	LastCall           time.Time // when Called
}

// Waiting returns the waiting tickets by issue time, then hall and ticket.
func (t *Tracker) Waiting() []Waiting {
	var out []Waiting
	for _, h := range t.halls {
		for _, d := range h.days {
			for _, v := range d.visits {
				if v.started {
					continue
				}
				out = append(out, Waiting{Hall: h.id, Ticket: v.Ticket, Item: v.Item, Issued: v.Issued,
					Called: v.Calls > 0, Window: v.Window, LastCall: v.Called})
			}
		}
	}
	slices.SortFunc(out, func(a, b Waiting) int {
		if c := a.Issued.Compare(b.Issued); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Hall, b.Hall); c != 0 {
			return c
		}
		return cmp.Compare(a.Ticket, b.Ticket)
	})
	return out
}
