package tracker

import "time"

// maxInferredGap is the longest pause between two services that an
// inferred open stretch bridges: a window that sent no window_opened is
// taken as open from a visit's call to the end of its last visit, but a
// longer gap (lunch, a window left for the afternoon) is not counted as
// open time.
const maxInferredGap = 30 * time.Minute

// inferOpen records the open time implied by a visit served at w while
// w was not open by its own events, from the visit's call to its end.
// Many queue system integrations never send window_opened: without this
// their windows would have service but no open time (negative idle, no
// throughput). The stretch continues from the end of the previous
// inferred one when the gap is at most maxInferredGap on the same local
// day, so idle time between visits counts; time already inferred or
// before the window's last explicit pause or close is not counted twice.
func (t *Tracker) inferOpen(w *windowState, from, to time.Time, out *Facts) {
	if from.IsZero() || !to.After(from) {
		return
	}
	if w.status != StatusOpen && from.Before(w.since) {
		from = w.since // the window's own events had it open until then
	}
	if last := w.inferredTo; !last.IsZero() {
		switch {
		case from.Before(last):
			from = last // already counted
		case from.Sub(last) <= maxInferredGap && t.dayOf(from).date == t.dayOf(last).date:
			from = last // the idle time between two services
		}
	}
	if !to.After(from) {
		return
	}
	t.emitSpans(w, from, to, true, out)
	w.inferredTo = to
}
