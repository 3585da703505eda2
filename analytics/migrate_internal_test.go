package analytics

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		sql  string
		want []string
	}{
		{"one", "CREATE TABLE a (x UInt8) ENGINE = Memory;", []string{"CREATE TABLE a (x UInt8) ENGINE = Memory"}},
		{"two and comments", "-- first; not a split\nSELECT 1;\n/* block; */ SELECT 2;\n-- trailing\n", []string{"SELECT 1", "SELECT 2"}},
		{"quotes", "SELECT 'a;b', `c;d`, \"e;f\", 'it\\'s;'; SELECT 3", []string{"SELECT 'a;b', `c;d`, \"e;f\", 'it\\'s;'", "SELECT 3"}},
		{"no semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"only comments", "-- nothing\n;;", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, splitStatements(tt.sql))
		})
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ms), 5)
	for i, m := range ms {
		require.Equal(t, uint32(i+1), m.Version, "versions are 1, 2, ... without gaps")
		require.NotEmpty(t, m.Statements)
	}
	require.Equal(t, "events", ms[0].Name)
	require.Equal(t, "audit", ms[1].Name)
	require.Equal(t, "stream_health", ms[2].Name)
	require.Equal(t, "recordings", ms[3].Name)
	require.Equal(t, "legal_holds", ms[4].Name)
}

func TestParseMigrationsRejectsBadFiles(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"bad name":     {"m/events.sql": {Data: []byte("SELECT 1")}},
		"duplicate":    {"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/1_b.sql": {Data: []byte("SELECT 1")}},
		"empty":        {"m/0001_a.sql": {Data: []byte("-- nothing")}},
		"version zero": {"m/0000_a.sql": {Data: []byte("SELECT 1")}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseMigrations(fsys, "m")
			require.Error(t, err)
		})
	}
}

func TestAddColumnPattern(t *testing.T) {
	for stmt, want := range map[string][]string{
		"ALTER TABLE visits ADD COLUMN window_key UInt64 MATERIALIZED cityHash64(hall, `window`)": {"visits", "window_key"},
		"alter table `visits`\n  add column `k` UInt8":                                            {"visits", "k"},
		"ALTER TABLE visits DROP COLUMN window_key":                                               nil,
	} {
		m := addColumn.FindStringSubmatch(stmt)
		if want == nil {
			require.Nil(t, m, stmt)
			continue
		}
		require.Equal(t, want, m[1:], stmt)
	}
}
