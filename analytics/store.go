package analytics

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	chcolumn "github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// clickhouse-go v2.51 against ClickHouse 18.16 (Debian's package), verified
// with the native protocol (the driver's HTTP protocol does not work there):
//
//   - Handshake, ping, DDL, SELECT and scanning DateTime/String/UInt8/UInt16
//     work. The server (revision 54412) is older than the driver's declared
//     minimum (25.8); the driver only logs a warning on its first connection.
//   - conn.PrepareBatch does NOT work: the driver sends
//     "INSERT INTO t FORMAT Native", which 18.16 treats as an INSERT with
//     (empty) inline data and answers with a zero-column block, so every
//     Append fails with "expected 0 arguments".
//   - conn.Exec("INSERT INTO t VALUES (...)") hangs until the read timeout:
//     over TCP 18.16 ignores inline data and waits for data blocks from the
//     client, which Exec never sends.
//   - What works on 18.16: send the rows as an external table
//     (clickhouse.WithExternalTable, native columnar blocks sent with the
//     query) and run "INSERT INTO t (...) SELECT ... FROM <external table>".
//     See insertExternal. External tables are a long-standing part of the
//     native protocol, so this should hold on current releases too (not
//     verified here: only 18.16 is installed). The same trick serves large
//     IN lists (no max_query_size limit).
//   - Query settings must be int or bool values: below revision 54429 the
//     driver cannot encode string settings and fails client-side. (A context
//     deadline adds max_execution_time, an int: fine.)
//   - Never bind a time.Time argument: the driver may render it as
//     toDateTime64(...), which 18.16 lacks. Bind Unix seconds and write
//     toDateTime(?, 'UTC') in the SQL.
//   - "IN (?)" with a slice argument renders an array literal, which 18.16
//     rejects ("Type mismatch in IN"): use an external table.
//   - ALTER TABLE ... ADD COLUMN IF NOT EXISTS is a syntax error on 18.16.

// StoreConfig says where Sunlight's ClickHouse database is.
type StoreConfig struct {
	// Addr lists native-protocol addresses (host:port); at least one.
	Addr []string
	// Database is created if missing. Default "sunlight".
	Database string
	// Username and Password authenticate; empty Username means "default".
	Username, Password string
	// Logger receives migration and connection messages. Nil discards them.
	Logger *slog.Logger
	// Now is the clock for times the store stamps itself (received_at,
	// applied_at, audit entries without TS). Nil means time.Now.
	Now func() time.Time
	// History says the events inserted are history written after the
	// fact (the simulator's backfill): each is stored as received at its
	// own time, so the data-quality table does not count it late.
	History bool
	// Cluster names the ClickHouse cluster (remote_servers) that Addr's
	// servers belong to: the schema is then made ON CLUSTER, as replicated
	// local tables on every shard with Distributed tables over them (see
	// cluster_schema.go). Empty: one server, plain tables.
	Cluster string
	// AuditKey is the node key: its ID names this store's audit chain and
	// it signs the chain's checkpoints (see audit_chain.go). Nil makes a
	// key of its own for this store (for tests: a chain no one can verify
	// later).
	AuditKey ed25519.PrivateKey
}

// DefaultDatabase is the database OpenStore uses when none is configured.
const DefaultDatabase = "sunlight"

// Store is Sunlight's ClickHouse database: a connection pool on it whose
// schema is migrated to the current version. It is safe for concurrent use.
type Store struct {
	conn     driver.Conn
	database string
	log      *slog.Logger
	now      func() time.Time
	history  bool // StoreConfig.History
	// cluster translates the schema for StoreConfig.Cluster; nil on a
	// single server.
	cluster *clusterSchema

	// insertMu serializes InsertEvents so that the duplicate check and the
	// insert of one batch are not interleaved with another batch's.
	insertMu sync.Mutex
	// kpis keeps KPI statements' rows until facts in their range change.
	kpis kpiCache
	// ackMu serializes AckAlert so that the first acknowledgement of an
	// alert is the only one written.
	ackMu sync.Mutex
	// chain is this node's audit hash chain.
	chain     *auditChain
	closeOnce sync.Once
}

var databaseName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// OpenStore connects to ClickHouse with the native protocol, creates the
// database if it is missing (through the "default" database), applies the
// pending schema migrations and returns the ready store.
func OpenStore(ctx context.Context, cfg StoreConfig) (*Store, error) {
	if len(cfg.Addr) == 0 {
		return nil, errors.New("analytics: no ClickHouse address configured")
	}
	if cfg.Database == "" {
		cfg.Database = DefaultDatabase
	}
	if !databaseName.MatchString(cfg.Database) {
		return nil, fmt.Errorf("analytics: database name %q: use letters, digits and underscores", cfg.Database)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "analytics")
	now := cfg.Now
	if now == nil {
		now = time.Now
	}

	migrations, err := loadMigrations()
	if err != nil {
		return nil, err
	}

	boot, err := openConn(cfg, "default")
	if err != nil {
		return nil, err
	}
	if err := boot.Ping(ctx); err != nil {
		boot.Close()
		return nil, fmt.Errorf("analytics: connect to ClickHouse at %s: %w", strings.Join(cfg.Addr, ","), err)
	}
	if v, err := boot.ServerVersion(); err == nil {
		log.Info("connected to ClickHouse", "version", v.Version.String(), "revision", v.Revision, "timezone", v.Timezone.String())
	}
	var cluster *clusterSchema
	createDB := "CREATE DATABASE IF NOT EXISTS `" + cfg.Database + "`"
	if cfg.Cluster != "" {
		if cluster, err = newClusterSchema(cfg.Cluster, cfg.Database, migrations); err == nil {
			err = checkClusterSettings(ctx, boot, cfg.Cluster)
		}
		if err != nil {
			boot.Close()
			return nil, err
		}
		createDB += cluster.onCluster()
	}
	err = boot.Exec(ctx, createDB)
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("analytics: create database %s: %w", cfg.Database, err)
	}

	conn, err := openConn(cfg, cfg.Database)
	if err != nil {
		return nil, err
	}
	chain, err := newAuditChain(cfg.AuditKey)
	if err != nil {
		conn.Close()
		return nil, err
	}
	s := &Store{conn: conn, database: cfg.Database, log: log, now: now, history: cfg.History, chain: chain, cluster: cluster}
	if err := s.Ping(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := s.migrate(ctx, migrations); err != nil {
		conn.Close()
		return nil, err
	}
	go s.runAuditChain()
	return s, nil
}

func openConn(cfg StoreConfig, database string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		// The native protocol: clickhouse-go's HTTP protocol does not work
		// with ClickHouse 18.16.
		Protocol: clickhouse.Native,
		Addr:     cfg.Addr,
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.Username,
			Password: cfg.Password,
		},
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "sunlight", Version: ""}},
		},
		DialTimeout:     5 * time.Second,
		ReadTimeout:     5 * time.Minute,
		MaxOpenConns:    8,
		MaxIdleConns:    4,
		ConnMaxLifetime: time.Hour,
		// No Settings: on 18.16 only int and bool values can be sent (see
		// the notes at the top of this file).
	})
	if err != nil {
		return nil, fmt.Errorf("analytics: open ClickHouse connection: %w", err)
	}
	return conn, nil
}

// Conn returns the underlying connection pool, for queries the Store does not
// wrap. Mind the 18.16 notes at the top of store.go.
func (s *Store) Conn() driver.Conn { return s.conn }

// Database returns the name of the store's database.
func (s *Store) Database() string { return s.database }

// Close stops the audit chain's writer (after its current insert) and
// closes the connection pool. Appends after Close fail.
func (s *Store) Close() error {
	s.closeOnce.Do(s.stopAuditChain)
	return s.conn.Close()
}

// Ping checks that ClickHouse answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("analytics: ping ClickHouse: %w", err)
	}
	return nil
}

// Tables returns the names of the tables in the store's database, sorted.
func (s *Store) Tables(ctx context.Context) ([]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT name FROM system.tables WHERE database = ? ORDER BY name`, s.database)
	if err != nil {
		return nil, fmt.Errorf("analytics: list tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("analytics: list tables: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: list tables: %w", err)
	}
	return out, nil
}

// column is a column of an external table: its name and ClickHouse type.
type column struct{ Name, Type string }

// externalInsertTable is the name under which insertExternal sends its rows.
const externalInsertTable = "_sunlight_rows"

// newExternalTable returns an empty external table with these columns; rows
// are appended with Append in column order.
func newExternalTable(name string, cols []column) (*ext.Table, error) {
	defs := make([]func(*ext.Table) error, len(cols))
	for i, c := range cols {
		defs[i] = ext.Column(c.Name, chcolumn.Type(c.Type))
	}
	t, err := ext.NewTable(name, defs...)
	if err != nil {
		return nil, fmt.Errorf("analytics: external table %s: %w", name, err)
	}
	return t, nil
}

// externalTables keeps emptied external tables for reuse, a few of each
// shape: an emptied table keeps its columns' buffers, so one filled with a
// batch of 200,000 events before is filled again without growing them
// (growing them was a tenth of the intake's CPU in make bench). Not a
// sync.Pool: that drops its items at every GC, a few times a second under
// load.
var externalTables = struct {
	sync.Mutex
	free map[string][]*ext.Table
}{free: map[string][]*ext.Table{}}

// externalTablesKept is how many emptied tables of one shape are kept.
const externalTablesKept = 2

// borrowExternalTable returns an empty external table like newExternalTable
// does, and the function that empties it and gives it back once the query
// that sent it has returned.
func borrowExternalTable(name string, cols []column) (*ext.Table, func(), error) {
	var key strings.Builder
	key.WriteString(name)
	for _, c := range cols {
		key.WriteString("|" + c.Name + " " + c.Type)
	}
	k := key.String()
	externalTables.Lock()
	var t *ext.Table
	if free := externalTables.free[k]; len(free) > 0 {
		t = free[len(free)-1]
		externalTables.free[k] = free[:len(free)-1]
	}
	externalTables.Unlock()
	if t == nil {
		var err error
		if t, err = newExternalTable(name, cols); err != nil {
			return nil, nil, err
		}
	}
	release := func() {
		t.Block().Reset()
		externalTables.Lock()
		if len(externalTables.free[k]) < externalTablesKept {
			externalTables.free[k] = append(externalTables.free[k], t)
		}
		externalTables.Unlock()
	}
	return t, release, nil
}

// appendColumns appends whole columns to t, one slice per column in t's
// column order, all of one length ([]string for String, []time.Time for
// DateTime, []uint8 for UInt8…). A column at a time costs a fraction of a
// row at a time, which converts every value through an interface: it is
// how the event path, a million rows a minute, fills its tables.
func appendColumns(t *ext.Table, cols ...any) error {
	block := t.Block()
	if len(cols) != len(block.Columns) {
		return fmt.Errorf("analytics: external table %s: %d columns given, it has %d", t.Name(), len(cols), len(block.Columns))
	}
	for i, c := range cols {
		if _, err := block.Columns[i].Append(c); err != nil {
			return fmt.Errorf("analytics: external table %s, column %s: %w", t.Name(), block.Columns[i].Name(), err)
		}
	}
	return nil
}

// parallel runs fs at once and returns their errors joined.
func parallel(fs ...func() error) error {
	errs := make([]error, len(fs))
	var wg sync.WaitGroup
	for i, f := range fs {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stringSet runs query, whose rows are one String column, and returns the
// set of its values; what names the lookup in errors.
func (s *Store) stringSet(ctx context.Context, what, query string, args ...any) (map[string]bool, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: %s: %w", what, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("analytics: %s: %w", what, err)
		}
		out[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: %s: %w", what, err)
	}
	return out, nil
}

// insertExternal inserts the rows of rowsTable (made by newExternalTable with
// the name externalInsertTable and the same columns) into table, as
// "INSERT INTO table (cols) SELECT cols FROM <external table>". This is how
// Sunlight inserts: it works on ClickHouse 18.16, where the driver's batch
// insert does not (see the notes at the top of this file), sends native
// columnar blocks, and inserts the whole set in one statement.
func (s *Store) insertExternal(ctx context.Context, table string, cols []column, rowsTable *ext.Table) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = "`" + c.Name + "`"
	}
	list := strings.Join(names, ", ")
	query := "INSERT INTO " + table + " (" + list + ") SELECT " + list + " FROM " + externalInsertTable
	if err := s.conn.Exec(clickhouse.Context(ctx, clickhouse.WithExternalTable(rowsTable)), query); err != nil {
		return fmt.Errorf("analytics: insert into %s: %w", table, err)
	}
	return nil
}

// timeParts splits t into the Unix seconds a DateTime column stores and the
// millisecond remainder kept in a ts_ms column. ok is false for times a
// DateTime cannot hold (before 1970 or after 2106).
func timeParts(t time.Time) (sec time.Time, ms uint16, ok bool) {
	u := t.Unix()
	if u < 0 || u > 1<<32-1 {
		return time.Time{}, 0, false
	}
	return time.Unix(u, 0).UTC(), uint16(t.Nanosecond() / int(time.Millisecond)), true
}

// joinTime is the inverse of timeParts.
func joinTime(sec time.Time, ms uint16) time.Time {
	return time.Unix(sec.Unix(), int64(ms)*int64(time.Millisecond)).UTC()
}
