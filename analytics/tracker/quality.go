package tracker

import "time"

// quality appends a data-quality signal of hall h (and window w, if any).
func (t *Tracker) quality(h *hallState, w *windowState, kind QualityKind, ts time.Time, out *Facts) {
	q := Quality{Hall: h.id, Kind: kind, TS: ts}
	if w != nil {
		q.Window = w.id
	}
	out.Quality = append(out.Quality, q)
}

// checkOrder reports an event older than the latest its window (or its
// hall, for an event without a window) sent before it. A second of slack
// allows for clocks that round.
func (t *Tracker) checkOrder(h *hallState, w *windowState, ts time.Time, out *Facts) {
	last := &h.lastTS
	if w != nil {
		last = &w.lastTS
	}
	if ts.Before(last.Add(-time.Second)) {
		t.quality(h, w, OutOfOrder, ts, out)
		return
	}
	if ts.After(*last) {
		*last = ts
	}
}

// checkIssued reports, once per visit, a ticket served at w whose
// ticket_issued never came.
func (t *Tracker) checkIssued(w *windowState, v *visit, ts time.Time, out *Facts) {
	if v.issuedSeen || v.flagged {
		return
	}
	v.flagged = true
	t.quality(w.hall, w, CallWithoutTicket, ts, out)
}
