package analytics

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// DefaultLateAfter is how long after its time an event must arrive to be
// counted late (QualityQuery.LateAfter).
const DefaultLateAfter = time.Hour

// QualityQuery asks for the data-quality signals of the events of
// [From, To), optionally of one hall.
type QualityQuery struct {
	From, To time.Time
	Hall     string
	// Halls, when not nil, keeps these halls only; empty keeps none.
	Halls []string
	// LateAfter: an event stored more than this after its time is late (a
	// site that was offline); 0 means DefaultLateAfter.
	LateAfter time.Duration
}

// Late is the query's LateAfter, or DefaultLateAfter when it is not set.
func (q QualityQuery) Late() time.Duration {
	if q.LateAfter <= 0 {
		return DefaultLateAfter
	}
	return q.LateAfter
}

// QualityRow is what one window's stream (Window "" for a hall's events
// without a window, such as tickets) showed over the range. The partner
// and order signals are counted by the hour of the event that showed them
// (tracker.Quality); Events and Late come from the events themselves.
type QualityRow struct {
	Hall   string `json:"hall"`
	Window string `json:"window"`
	// Events is how many events the range holds.
	Events uint64 `json:"events"`
	// EndWithoutStart … OutOfOrder count tracker.QualityKind's signals.
	EndWithoutStart            uint64 `json:"end_without_start"`
	CallWithoutTicket          uint64 `json:"call_without_ticket"`
	CompletedWithoutAcceptance uint64 `json:"completed_without_acceptance"`
	OutOfOrder                 uint64 `json:"out_of_order"`
	// Late counts the events stored more than LateAfter after their time.
	Late uint64 `json:"late"`
}

// Quality returns the signals per hall and window, in hall and window
// order; a window with no event in the range is absent.
func (s *Store) Quality(ctx context.Context, q QualityQuery) ([]QualityRow, error) {
	if !q.From.Before(q.To) {
		return nil, apperr.BadRange.New(nil, "%w: from must be before to", ErrInvalidKPIQuery)
	}
	if q.To.Sub(q.From) > MaxKPIRange {
		return nil, apperr.RangeTooLong.New(nil, "%w: range longer than two years", ErrInvalidKPIQuery)
	}
	late := q.Late()
	from, to := max(q.From.Unix(), 0), max(q.To.Unix(), 0)
	hallWhere, args := "", []any{from, to}
	if q.Hall != "" {
		hallWhere, args = " AND hall = ?", append(args, q.Hall)
	}
	if w := hallsWhere("hall", q.Halls); w != "" {
		hallWhere += " AND " + w
	}
	type key struct{ hall, window string }
	rows := map[key]*QualityRow{}
	row := func(hall, window string) *QualityRow {
		k := key{hall, window}
		if rows[k] == nil {
			rows[k] = &QualityRow{Hall: hall, Window: window}
		}
		return rows[k]
	}
	// Two small reads, one after the other: both fill rows.
	res, err := s.conn.Query(ctx, "SELECT hall, `window`, count(), countIf(toUInt32(received_at) > toUInt32(ts) + ?) FROM events"+
		" WHERE ts >= toDateTime(?, 'UTC') AND ts < toDateTime(?, 'UTC')"+hallWhere+" GROUP BY hall, `window`",
		append([]any{uint32(late / time.Second)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("analytics: quality: events: %w", err)
	}
	for res.Next() {
		var hall, window string
		var n, lateN uint64
		if err := res.Scan(&hall, &window, &n, &lateN); err != nil {
			res.Close()
			return nil, fmt.Errorf("analytics: quality: events: %w", err)
		}
		r := row(hall, window)
		r.Events, r.Late = n, lateN
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("analytics: quality: events: %w", err)
	}
	// Signals are stored by the hour: the range's first hour counts whole.
	res, err = s.conn.Query(ctx, "SELECT hall, `window`, kind, sum(events) FROM data_quality"+
		" WHERE bucket >= toStartOfHour(toDateTime(?, 'UTC')) AND bucket < toDateTime(?, 'UTC')"+hallWhere+
		" GROUP BY hall, `window`, kind", args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: quality: data_quality: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var hall, window, kind string
		var n uint64
		if err := res.Scan(&hall, &window, &kind, &n); err != nil {
			return nil, fmt.Errorf("analytics: quality: data_quality: %w", err)
		}
		r := row(hall, window)
		switch tracker.QualityKind(kind) {
		case tracker.EndWithoutStart:
			r.EndWithoutStart += n
		case tracker.CallWithoutTicket:
			r.CallWithoutTicket += n
		case tracker.CompletedWithoutAcceptance:
			r.CompletedWithoutAcceptance += n
		case tracker.OutOfOrder:
			r.OutOfOrder += n
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("analytics: quality: data_quality: %w", err)
	}
	out := make([]QualityRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Hall != out[j].Hall {
			return out[i].Hall < out[j].Hall
		}
		return out[i].Window < out[j].Window
	})
	return out, nil
}
