package analytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
)

func TestAuditWriteList(t *testing.T) {
	s := openStore(t)
	base := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)
	entries := []analytics.AuditEntry{
		{TS: base.Add(100 * time.Millisecond), Actor: "li.auditor", Role: "auditor", Action: "clip.view", Target: "case/HH-2026-000123", Detail: `{"from":"09:30"}`, Client: "127.0.0.1"},
		{TS: base.Add(250 * time.Millisecond), Actor: "wang.admin", Role: "admin", Action: "user.add", Target: "user/zhao", Detail: "角色: inspector", Client: "10.0.0.8"},
		{TS: base.Add(time.Second + 5*time.Millisecond), Actor: "li.auditor", Role: "auditor", Action: "login", Client: "127.0.0.1"},
	}
	for _, e := range entries {
		require.NoError(t, s.WriteAudit(t.Context(), e))
	}

	all, err := s.ListAudit(t.Context(), analytics.AuditFilter{})
	require.NoError(t, err)
	require.Equal(t, []analytics.AuditEntry{entries[2], entries[1], entries[0]}, all, "newest first")

	tests := []struct {
		name   string
		filter analytics.AuditFilter
		want   []analytics.AuditEntry
	}{
		{"from is inclusive to the millisecond", analytics.AuditFilter{From: base.Add(250 * time.Millisecond)}, []analytics.AuditEntry{entries[2], entries[1]}},
		{"to is exclusive to the millisecond", analytics.AuditFilter{To: base.Add(250 * time.Millisecond)}, []analytics.AuditEntry{entries[0]}},
		{"range", analytics.AuditFilter{From: base.Add(101 * time.Millisecond), To: base.Add(2 * time.Second)}, []analytics.AuditEntry{entries[2], entries[1]}},
		{"limit", analytics.AuditFilter{Limit: 1}, []analytics.AuditEntry{entries[2]}},
		{"empty range", analytics.AuditFilter{From: base.Add(time.Hour)}, nil},
		{"actor", analytics.AuditFilter{Actor: "li.auditor"}, []analytics.AuditEntry{entries[2], entries[0]}},
		{"action", analytics.AuditFilter{Action: "user.add"}, []analytics.AuditEntry{entries[1]}},
		{"target", analytics.AuditFilter{Target: "case/HH-2026-000123"}, []analytics.AuditEntry{entries[0]}},
		{"actor and action", analytics.AuditFilter{Actor: "li.auditor", Action: "user.add"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(t.Context(), tt.filter)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestAuditDefaults(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 987_654_321, time.FixedZone("CST", 8*3600))
	s := openStore(t, func() time.Time { return now })
	require.Error(t, s.WriteAudit(t.Context(), analytics.AuditEntry{Actor: "x"}), "action is required")

	require.NoError(t, s.WriteAudit(t.Context(), analytics.AuditEntry{Actor: "x", Action: "login"}))
	got, err := s.ListAudit(t.Context(), analytics.AuditFilter{})
	require.NoError(t, err)
	require.Equal(t, []analytics.AuditEntry{{TS: now.Truncate(time.Millisecond).UTC(), Actor: "x", Action: "login"}}, got)
}
