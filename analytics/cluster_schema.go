package analytics

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The schema on a ClickHouse cluster (StoreConfig.Cluster).
//
// The migrations are written once, for a single server. On a cluster each of
// their statements is translated (clusterSchema.translate) into statements
// run ON CLUSTER, so that every node gets the same schema through the
// cluster's distributed DDL queue:
//
//   - a table T becomes T_local, the Replicated* variant of its engine on
//     every node (replicas of a shard share the ZooKeeper path
//     /clickhouse/tables/{shard}/<database>/T_local), and T, a Distributed
//     table over the T_local of every shard under T's own name, so that
//     every insert and query in Sunlight's code is unchanged: inserts are
//     spread over the shards, queries read all of them;
//   - a materialized view reads and writes the local tables of its node:
//     rows inserted through a Distributed table reach one shard's T_local,
//     whose views fill that shard's rollups; a query of a rollup reads every
//     shard's partial states and merges them, which is exact for sums and
//     quantilesExactWeighted states alike;
//   - ALTER TABLE ... ADD COLUMN alters T_local and T; DROP TABLE drops both.
//
// Sharding keys. A row goes to the shard of its table's shardingKey:
//   - tables whose rows are collapsed by key (Replacing*MergeTree: cases,
//     legal_holds, recording_segments) by their key's first column (case_id,
//     window), so that every version of a case lands on one shard and FINAL,
//     which collapses within a shard, keeps exactly one;
//   - every other table with a hall column by the hall: a visit's and its
//     hall's events, spans, ratings and alerts stay together, and the event
//     dedupe (same id, hall and time; see InsertEvents) finds a re-sent
//     event on the shard its first copy went to;
//   - the rest (the audit log, the network-wide rollup) by rand().
//
// Queries need two settings from the cluster's user profile, which the
// driver cannot send to 18.16 (string settings; see store.go):
// distributed_product_mode = 'global' (a subquery over a Distributed table
// inside a query over one is run once and its result sent to the shards:
// correct whatever the sharding) and insert_distributed_sync = 1 (an insert is
// acknowledged once every shard has its rows, so an acknowledged event is
// never only in a node's send queue). OpenStore checks both.
type clusterSchema struct {
	cluster, database string
	// tables and views are the names the migrations create, so that the
	// translation knows which identifiers to rewrite.
	tables map[string]tableInfo
	views  map[string]bool
}

type tableInfo struct {
	shardingKey string
}

var (
	reCreateTable = regexp.MustCompile("(?is)^CREATE\\s+TABLE\\s+IF\\s+NOT\\s+EXISTS\\s+`?(\\w+)`?\\s*(\\(.*\\))\\s*ENGINE\\s*=\\s*(\\w+)\\s*(\\([^)]*\\))?(.*)$")
	reCreateView  = regexp.MustCompile("(?is)^CREATE\\s+MATERIALIZED\\s+VIEW\\s+IF\\s+NOT\\s+EXISTS\\s+`?(\\w+)`?\\s+TO\\s+`?(\\w+)`?\\s+AS\\s+(.*)$")
	reDropTable   = regexp.MustCompile("(?is)^DROP\\s+TABLE\\s+IF\\s+EXISTS\\s+`?(\\w+)`?\\s*$")
	reAlterTable  = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+`?(\\w+)`?\\s+(ADD\\s+COLUMN\\s.*)$")
	reInsert      = regexp.MustCompile("(?is)^INSERT\\s+INTO\\s")
	reOrderBy     = regexp.MustCompile("(?is)ORDER\\s+BY\\s*\\(?\\s*(`?\\w+`?)")
	// reHallColumn finds a column named hall in a CREATE TABLE's column list.
	reHallColumn = regexp.MustCompile("(?m)^\\s*`?hall`?\\s+String")
	// reTableRef is a table name where a statement reads one.
	reTableRef = regexp.MustCompile("(?i)\\b(FROM|JOIN)\\s+`?(\\w+)`?")
)

// newClusterSchema learns the tables and views of the migrations, with each
// table's sharding key.
func newClusterSchema(cluster, database string, migrations []migration) (*clusterSchema, error) {
	cs := &clusterSchema{cluster: cluster, database: database, tables: map[string]tableInfo{}, views: map[string]bool{}}
	for _, m := range migrations {
		for _, stmt := range m.Statements {
			if v := reCreateView.FindStringSubmatch(stmt); v != nil {
				cs.views[v[1]] = true
				continue
			}
			t := reCreateTable.FindStringSubmatch(stmt)
			if t == nil {
				continue
			}
			key := "rand()"
			switch {
			case strings.HasPrefix(t[3], "Replacing"):
				ob := reOrderBy.FindStringSubmatch(t[5])
				if ob == nil {
					return nil, fmt.Errorf("analytics: migration %d: table %s has no ORDER BY to shard by", m.Version, t[1])
				}
				key = "cityHash64(" + ob[1] + ")"
			case reHallColumn.MatchString(t[2]):
				key = "cityHash64(hall)"
			}
			cs.tables[t[1]] = tableInfo{shardingKey: key}
		}
	}
	return cs, nil
}

func (cs *clusterSchema) onCluster() string { return " ON CLUSTER `" + cs.cluster + "`" }

// name is a table of the database, qualified: distributed DDL runs on each
// node outside the session that sent it, where no current database is set.
func (cs *clusterSchema) name(table string) string {
	return "`" + cs.database + "`.`" + table + "`"
}

func localName(table string) string { return table + "_local" }

// translate turns one statement of a migration into the statements that make
// the same change on the cluster.
func (cs *clusterSchema) translate(stmt string) ([]string, error) {
	if t := reCreateTable.FindStringSubmatch(stmt); t != nil {
		table, cols, engine, args, rest := t[1], t[2], t[3], t[4], t[5]
		if !strings.HasSuffix(engine, "MergeTree") {
			return nil, fmt.Errorf("table %s: engine %s has no replicated variant", table, engine)
		}
		zkPath := "'/clickhouse/tables/{shard}/" + cs.database + "/" + localName(table) + "'"
		replArgs := zkPath + ", '{replica}'"
		if inner := strings.TrimSpace(strings.Trim(strings.TrimSpace(args), "()")); inner != "" {
			replArgs += ", " + inner
		}
		return []string{
			"CREATE TABLE IF NOT EXISTS " + cs.name(localName(table)) + cs.onCluster() + "\n" + cols +
				"\nENGINE = Replicated" + engine + "(" + replArgs + ")" + rest,
			cs.distributed(table),
		}, nil
	}
	if v := reCreateView.FindStringSubmatch(stmt); v != nil {
		view, target, query := v[1], v[2], v[3]
		if _, ok := cs.tables[target]; !ok {
			return nil, fmt.Errorf("view %s writes to %s, which no migration creates", view, target)
		}
		return []string{"CREATE MATERIALIZED VIEW IF NOT EXISTS " + cs.name(view) + cs.onCluster() +
			" TO " + cs.name(localName(target)) + " AS\n" + cs.readLocal(query)}, nil
	}
	if d := reDropTable.FindStringSubmatch(stmt); d != nil {
		name := d[1]
		out := []string{"DROP TABLE IF EXISTS " + cs.name(name) + cs.onCluster()}
		if _, ok := cs.tables[name]; ok {
			out = append(out, "DROP TABLE IF EXISTS "+cs.name(localName(name))+cs.onCluster())
		}
		return out, nil
	}
	if a := reAlterTable.FindStringSubmatch(stmt); a != nil {
		table, change := a[1], a[2]
		if _, ok := cs.tables[table]; !ok {
			return nil, fmt.Errorf("ALTER TABLE %s: no migration creates that table", table)
		}
		// The local table first: a Distributed table may have fewer
		// columns than its shards' tables, never more. The Distributed
		// table, which holds no rows, is made again over the altered
		// local one: distributed DDL refuses to ALTER a table that is not
		// replicated on a cluster whose shards replicate themselves
		// (18.16: code 371).
		return []string{
			"ALTER TABLE " + cs.name(localName(table)) + cs.onCluster() + " " + change,
			"DROP TABLE IF EXISTS " + cs.name(table) + cs.onCluster(),
			cs.distributed(table),
		}, nil
	}
	if reInsert.MatchString(stmt) {
		// A backfill from one table into another: through the Distributed
		// tables, which read every shard and send each row to its shard.
		return []string{stmt}, nil
	}
	return nil, fmt.Errorf("no translation for a cluster of: %.60s", stmt)
}

// distributedMarker stands, in translate's statements, for the creation of
// a Distributed table, whose columns are read from its local table when the
// statement runs (see distributedDDL).
const distributedMarker = "\x00distributed "

// distributed stands for the creation of table, the Distributed table over
// table_local.
func (cs *clusterSchema) distributed(table string) string { return distributedMarker + table }

// distributedDDL creates table over table_local with the local table's
// columns as they are now, but with every MATERIALIZED column as an ALIAS of
// the same expression: a Distributed table sends its MATERIALIZED columns
// with each insert, which the shards refuse on 18.16 (code 44: "Cannot
// insert column window_key, because it is MATERIALIZED column"); an ALIAS is
// never inserted, and a query of it computes the same value on the shards.
func (cs *clusterSchema) distributedDDL(ctx context.Context, conn driver.Conn, table string) (string, error) {
	rows, err := conn.Query(ctx, `SELECT name, type, default_kind, default_expression FROM system.columns
		WHERE database = ? AND table = ?`, cs.database, localName(table))
	if err != nil {
		return "", fmt.Errorf("read the columns of %s: %w", localName(table), err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name, typ, kind, expr string
		if err := rows.Scan(&name, &typ, &kind, &expr); err != nil {
			return "", fmt.Errorf("read the columns of %s: %w", localName(table), err)
		}
		col := "    `" + name + "` " + typ
		switch kind {
		case "MATERIALIZED", "ALIAS":
			col += " ALIAS " + expr
		case "DEFAULT":
			col += " DEFAULT " + expr
		}
		cols = append(cols, col)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("read the columns of %s: %w", localName(table), err)
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("table %s has no columns on this node", localName(table))
	}
	return "CREATE TABLE IF NOT EXISTS " + cs.name(table) + cs.onCluster() + "\n(\n" + strings.Join(cols, ",\n") + "\n)" +
		"\nENGINE = Distributed(`" + cs.cluster + "`, `" + cs.database + "`, `" + localName(table) + "`, " + cs.tables[table].shardingKey + ")", nil
}

// readLocal makes a view's query read the local tables of its node.
func (cs *clusterSchema) readLocal(query string) string {
	return reTableRef.ReplaceAllStringFunc(query, func(ref string) string {
		m := reTableRef.FindStringSubmatch(ref)
		if _, ok := cs.tables[m[2]]; !ok {
			return ref
		}
		return m[1] + " " + cs.name(localName(m[2]))
	})
}

// checkClusterSettings checks that the server knows the cluster and that the
// user's profile has the settings cluster queries rely on (see the top of
// this file), naming what to fix.
func checkClusterSettings(ctx context.Context, conn driver.Conn, cluster string) error {
	var shards uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact(shard_num) FROM system.clusters WHERE cluster = ?", cluster).Scan(&shards); err != nil {
		return fmt.Errorf("analytics: read system.clusters: %w", err)
	}
	if shards == 0 {
		return fmt.Errorf("analytics: clickhouse.cluster %q: the server has no such cluster in its remote_servers", cluster)
	}
	want := map[string]string{"distributed_product_mode": "global", "insert_distributed_sync": "1"}
	for name, value := range want {
		var got string
		if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = ?", name).Scan(&got); err != nil {
			return fmt.Errorf("analytics: read setting %s: %w", name, err)
		}
		if got != value {
			return fmt.Errorf("analytics: clickhouse.cluster %q: the ClickHouse user's profile has %s = %s; set it to %s (see deploy/clickhouse-cluster)", cluster, name, got, value)
		}
	}
	return nil
}
