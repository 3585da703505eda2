package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// DistributionQuery asks how waits or handling times were spread over a
// range: the visits whose ticket was issued in [From, To), optionally of
// one hall, tier, department, window or item.
type DistributionQuery struct {
	From, To time.Time
	// Metric is "wait" (called visits) or "handle" (served visits).
	Metric                               string
	Hall, Tier, Department, Window, Item string
	// Halls, when not nil, keeps these halls only; empty keeps none.
	Halls []string
	// BucketSeconds is the width of a bucket; 0 means 300 (5 minutes).
	BucketSeconds int
}

// DistributionBucket counts the visits with FromS <= seconds < ToS.
type DistributionBucket struct {
	FromS int64 `json:"from_s"`
	ToS   int64 `json:"to_s"`
	Count int64 `json:"count"`
}

// Distribution returns the histogram of the query's metric, buckets from 0
// up to the last non-empty one, empty buckets included (a chart shows the
// gaps). It reads the visits table, ordered by issue time, so the range
// bounds what is read.
func (s *Store) Distribution(ctx context.Context, q DistributionQuery) ([]DistributionBucket, error) {
	width := q.BucketSeconds
	if width == 0 {
		width = 300
	}
	if width < 1 || width > 86400 {
		return nil, apperr.BadParam.New(apperr.P{"param": "bucket_seconds", "value": width}, "%w: bucket of %d seconds (1 to 86400)", ErrInvalidKPIQuery, width)
	}
	if !q.From.Before(q.To) {
		return nil, apperr.BadRange.New(nil, "%w: from must be before to", ErrInvalidKPIQuery)
	}
	if q.To.Sub(q.From) > MaxKPIRange {
		return nil, apperr.RangeTooLong.New(nil, "%w: range longer than two years", ErrInvalidKPIQuery)
	}
	var col, outcome string
	switch q.Metric {
	case "wait":
		col, outcome = "wait_seconds", "outcome IN ('served', 'no_show')"
	case "handle":
		col, outcome = "handle_seconds", "outcome = 'served'"
	default:
		return nil, apperr.BadParam.New(apperr.P{"param": "metric", "value": q.Metric}, "%w: metric %q is not wait or handle", ErrInvalidKPIQuery, q.Metric)
	}
	where := []string{"issued >= toDateTime(?, 'UTC')", "issued < toDateTime(?, 'UTC')", outcome}
	args := []any{max(q.From.Unix(), 0), max(q.To.Unix(), 0)}
	for _, f := range [][2]string{{"hall", q.Hall}, {"tier", q.Tier}, {"department", q.Department}, {"`window`", q.Window}, {"item", q.Item}} {
		if f[1] != "" {
			where, args = append(where, f[0]+" = ?"), append(args, f[1])
		}
	}
	if w := hallsWhere("hall", q.Halls); w != "" {
		where = append(where, w)
	}
	rows, err := s.conn.Query(ctx, fmt.Sprintf(`SELECT toUInt64(intDiv(%s, %d)) AS b, count() FROM visits WHERE %s GROUP BY b ORDER BY b`,
		col, width, strings.Join(where, " AND ")), args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: distribution: %w", err)
	}
	defer rows.Close()
	counts := map[int64]int64{}
	var last int64 = -1
	for rows.Next() {
		var b, n uint64
		if err := rows.Scan(&b, &n); err != nil {
			return nil, fmt.Errorf("analytics: distribution: %w", err)
		}
		counts[int64(b)] = int64(n)
		last = max(last, int64(b))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: distribution: %w", err)
	}
	out := make([]DistributionBucket, 0, last+1)
	for b := int64(0); b <= last; b++ {
		out = append(out, DistributionBucket{FromS: b * int64(width), ToS: (b + 1) * int64(width), Count: counts[b]})
	}
	return out, nil
}
