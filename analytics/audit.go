package analytics

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one line of the audit log: who (Actor with Role, from
// Client) did what (Action) to what (Target), when (TS, millisecond
// precision, UTC), with free-form Detail.
type AuditEntry struct {
	TS     time.Time
	Actor  string
	Role   string
	Action string
	Target string
	Detail string
	Client string
}

// AuditFilter selects audit entries with From <= TS < To; a zero bound is
// open. Limit caps the number of entries (default 100, at most 10000).
type AuditFilter struct {
	From, To time.Time
	Limit    int
	// Actor, Action and Target, when set, keep the entries with exactly
	// that user name, action code and target (a case ID, a window, ...).
	Actor, Action, Target string
}

// Audit list limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 10000
)

var auditColumns = []column{
	{"ts", "DateTime('UTC')"},
	{"ts_ms", "UInt16"},
	{"actor", "String"},
	{"role", "String"},
	{"action", "String"},
	{"target", "String"},
	{"detail", "String"},
	{"client", "String"},
}

// WriteAudit appends e to the audit log (AppendAudit without the
// stored row). A zero TS means now. Action is required.
func (s *Store) WriteAudit(ctx context.Context, e AuditEntry) error {
	_, err := s.AppendAudit(ctx, e)
	return err
}

// ListAudit returns the audit entries f selects, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	limit = min(limit, MaxAuditLimit)

	var (
		where []string
		args  []any
	)
	// The whole-second condition lets ClickHouse skip partitions and
	// granules; the millisecond one makes the bound exact.
	if !f.From.IsZero() {
		ms := max(f.From.UnixMilli(), 0)
		where = append(where, "ts >= toDateTime(?, 'UTC')", "toUInt64(ts) * 1000 + ts_ms >= ?")
		args = append(args, ms/1000, ms)
	}
	if !f.To.IsZero() {
		ms := max(f.To.UnixMilli(), 0)
		where = append(where, "ts <= toDateTime(?, 'UTC')", "toUInt64(ts) * 1000 + ts_ms < ?")
		args = append(args, ms/1000, ms)
	}
	for _, c := range []struct{ col, v string }{{"actor", f.Actor}, {"action", f.Action}, {"target", f.Target}} {
		if c.v != "" {
			where, args = append(where, c.col+" = ?"), append(args, c.v)
		}
	}
	query := `SELECT ts, ts_ms, actor, role, action, target, detail, client FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY ts DESC, ts_ms DESC LIMIT %d", limit)

	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("analytics: list audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var (
			e  AuditEntry
			ts time.Time
			ms uint16
		)
		if err := rows.Scan(&ts, &ms, &e.Actor, &e.Role, &e.Action, &e.Target, &e.Detail, &e.Client); err != nil {
			return nil, fmt.Errorf("analytics: list audit log: %w", err)
		}
		e.TS = joinTime(ts, ms)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: list audit log: %w", err)
	}
	return out, nil
}
