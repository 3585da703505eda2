package analytics

import (
	"context"
	"fmt"
	"time"
)

// RecordedCase is a case whose service at a window was recorded, for an
// auditor looking for one: the service (of its latest visit) and how much
// of it the window's recording covers.
type RecordedCase struct {
	CaseID string    `json:"case_id"`
	Hall   string    `json:"hall"`
	Window string    `json:"window"`
	Start  time.Time `json:"start"` // the call (handling is end − call)
	End    time.Time `json:"end"`
	// Recorded is the share of [Start, End) the segments cover, in (0, 1].
	Recorded float64 `json:"recorded"`
}

// recordedCaseCandidates bounds the served visits RecentRecordedCases
// looks at for each case it returns.
const recordedCaseCandidates = 5

// RecentRecordedCases returns up to limit cases served since since, the
// latest service end first, whose service the window's recording covers
// at least in part. It reads the served visits with a case (one query)
// and the segments of their windows (one query per window), not each
// case's timeline.
func (s *Store) RecentRecordedCases(ctx context.Context, since time.Time, limit int) ([]RecordedCase, error) {
	return s.RecentRecordedCasesIn(ctx, since, limit, nil)
}

// RecentRecordedCasesIn is RecentRecordedCases of the given halls only
// (nil: every hall; empty: none).
func (s *Store) RecentRecordedCasesIn(ctx context.Context, since time.Time, limit int, halls []string) ([]RecordedCase, error) {
	if limit <= 0 {
		return nil, nil
	}
	hallCond := ""
	if w := hallsWhere("hall", halls); w != "" {
		hallCond = " AND " + w
	}
	// Visits are ordered by issue time; a visit served since since was
	// issued at most a day before.
	rows, err := s.conn.Query(ctx, "SELECT case_id, hall, `window`, called, ended FROM visits"+
		" WHERE outcome = 'served' AND case_id != '' AND issued >= toDateTime(?, 'UTC') AND ended >= toDateTime(?, 'UTC')"+hallCond+
		" ORDER BY ended DESC, case_id LIMIT ?",
		max(since.Add(-24*time.Hour).Unix(), 0), max(since.Unix(), 0), limit*recordedCaseCandidates)
	if err != nil {
		return nil, fmt.Errorf("analytics: recent recorded cases: %w", err)
	}
	var visits []RecordedCase
	seen := map[string]bool{}
	for rows.Next() {
		var v RecordedCase
		if err := rows.Scan(&v.CaseID, &v.Hall, &v.Window, &v.Start, &v.End); err != nil {
			rows.Close()
			return nil, fmt.Errorf("analytics: recent recorded cases: %w", err)
		}
		if !seen[v.CaseID] && v.End.After(v.Start) { // the case's latest service
			seen[v.CaseID] = true
			visits = append(visits, v)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: recent recorded cases: %w", err)
	}

	type span struct{ from, to time.Time }
	windows := map[string]span{}
	for _, v := range visits {
		sp, ok := windows[v.Window]
		if !ok || v.Start.Before(sp.from) {
			sp.from = v.Start
		}
		if v.End.After(sp.to) {
			sp.to = v.End
		}
		windows[v.Window] = sp
	}
	segs := map[string][]SegmentRow{}
	for w, sp := range windows {
		if segs[w], err = s.SegmentsBetween(ctx, w, sp.from, sp.to); err != nil {
			return nil, err
		}
	}
	now := s.now()
	out := []RecordedCase{}
	for _, v := range visits {
		var covered time.Duration
		for _, sg := range segs[v.Window] {
			end := sg.End
			if !sg.Closed && !end.After(sg.Start) {
				end = now // still being written
			}
			from, to := sg.Start, end // the overlap with the service
			if v.Start.After(from) {
				from = v.Start
			}
			if v.End.Before(to) {
				to = v.End
			}
			if d := to.Sub(from); d > 0 {
				covered += d
			}
		}
		if covered <= 0 {
			continue
		}
		v.Recorded = min(1, covered.Seconds()/v.End.Sub(v.Start).Seconds())
		v.Start, v.End = v.Start.UTC(), v.End.UTC()
		out = append(out, v)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
