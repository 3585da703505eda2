package analytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

// TestRecentRecordedCases: served visits with a case, and the segments of
// their windows (segBase is 01:30 UTC):
//
//	K1 at A01 01:40–01:50, segments 01:30–01:45 and 01:45–02:00: all of it
//	K2 at A02 01:50–02:00, a segment 01:55–02:10: half of it
//	K3 at A01 02:10–02:20, no segment then: absent
//	K4 at A01 01:31–01:35 and again 01:52–01:56: its latest service only
//	a visit without a case, and a no-show with one: absent
//
// Latest service end first: K2 (02:00), K4 (01:56), K1 (01:50).
func TestRecentRecordedCases(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	at := func(m int) time.Time { return segBase.Add(time.Duration(m-90) * time.Minute) } // minutes after 00:00 UTC
	served := func(win, ticket, caseID string, from, to int) tracker.Visit {
		return tracker.Visit{Hall: "city-main", Tier: "city", Window: win, Department: "d", Item: "SC-001", Ticket: ticket,
			CaseID: caseID, Outcome: tracker.Served, Issued: at(from - 5), Called: at(from), Started: at(from), Ended: at(to),
			Calls: 1, WaitSeconds: 300, HandleSeconds: uint32((to - from) * 60)}
	}
	noShow := served("A02", "T9", "K9", 100, 100)
	noShow.Outcome, noShow.Started, noShow.Ended, noShow.HandleSeconds = tracker.NoShow, time.Time{}, time.Time{}, 0
	require.NoError(t, s.InsertFacts(ctx, &tracker.Facts{Visits: []tracker.Visit{
		served("A01", "T1", "K1", 100, 110),
		served("A02", "T2", "K2", 110, 120),
		served("A01", "T3", "K3", 130, 140),
		served("A01", "T4", "K4", 91, 95),
		served("A01", "T5", "K4", 112, 116),
		served("A01", "T6", "", 96, 99),
		noShow,
	}}))
	require.NoError(t, s.UpsertSegments(ctx, []analytics.SegmentRow{
		segAt("A01", "a1.mp4", 1, 0, 15*time.Minute),
		segAt("A01", "a2.mp4", 2, 15*time.Minute, 30*time.Minute),
		segAt("A02", "b1.mp4", 1, 25*time.Minute, 40*time.Minute),
	}))

	got, err := s.RecentRecordedCases(ctx, at(0), 10)
	require.NoError(t, err)
	type row struct {
		id, window string
		end        time.Time
		recorded   float64
	}
	var rows []row
	for _, c := range got {
		rows = append(rows, row{c.CaseID, c.Window, c.End, c.Recorded})
	}
	require.Equal(t, []row{{"K2", "A02", at(120), 0.5}, {"K4", "A01", at(116), 1}, {"K1", "A01", at(110), 1}}, rows)

	got, err = s.RecentRecordedCases(ctx, at(0), 2)
	require.NoError(t, err)
	require.Len(t, got, 2, "the limit")
	got, err = s.RecentRecordedCases(ctx, at(117), 10)
	require.NoError(t, err)
	require.Len(t, got, 1, "served since: K2 only")

	// Of some halls only (a user's scope): every case here is city-main's.
	all, err := s.RecentRecordedCases(ctx, at(0), 10)
	require.NoError(t, err)
	in, err := s.RecentRecordedCasesIn(ctx, at(0), 10, []string{"dist-east", "city-main"})
	require.NoError(t, err)
	require.Equal(t, all, in)
	for _, halls := range [][]string{{"dist-east"}, {}} {
		in, err = s.RecentRecordedCasesIn(ctx, at(0), 10, halls)
		require.NoError(t, err)
		require.Empty(t, in, "halls %v", halls)
	}
}
