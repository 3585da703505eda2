package analytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/supervision"
)

// TestHallsFilter: Halls (a user's scope) on the distribution and alert
// queries keeps the listed halls as Hall does for one, and an empty
// list keeps none.
func TestHallsFilter(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	require.NoError(t, s.InsertFacts(ctx, kpiFixture()))
	total := func(bs []analytics.DistributionBucket) (n int64) {
		for _, b := range bs {
			n += b.Count
		}
		return n
	}
	dist := func(q analytics.DistributionQuery) []analytics.DistributionBucket {
		t.Helper()
		q.From, q.To, q.Metric = kpiFrom, kpiTo, "wait"
		bs, err := s.Distribution(ctx, q)
		require.NoError(t, err)
		return bs
	}
	east := dist(analytics.DistributionQuery{Hall: "dist-east"})
	require.Positive(t, total(east))
	require.Equal(t, east, dist(analytics.DistributionQuery{Halls: []string{"dist-east"}}))
	all := dist(analytics.DistributionQuery{})
	require.Equal(t, all, dist(analytics.DistributionQuery{Halls: []string{"dist-east", "city-main"}}))
	require.Less(t, total(east), total(all))
	require.Zero(t, total(dist(analytics.DistributionQuery{Halls: []string{}})))

	base := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	require.NoError(t, s.InsertAlerts(ctx, []supervision.Alert{
		{ID: "h1", Kind: supervision.KindLongWait, Severity: supervision.Yellow, Hall: "city-main", Message: "m", MessageEN: "m", RaisedAt: base},
		{ID: "h2", Kind: supervision.KindLongWait, Severity: supervision.Yellow, Hall: "dist-east", Message: "m", MessageEN: "m", RaisedAt: base},
		{ID: "h3", Kind: supervision.KindLongWait, Severity: supervision.Yellow, Hall: "dist-west", Message: "m", MessageEN: "m", RaisedAt: base},
	}))
	ids := func(f analytics.AlertFilter) []string {
		t.Helper()
		list, err := s.ListAlerts(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, a := range list {
			out = append(out, a.ID)
		}
		return out
	}
	require.ElementsMatch(t, []string{"h1", "h2", "h3"}, ids(analytics.AlertFilter{}))
	require.ElementsMatch(t, []string{"h2", "h3"}, ids(analytics.AlertFilter{Halls: []string{"dist-east", "dist-west"}}))
	require.Equal(t, []string{"h2"}, ids(analytics.AlertFilter{Halls: []string{"dist-east", "dist-west"}, Hall: "dist-east"}))
	require.Empty(t, ids(analytics.AlertFilter{Halls: []string{}}))
	a, ok, err := s.Alert(ctx, "h2")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "dist-east", a.Hall)
	_, ok, err = s.Alert(ctx, "nope")
	require.NoError(t, err)
	require.False(t, ok)
}
