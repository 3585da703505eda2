package analytics_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
)

// openStore opens a store on a fresh database of the shared server; now, if
// given, is its clock.
func openStore(t *testing.T, now ...func() time.Time) *analytics.Store {
	t.Helper()
	addr := chtest.Shared(t)
	cfg := analytics.StoreConfig{Addr: []string{addr}, Database: chtest.NewDatabase(t, addr)}
	if len(now) > 0 {
		cfg.Now = now[0]
	}
	s, err := analytics.OpenStore(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

type migrationRow struct {
	Version   uint32
	Name      string
	AppliedAt time.Time
}

func migrationRows(t *testing.T, s *analytics.Store) []migrationRow {
	t.Helper()
	rows, err := s.Conn().Query(t.Context(), `SELECT version, name, applied_at FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		require.NoError(t, rows.Scan(&r.Version, &r.Name, &r.AppliedAt))
		out = append(out, r)
	}
	require.NoError(t, rows.Err())
	return out
}

// freshDatabaseName returns a name for a database that does not exist yet,
// dropped when t ends.
func freshDatabaseName(t *testing.T, addr string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_new_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		s, err := analytics.OpenStore(context.Background(), analytics.StoreConfig{Addr: []string{addr}, Database: name})
		if err == nil {
			_ = s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS `"+name+"`")
			_ = s.Close()
		}
	})
	return name
}

// schemaTables are the tables (and views) the migrations create, sorted;
// schemaMigrations is how many migrations there are.
var schemaTables = []string{"alert_acks", "alerts", "audit_log", "cases", "completions", "completions_hall_hourly", "completions_hall_hourly_mv", "completions_hourly", "completions_hourly_mv", "completions_mv", "completions_window_daily", "completions_window_daily_mv", "data_quality", "events", "legal_holds", "ratings", "ratings_hall_hourly", "ratings_hall_hourly_mv", "ratings_hourly", "ratings_hourly_mv", "ratings_window_daily", "ratings_window_daily_mv", "recording_segments", "schema_migrations", "spans_hall_hourly", "spans_hall_hourly_mv", "spans_window_daily", "spans_window_daily_mv", "stream_health", "visits", "visits_hall_daily", "visits_hall_daily_mv", "visits_hall_hourly", "visits_hall_hourly_mv", "visits_hall_monthly", "visits_hall_monthly_mv", "visits_hourly", "visits_hourly_mv", "visits_network_hourly", "visits_network_hourly_mv", "visits_window_daily", "visits_window_daily_mv", "visits_window_hourly", "visits_window_hourly_mv", "visits_window_monthly", "visits_window_monthly_mv", "visits_window_weekly", "visits_window_weekly_mv", "window_spans"}

const schemaMigrations = 14

func TestOpenStoreCreatesDatabaseAndMigratesOnce(t *testing.T) {
	addr := chtest.Shared(t)
	cfg := analytics.StoreConfig{Addr: []string{addr}, Database: freshDatabaseName(t, addr)}

	before := time.Now().Add(-time.Second)
	first, err := analytics.OpenStore(t.Context(), cfg)
	require.NoError(t, err)
	defer first.Close()

	tables, err := first.Tables(t.Context())
	require.NoError(t, err)
	require.Equal(t, schemaTables, tables)

	rows := migrationRows(t, first)
	require.Len(t, rows, schemaMigrations)
	require.Equal(t, uint32(1), rows[0].Version)
	require.Equal(t, "events", rows[0].Name)
	require.Equal(t, uint32(2), rows[1].Version)
	require.Equal(t, "audit", rows[1].Name)
	require.Equal(t, uint32(3), rows[2].Version)
	require.Equal(t, "stream_health", rows[2].Name)
	require.Equal(t, uint32(4), rows[3].Version)
	require.Equal(t, "recordings", rows[3].Name)
	require.Equal(t, uint32(5), rows[4].Version)
	require.Equal(t, "legal_holds", rows[4].Name)
	require.WithinRange(t, rows[0].AppliedAt, before.Truncate(time.Second), time.Now().Add(time.Second))

	second, err := analytics.OpenStore(t.Context(), cfg)
	require.NoError(t, err)
	defer second.Close()
	require.Equal(t, rows, migrationRows(t, second), "second OpenStore applied migrations again")
	tables, err = second.Tables(t.Context())
	require.NoError(t, err)
	require.Equal(t, schemaTables, tables, "lock table left behind")
}

func TestOpenStoreConcurrentMigrationsApplyOnce(t *testing.T) {
	addr := chtest.Shared(t)
	cfg := analytics.StoreConfig{Addr: []string{addr}, Database: freshDatabaseName(t, addr)}

	const n = 4
	stores := make([]*analytics.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = analytics.OpenStore(t.Context(), cfg) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		defer stores[i].Close()
	}
	rows := migrationRows(t, stores[0])
	require.Len(t, rows, schemaMigrations)
	for i, r := range rows {
		require.Equal(t, uint32(i+1), r.Version)
	}
}

func TestOpenStoreRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]analytics.StoreConfig{
		"no address":   {},
		"bad database": {Addr: []string{"127.0.0.1:1"}, Database: "x; DROP"},
		"unreachable":  {Addr: []string{"127.0.0.1:1"}},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := analytics.OpenStore(ctx, cfg)
			require.Error(t, err)
		})
	}
}

func TestStorePing(t *testing.T) {
	s := openStore(t)
	require.NoError(t, s.Ping(t.Context()))
}

func TestOpenStoreMigrationLock(t *testing.T) {
	addr := chtest.Shared(t)
	// OpenStore waits on a live lock until its context ends: 1.5 s. A
	// broken stale lock is followed by every migration, which takes
	// longer on a busy machine.
	tests := []struct {
		name    string
		age     time.Duration
		within  time.Duration
		wantErr error
	}{
		{"a live lock makes OpenStore wait", 0, 1500 * time.Millisecond, analytics.ErrMigrationLocked},
		{"a stale lock is broken", time.Hour, time.Minute, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := chtest.NewDatabase(t, addr)
			conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.Exec(t.Context(),
				`CREATE TABLE schema_migrations_lock ENGINE = TinyLog AS SELECT 'other-host/1' AS owner, toDateTime(?, 'UTC') AS acquired_at`,
				time.Now().Add(-tt.age).Unix()))

			ctx, cancel := context.WithTimeout(t.Context(), tt.within)
			defer cancel()
			s, err := analytics.OpenStore(ctx, analytics.StoreConfig{Addr: []string{addr}, Database: db})
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Contains(t, err.Error(), "other-host/1")
				return
			}
			require.NoError(t, err)
			defer s.Close()
			tables, err := s.Tables(t.Context())
			require.NoError(t, err)
			require.Equal(t, schemaTables, tables)
		})
	}
}
