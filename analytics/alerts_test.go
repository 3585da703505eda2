package analytics_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/supervision"
)

func TestAlertsStoreListAck(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	alerts := []supervision.Alert{
		{ID: "long_wait:city-main:2026-11-25:A031:yellow", Kind: supervision.KindLongWait, Severity: supervision.Yellow, Hall: "city-main",
			Ticket: "A031", Item: "SC-001", Message: "A031 等待超过 15 分钟", MessageEN: "A031 waiting over 15 min", RaisedAt: base},
		{ID: "case_overdue:CM-1", Kind: supervision.KindCaseOverdue, Severity: supervision.Red, Hall: "city-main", Window: "A01",
			CaseID: "CM-1", Message: "办件 CM-1 已超期", MessageEN: "case CM-1 overdue", RaisedAt: base.Add(time.Minute)},
	}
	require.NoError(t, s.InsertAlerts(t.Context(), alerts))
	// Stored twice (a retry after a lost answer): still one alert.
	require.NoError(t, s.InsertAlerts(t.Context(), alerts[1:]))

	all, err := s.ListAlerts(t.Context(), analytics.AlertFilter{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, alerts[1], all[0].Alert, "newest first")
	require.Equal(t, alerts[0], all[1].Alert)
	require.False(t, all[0].Acked())

	red, err := s.ListAlerts(t.Context(), analytics.AlertFilter{Severity: supervision.Red})
	require.NoError(t, err)
	require.Len(t, red, 1)
	require.Equal(t, "case_overdue:CM-1", red[0].ID)

	acked, err := s.AckAlert(t.Context(), "case_overdue:CM-1", "zhang.inspector", "已督办，窗口负责人说明情况")
	require.NoError(t, err)
	require.True(t, acked.Acked())
	require.Equal(t, "zhang.inspector", acked.AckedBy)

	_, err = s.AckAlert(t.Context(), "case_overdue:CM-1", "li.inspector", "again")
	require.True(t, errors.Is(err, analytics.ErrAlreadyAcked), "second ack: %v", err)
	_, err = s.AckAlert(t.Context(), "no-such-alert", "li.inspector", "x")
	require.True(t, errors.Is(err, analytics.ErrNoSuchAlert), "unknown alert: %v", err)

	open, err := s.ListAlerts(t.Context(), analytics.AlertFilter{Unacked: true})
	require.NoError(t, err)
	require.Len(t, open, 1)
	require.Equal(t, alerts[0].ID, open[0].ID)

	all, err = s.ListAlerts(t.Context(), analytics.AlertFilter{})
	require.NoError(t, err)
	require.Equal(t, "zhang.inspector", all[0].AckedBy, "the first acknowledgement counts")
	require.Equal(t, "已督办，窗口负责人说明情况", all[0].AckComment)

	ids, err := s.AlertIDs(t.Context(), base.Add(30*time.Second))
	require.NoError(t, err)
	require.Equal(t, []string{"case_overdue:CM-1"}, ids)
}
