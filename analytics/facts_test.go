package analytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

func TestInsertFacts(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	require.NoError(t, s.InsertFacts(ctx, nil))
	require.NoError(t, s.InsertFacts(ctx, &tracker.Facts{}))

	f := kpiFixture()
	bad := *f
	bad.Visits = append([]tracker.Visit{{Hall: "h", Ticket: "A1", Issued: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}}, f.Visits...)
	require.ErrorIs(t, s.InsertFacts(ctx, &bad), analytics.ErrInvalidFact)
	bad = *f
	bad.Spans = []tracker.Span{{Window: "A01", Start: at(2, 1, 0), End: at(2, 1, 0)}}
	require.ErrorIs(t, s.InsertFacts(ctx, &bad), analytics.ErrInvalidFact)
	for _, table := range []string{"visits", "window_spans", "cases", "ratings"} {
		require.Zero(t, rowCount(t, s, table), "nothing of a rejected call is written to %s", table)
	}

	require.NoError(t, s.InsertFacts(ctx, f))
	require.Equal(t, uint64(len(f.Visits)), rowCount(t, s, "visits"))
	require.Equal(t, uint64(len(f.Spans)), rowCount(t, s, "window_spans"))
	require.Equal(t, uint64(len(f.Ratings)), rowCount(t, s, "ratings"))
	require.Equal(t, uint64(len(f.Cases)), rowCount(t, s, "cases"))
	require.Equal(t, uint64(7), rowCount(t, s, "completions")) // C1 C2 C3 C5 C7 C8 C9

	// The same completions again, one with a new version: not written.
	require.NoError(t, s.InsertFacts(ctx, &tracker.Facts{Cases: f.Cases[1:3]}))
	require.Equal(t, uint64(len(f.Cases)), rowCount(t, s, "cases"))
	require.Equal(t, uint64(7), rowCount(t, s, "completions"))

	// A visit's stored row: whole UTC seconds, zero times as 1970.
	var (
		outcome      string
		called       time.Time
		wait, handle uint32
		met          uint8
	)
	require.NoError(t, s.Conn().QueryRow(ctx,
		`SELECT outcome, called, wait_seconds, handle_seconds, met_target FROM visits WHERE ticket = 'T002'`).
		Scan(&outcome, &called, &wait, &handle, &met))
	require.Equal(t, "abandoned", outcome)
	require.Equal(t, int64(0), called.Unix())
	require.Zero(t, wait+handle+uint32(met))
}

// A table whose insert fails does not make the others' rows count twice:
// the rows not stored are handed back, and storing those completes the set.
func TestInsertFactsPartialFailure(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	f := kpiFixture()
	require.NoError(t, s.Conn().Exec(ctx, "RENAME TABLE ratings TO ratings_away"))
	unstored, err := analytics.InsertFactsUnstored(ctx, s, f)
	require.Error(t, err)
	require.NoError(t, s.Conn().Exec(ctx, "RENAME TABLE ratings_away TO ratings"))
	require.Equal(t, tracker.Facts{Ratings: f.Ratings}, unstored, "only the ratings are left to store")

	unstored, err = analytics.InsertFactsUnstored(ctx, s, &unstored)
	require.NoError(t, err)
	require.Zero(t, unstored.Len())
	require.Equal(t, uint64(len(f.Visits)), rowCount(t, s, "visits"))
	require.Equal(t, uint64(len(f.Spans)), rowCount(t, s, "window_spans"))
	require.Equal(t, uint64(len(f.Ratings)), rowCount(t, s, "ratings"))
	require.Equal(t, uint64(len(f.Cases)), rowCount(t, s, "cases"))
}

// rowCount is the number of rows of table.
func rowCount(t *testing.T, s *analytics.Store, table string) uint64 {
	t.Helper()
	var n uint64
	require.NoError(t, s.Conn().QueryRow(t.Context(), "SELECT count() FROM "+table).Scan(&n))
	return n
}
