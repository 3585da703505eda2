package analytics

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Schema migrations.
//
// Each file migrations/NNNN_name.sql is migration NNNN. Its statements
// (separated by ';') run one by one, since the native protocol runs one
// statement per Exec. A migration is recorded in schema_migrations after all
// its statements succeeded; statements must be idempotent (CREATE TABLE IF
// NOT EXISTS, ...) so that a migration interrupted half-way can run again.
//
// ClickHouse 18.16 caveats for future migrations (verified): ALTER TABLE ...
// ADD COLUMN IF NOT EXISTS is a syntax error there, so the runner itself
// skips an ALTER TABLE t ADD COLUMN c statement when t already has c (see
// runMigrationStatement; add one column per statement); no DateTime64, TTL, LowCardinality, Map, window functions or
// WITH FILL.
//
// Two processes opening the same database at once (say, two Sunlight servers
// on one cluster) are kept from migrating together by a lock table (see
// lockMigrations); a lock older than migrationLockStale is taken to be left
// by a crashed process and broken.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema change.
type migration struct {
	Version    uint32
	Name       string
	Statements []string
}

var migrationName = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.sql$`)

// loadMigrations reads the embedded migrations, sorted by version.
func loadMigrations() ([]migration, error) {
	return parseMigrations(migrationFiles, "migrations")
}

func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("analytics: read migrations: %w", err)
	}
	var out []migration
	seen := map[uint32]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("analytics: migration file %q is not named NNNN_name.sql", e.Name())
		}
		v, err := strconv.ParseUint(m[1], 10, 32)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("analytics: migration file %q: bad version", e.Name())
		}
		if other, dup := seen[uint32(v)]; dup {
			return nil, fmt.Errorf("analytics: migrations %q and %q have the same version", other, e.Name())
		}
		seen[uint32(v)] = e.Name()
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("analytics: read migration %q: %w", e.Name(), err)
		}
		stmts := splitStatements(string(body))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("analytics: migration %q has no statements", e.Name())
		}
		out = append(out, migration{Version: uint32(v), Name: m[2], Statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// splitStatements splits SQL text on ';' outside string literals, quoted
// identifiers and comments, and drops comments and empty statements.
func splitStatements(sql string) []string {
	var (
		out []string
		cur strings.Builder
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += 2 + end + 1
			}
			cur.WriteByte(' ')
		case c == '\'' || c == '"' || c == '`':
			cur.WriteByte(c)
			for i++; i < len(sql); i++ {
				cur.WriteByte(sql[i])
				if sql[i] == '\\' && i+1 < len(sql) {
					i++
					cur.WriteByte(sql[i])
					continue
				}
				if sql[i] == c {
					break
				}
			}
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// migrationLockTable is created (without IF NOT EXISTS) to take the migration
// lock: ClickHouse refuses to create an existing table, so only one process
// succeeds. It holds one row saying who took it and when, so that a lock left
// by a crashed process can be broken after migrationLockStale.
const (
	migrationLockTable = "schema_migrations_lock"
	migrationLockStale = 10 * time.Minute
	codeTableExists    = 57 // TABLE_ALREADY_EXISTS
)

// migrate creates schema_migrations and applies the migrations it does not
// record yet, in order. It returns the versions it applied.
func (s *Store) migrate(ctx context.Context, migrations []migration) ([]uint32, error) {
	if err := s.conn.Exec(ctx, s.schemaMigrationsDDL()); err != nil {
		return nil, fmt.Errorf("analytics: create schema_migrations: %w", err)
	}

	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	pending := pendingMigrations(migrations, applied)
	if len(pending) == 0 {
		return nil, nil
	}

	unlock, err := s.lockMigrations(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	// Another process may have migrated while we waited for the lock.
	if applied, err = s.appliedVersions(ctx); err != nil {
		return nil, err
	}
	var done []uint32
	for _, m := range pendingMigrations(migrations, applied) {
		for i, stmt := range m.Statements {
			if err := s.runMigrationStatement(ctx, stmt); err != nil {
				return done, fmt.Errorf("analytics: migration %d (%s), statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := s.conn.Exec(ctx,
			`INSERT INTO schema_migrations (version, name, applied_at) SELECT toUInt32(?), ?, toDateTime(?, 'UTC')`,
			m.Version, m.Name, s.now().Unix()); err != nil {
			return done, fmt.Errorf("analytics: record migration %d (%s): %w", m.Version, m.Name, err)
		}
		s.log.Info("applied schema migration", "version", m.Version, "name", m.Name)
		done = append(done, m.Version)
	}
	return done, nil
}

// schemaMigrationsDDL creates the table of applied migrations. On a cluster
// every node holds all of it (one replication group over every shard), so
// that a Sunlight server connected to any node sees what was migrated.
func (s *Store) schemaMigrationsDDL() string {
	const columns = `
(
    version    UInt32,
    name       String,
    applied_at DateTime('UTC')
)
`
	if s.cluster == nil {
		return "CREATE TABLE IF NOT EXISTS schema_migrations" + columns + "ENGINE = MergeTree\nORDER BY version"
	}
	cs := s.cluster
	return "CREATE TABLE IF NOT EXISTS " + cs.name("schema_migrations") + cs.onCluster() + columns +
		"ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/" + cs.database + "/schema_migrations', '{shard}-{replica}')\nORDER BY version"
}

// addColumn matches a statement that adds one column: its table and column.
var addColumn = regexp.MustCompile("(?is)^ALTER\\s+TABLE\\s+(?:`?\\w+`?\\.)?`?(\\w+)`?(?:\\s+ON\\s+CLUSTER\\s+`?\\w+`?)?\\s+ADD\\s+COLUMN\\s+`?(\\w+)`?\\s")

// runMigrationStatement runs one statement of a migration (on a cluster, the
// statements it translates to), except one that adds a column its table
// already has: the rerun of a migration interrupted after that statement,
// which must not fail.
func (s *Store) runMigrationStatement(ctx context.Context, stmt string) error {
	if s.cluster == nil {
		return s.runSchemaStatement(ctx, stmt)
	}
	stmts, err := s.cluster.translate(stmt)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if table, ok := strings.CutPrefix(st, distributedMarker); ok {
			if st, err = s.cluster.distributedDDL(ctx, s.conn, table); err != nil {
				return err
			}
		}
		if err := s.runSchemaStatement(ctx, st); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) runSchemaStatement(ctx context.Context, stmt string) error {
	if m := addColumn.FindStringSubmatch(stmt); m != nil {
		var n uint64
		if err := s.conn.QueryRow(ctx, `SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?`,
			m[1], m[2]).Scan(&n); err != nil {
			return fmt.Errorf("look for column %s.%s: %w", m[1], m[2], err)
		}
		if n > 0 {
			return nil
		}
	}
	return s.conn.Exec(ctx, stmt)
}

func pendingMigrations(all []migration, applied map[uint32]bool) []migration {
	var out []migration
	for _, m := range all {
		if !applied[m.Version] {
			out = append(out, m)
		}
	}
	return out
}

func (s *Store) appliedVersions(ctx context.Context) (map[uint32]bool, error) {
	rows, err := s.conn.Query(ctx, `SELECT DISTINCT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("analytics: read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("analytics: read schema_migrations: %w", err)
		}
		out[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: read schema_migrations: %w", err)
	}
	return out, nil
}

// lockMigrations takes the migration lock, waiting while another live process
// holds it (until ctx ends). It returns the function that releases it.
func (s *Store) lockMigrations(ctx context.Context) (func(), error) {
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d", host, os.Getpid())
	for {
		err := s.conn.Exec(ctx,
			`CREATE TABLE `+migrationLockTable+` ENGINE = TinyLog AS SELECT ? AS owner, toDateTime(?, 'UTC') AS acquired_at`,
			owner, s.now().Unix())
		if err == nil {
			return func() {
				// Release even if ctx has ended.
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				defer cancel()
				if err := s.conn.Exec(rctx, `DROP TABLE IF EXISTS `+migrationLockTable); err != nil {
					s.log.Error("releasing the schema migration lock failed; it will be broken after it goes stale", "err", err, "stale_after", migrationLockStale)
				}
			}, nil
		}
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != codeTableExists {
			return nil, fmt.Errorf("analytics: take schema migration lock: %w", err)
		}
		holder, since, err := s.migrationLockHolder(ctx)
		if err != nil {
			return nil, err
		}
		if s.now().Sub(since) > migrationLockStale {
			s.log.Warn("breaking a stale schema migration lock", "holder", holder, "since", since)
			if err := s.conn.Exec(ctx, `DROP TABLE IF EXISTS `+migrationLockTable); err != nil {
				return nil, fmt.Errorf("analytics: break stale schema migration lock: %w", err)
			}
			continue
		}
		s.log.Info("waiting for the schema migration lock", "holder", holder, "since", since)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (holder %s since %s): %w", ErrMigrationLocked, holder, since.Format(time.RFC3339), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// migrationLockHolder reads who holds the lock and since when. While another
// process creates or drops the lock table, reading it can fail or find no
// row; then (and for a lock table left broken by a crash) the table's
// metadata time stands in for the time it was taken. A lock table that is gone
// counts as taken just now, so the caller simply tries again.
func (s *Store) migrationLockHolder(ctx context.Context) (string, time.Time, error) {
	if holder, since, ok := s.readMigrationLock(ctx); ok {
		return holder, since, nil
	}
	var sec uint32
	err := s.conn.QueryRow(ctx,
		`SELECT toUInt32(metadata_modification_time) FROM system.tables WHERE database = currentDatabase() AND name = ?`,
		migrationLockTable).Scan(&sec)
	if err != nil {
		if ctx.Err() != nil {
			return "", time.Time{}, fmt.Errorf("%w: %w", ErrMigrationLocked, ctx.Err())
		}
		return "(released)", s.now(), nil
	}
	return "(unknown)", time.Unix(int64(sec), 0), nil
}

// readMigrationLock reads the lock table's row; ok is false if it cannot.
func (s *Store) readMigrationLock(ctx context.Context) (holder string, since time.Time, ok bool) {
	rows, err := s.conn.Query(ctx, `SELECT owner, acquired_at FROM `+migrationLockTable+` LIMIT 1`)
	if err != nil {
		return "", time.Time{}, false
	}
	defer rows.Close()
	if !rows.Next() {
		return "", time.Time{}, false
	}
	if err := rows.Scan(&holder, &since); err != nil {
		return "", time.Time{}, false
	}
	return holder, since, true
}
