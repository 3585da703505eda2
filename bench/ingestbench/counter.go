package ingestbench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Counter counts the events that arrived in ClickHouse (the contract's
// events table in the "sunlight" database).
type Counter struct {
	conn driver.Conn
}

// OpenCounter connects to the native ClickHouse address addr.
func OpenCounter(ctx context.Context, addr string) (*Counter, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:     []string{addr},
		Protocol: clickhouse.Native,
		Auth:     clickhouse.Auth{Database: "sunlight", Username: "default"},
	})
	if err != nil {
		return nil, fmt.Errorf("counter: open %s: %w", addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("counter: ping %s: %w", addr, err)
	}
	return &Counter{conn: conn}, nil
}

// Close closes the connection.
func (c *Counter) Close() error { return c.conn.Close() }

// Total returns the rows of the events table.
func (c *Counter) Total(ctx context.Context) (uint64, error) {
	var n uint64
	if err := c.conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("counter: count events: %w", err)
	}
	return n, nil
}

// Count returns the rows whose event id starts with prefix, and their
// distinct ids: both equal the events sent when each arrived exactly once.
func (c *Counter) Count(ctx context.Context, prefix string) (rows, ids uint64, err error) {
	if strings.ContainsAny(prefix, `'\`) {
		return 0, 0, fmt.Errorf("counter: prefix %q has a quote or backslash", prefix)
	}
	// substring rather than startsWith, which ClickHouse 18.16 may lack; the
	// prefix is inlined (checked above) because 18.16 binds no parameters
	// server-side.
	q := fmt.Sprintf("SELECT count(), uniqExact(event_id) FROM events WHERE substring(event_id, 1, %d) = '%s'", len(prefix), prefix)
	if err := c.conn.QueryRow(ctx, q).Scan(&rows, &ids); err != nil {
		return 0, 0, fmt.Errorf("counter: count events: %w", err)
	}
	return rows, ids, nil
}

// WaitTotal polls Total every poll until it reaches want, and returns the
// time it was first seen there, or an error after timeout.
func (c *Counter) WaitTotal(ctx context.Context, want uint64, poll, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	var last uint64
	for {
		n, err := c.Total(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if n >= want {
			return time.Now(), nil
		}
		last = n
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("counter: %d of %d events in ClickHouse after %s", last, want, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// QueryProfile is one kind of query in system.query_log: its text with
// the numbers taken out, how often it ran, and its CPU and rows.
type QueryProfile struct {
	Query                 string
	Count                 uint64
	CPUSeconds            float64
	ReadRows, WrittenRows uint64
}

// QueryProfiles sums system.query_log's finished queries since since by
// kind, most CPU first. The managed ClickHouse keeps the log only when the
// server was started with SUNLIGHT_CLICKHOUSE_QUERY_LOG=1; the log is
// flushed every 2 s, so wait that long after the last query.
func (c *Counter) QueryProfiles(ctx context.Context, since time.Time) ([]QueryProfile, error) {
	rows, err := c.conn.Query(ctx, `
		SELECT substring(replaceRegexpAll(replaceRegexpAll(query, '[0-9]+', 'N'), '\\s+', ' '), 1, 70) AS q,
		       count(),
		       sum(arraySum(arrayFilter((v, name) -> name IN ('UserTimeMicroseconds', 'SystemTimeMicroseconds'),
		                                ProfileEvents.Values, ProfileEvents.Names))) / 1e6 AS cpu,
		       sum(read_rows), sum(written_rows)
		FROM system.query_log
		WHERE type = 2 AND event_time >= toDateTime(?, 'UTC') AND query NOT LIKE '%system.query_log%'
		GROUP BY q ORDER BY cpu DESC`, since.Unix()) // 18.16 has no ORDER BY position
	if err != nil {
		return nil, fmt.Errorf("counter: query log: %w", err)
	}
	defer rows.Close()
	var out []QueryProfile
	for rows.Next() {
		var p QueryProfile
		if err := rows.Scan(&p.Query, &p.Count, &p.CPUSeconds, &p.ReadRows, &p.WrittenRows); err != nil {
			return nil, fmt.Errorf("counter: query log: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
