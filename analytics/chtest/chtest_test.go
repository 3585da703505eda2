package chtest_test

import (
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func TestSharedServerAndDatabases(t *testing.T) {
	addr := chtest.Shared(t)
	require.Equal(t, addr, chtest.Shared(t), "one shared server per test binary")

	a, b := chtest.NewDatabase(t, addr), chtest.NewDatabase(t, addr)
	require.NotEqual(t, a, b)

	conn, err := clickhouse.Open(&clickhouse.Options{Protocol: clickhouse.Native, Addr: []string{addr}})
	require.NoError(t, err)
	defer conn.Close()
	var n uint64
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT count() FROM system.databases WHERE name IN (?, ?)", a, b).Scan(&n))
	require.Equal(t, uint64(2), n)
}

func TestStartIsPrivate(t *testing.T) {
	require.NotEqual(t, chtest.Shared(t), chtest.Start(t))
}
