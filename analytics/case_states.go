package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

// caseStateColumns reads a cases row (the latest version per case, FINAL)
// in tracker.CaseState's field order.
const caseStateColumns = "case_id, hall, tier, `window`, department, item, state, accepted, deadline, completed, on_time, version"

// externalCaseLookupTable carries the case ids CaseStates looks up.
const externalCaseLookupTable = "_sunlight_case_lookup"

// CaseStates returns the current state of each of the cases ids names
// that is known (in no particular order; unknown ids are left out).
func (s *Store) CaseStates(ctx context.Context, ids []string) ([]tracker.CaseState, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	t, err := newExternalTable(externalCaseLookupTable, []column{{"case_id", "String"}})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := t.Append(id); err != nil {
			return nil, fmt.Errorf("analytics: case states: %w", err)
		}
	}
	return s.queryCaseStates(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)),
		"SELECT "+caseStateColumns+" FROM cases FINAL WHERE case_id IN (SELECT case_id FROM "+externalCaseLookupTable+")")
}

// OpenCaseStates returns every case accepted and not completed or
// rejected, for the supervision engine's deadline watch.
func (s *Store) OpenCaseStates(ctx context.Context) ([]tracker.CaseState, error) {
	return s.queryCaseStates(ctx, "SELECT "+caseStateColumns+" FROM cases FINAL WHERE state = 'accepted'")
}

func (s *Store) queryCaseStates(ctx context.Context, query string) ([]tracker.CaseState, error) {
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("analytics: case states: %w", err)
	}
	defer rows.Close()
	var out []tracker.CaseState
	for rows.Next() {
		var (
			c                             tracker.CaseState
			accepted, deadline, completed time.Time
			onTime                        uint8
		)
		if err := rows.Scan(&c.CaseID, &c.Hall, &c.Tier, &c.Window, &c.Department, &c.Item, &c.State,
			&accepted, &deadline, &completed, &onTime, &c.Version); err != nil {
			return nil, fmt.Errorf("analytics: case states: %w", err)
		}
		c.Accepted, c.Deadline, c.Completed = zeroEpoch(accepted), zeroEpoch(deadline), zeroEpoch(completed)
		c.OnTime = onTime == 1
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: case states: %w", err)
	}
	return out, nil
}

// zeroEpoch turns the 1970-01-01 that stands for "no time" back into the
// zero time, and the rest into UTC.
func zeroEpoch(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t.UTC()
}
