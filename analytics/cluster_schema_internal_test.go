package analytics

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestClusterSchemaTranslation(t *testing.T) {
	migrations, err := loadMigrations()
	require.NoError(t, err)
	cs, err := newClusterSchema("c1", "db", migrations)
	require.NoError(t, err)

	// Sharding keys: replacing tables by their key, hall tables by hall.
	require.Equal(t, "cityHash64(case_id)", cs.tables["cases"].shardingKey)
	require.Equal(t, "cityHash64(case_id)", cs.tables["legal_holds"].shardingKey)
	require.Equal(t, "cityHash64(hall)", cs.tables["events"].shardingKey)
	require.Equal(t, "cityHash64(hall)", cs.tables["visits"].shardingKey)
	require.Equal(t, "rand()", cs.tables["audit_log"].shardingKey)
	require.True(t, cs.views["completions_mv"])

	out, err := cs.translate("CREATE TABLE IF NOT EXISTS cases\n(case_id String, version UInt64)\nENGINE = ReplacingMergeTree(version)\nORDER BY case_id")
	require.NoError(t, err)
	require.Len(t, out, 2)
	require.Contains(t, out[0], "CREATE TABLE IF NOT EXISTS `db`.`cases_local` ON CLUSTER `c1`")
	require.Contains(t, out[0], "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/cases_local', '{replica}', version)")
	require.Equal(t, distributedMarker+"cases", out[1])

	out, err = cs.translate("CREATE MATERIALIZED VIEW IF NOT EXISTS completions_mv TO completions AS\nSELECT completed FROM cases WHERE state = 'completed'")
	require.NoError(t, err)
	require.Equal(t, []string{"CREATE MATERIALIZED VIEW IF NOT EXISTS `db`.`completions_mv` ON CLUSTER `c1` TO `db`.`completions_local` AS\nSELECT completed FROM `db`.`cases_local` WHERE state = 'completed'"}, out)

	out, err = cs.translate("ALTER TABLE visits ADD COLUMN window_key UInt64 MATERIALIZED cityHash64(hall, `window`)")
	require.NoError(t, err)
	require.Equal(t, "ALTER TABLE `db`.`visits_local` ON CLUSTER `c1` ADD COLUMN window_key UInt64 MATERIALIZED cityHash64(hall, `window`)", out[0])
	require.Equal(t, []string{"DROP TABLE IF EXISTS `db`.`visits` ON CLUSTER `c1`", distributedMarker + "visits"}, out[1:])
	// The rerun check still finds the table and column in the translation.
	m := addColumn.FindStringSubmatch(out[0])
	require.Equal(t, []string{"visits_local", "window_key"}, m[1:])

	out, err = cs.translate("DROP TABLE IF EXISTS ratings_hall_daily_mv")
	require.NoError(t, err)
	require.Equal(t, []string{"DROP TABLE IF EXISTS `db`.`ratings_hall_daily_mv` ON CLUSTER `c1`"}, out)
	out, err = cs.translate("DROP TABLE IF EXISTS ratings_hall_daily")
	require.NoError(t, err)
	require.Len(t, out, 2)
	require.True(t, strings.HasSuffix(out[1], "`ratings_hall_daily_local` ON CLUSTER `c1`"))

	_, err = cs.translate("RENAME TABLE a TO b")
	require.ErrorContains(t, err, "no translation for a cluster")
	_, err = cs.translate("CREATE TABLE IF NOT EXISTS lock (x String) ENGINE = TinyLog")
	require.ErrorContains(t, err, "no replicated variant")
}
