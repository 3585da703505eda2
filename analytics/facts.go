package analytics

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

// Columns of the fact tables of migration 0006, in the order InsertFacts
// appends their values.
var (
	visitColumns = []column{
		{"issued", "DateTime('UTC')"}, {"tier", "String"}, {"hall", "String"},
		{"department", "String"}, {"window", "String"}, {"item", "String"},
		{"staff", "String"}, {"ticket", "String"}, {"case_id", "String"},
		{"outcome", "String"}, {"called", "DateTime('UTC')"},
		{"started", "DateTime('UTC')"}, {"ended", "DateTime('UTC')"},
		{"calls", "UInt16"}, {"wait_seconds", "UInt32"},
		{"handle_seconds", "UInt32"}, {"met_target", "UInt8"},
	}
	spanColumns = []column{
		{"start", "DateTime('UTC')"}, {"end", "DateTime('UTC')"}, {"tier", "String"},
		{"hall", "String"}, {"department", "String"}, {"window", "String"},
		{"inferred", "UInt8"},
	}
	caseColumns = []column{
		{"case_id", "String"}, {"tier", "String"}, {"hall", "String"},
		{"department", "String"}, {"window", "String"}, {"item", "String"},
		{"state", "String"}, {"accepted", "DateTime('UTC')"},
		{"deadline", "DateTime('UTC')"}, {"completed", "DateTime('UTC')"},
		{"on_time", "UInt8"}, {"version", "UInt64"},
	}
	qualityColumns = []column{
		{"bucket", "DateTime('UTC')"}, {"hall", "String"}, {"window", "String"},
		{"kind", "String"}, {"events", "UInt64"},
	}
	ratingColumns = []column{
		{"ts", "DateTime('UTC')"}, {"tier", "String"}, {"hall", "String"},
		{"department", "String"}, {"window", "String"}, {"item", "String"},
		{"staff", "String"}, {"ticket", "String"}, {"case_id", "String"},
		{"event_id", "String"}, {"rating", "UInt8"},
	}
)

// ErrInvalidFact is returned (wrapped) by Store.InsertFacts for a fact row
// it cannot store (a time a DateTime cannot hold, a span that does not end
// after it starts). Nothing of the call is written then.
var ErrInvalidFact = errors.New("analytics: invalid fact row")

// caseCompleted is the state of a completed case (tracker.CaseState.State).
const caseCompleted = "completed"

// externalCaseIDsTable is the external table through which InsertFacts asks
// which cases are completed already.
const externalCaseIDsTable = "_sunlight_case_ids"

// factsMu serializes InsertFacts within the process, so that two batches do
// not both find a case not yet completed and both write its completion.
// Two processes inserting facts into one database are not serialized.
var factsMu sync.Mutex

// InsertFacts stores the fact rows the tracker produced: one insert per
// non-empty table. Visits, spans and ratings are inserted as they are
// (events are deduplicated before they become facts, so inserting the same
// facts twice counts them twice). Case rows go to the cases table, where
// the newest version of a case wins; of the completed rows, only a case's
// first is written (a case already completed in the table, or completed
// earlier in the batch, loses its later completed rows), because the
// completion rollups are fed by materialized views that cannot replace a row.
//
// A time that a DateTime cannot hold (before 1970 or after 2106) fails the
// call with ErrInvalidFact before anything is written; zero times are
// stored as 1970-01-01.
func (s *Store) InsertFacts(ctx context.Context, f *tracker.Facts) error {
	_, err := s.insertFacts(ctx, f)
	return err
}

// insertFacts is InsertFacts, returning when it fails the rows that were
// not stored (the tables are inserted at once, and some may have been), so
// that a retry does not store a table's rows twice.
func (s *Store) insertFacts(ctx context.Context, f *tracker.Facts) (unstored tracker.Facts, err error) {
	if f == nil || f.Len() == 0 {
		return tracker.Facts{}, nil
	}
	visits, err := visitRows(f.Visits)
	if err != nil {
		return *f, err
	}
	spans, err := spanRows(f.Spans)
	if err != nil {
		return *f, err
	}
	ratings, err := ratingRows(f.Ratings)
	if err != nil {
		return *f, err
	}
	quality, err := qualityRows(f.Quality)
	if err != nil {
		return *f, err
	}
	for _, c := range f.Cases {
		for _, t := range []time.Time{c.Accepted, c.Deadline, c.Completed} {
			if _, err := factTime(t); err != nil {
				return *f, fmt.Errorf("case %s: %w", c.CaseID, err)
			}
		}
	}

	factsMu.Lock()
	defer factsMu.Unlock()
	if from, to, ok := factsSpan(f); ok {
		s.kpis.writing(from, to)
		defer s.kpis.writing(from, to)
	}
	var cases [][]any
	if len(f.Cases) > 0 {
		if cases, err = s.newCaseRows(ctx, f.Cases); err != nil {
			return *f, err
		}
	}
	// The tables are inserted at once: ClickHouse works on each
	// insert (and the views it feeds) in its own thread.
	// A failed table hands back its own rows (each a field of unstored).
	insert := func(table string, cols []column, rows [][]any, failed func()) func() error {
		return func() error {
			err := s.insertRows(ctx, table, cols, rows)
			if err != nil {
				failed()
			}
			return err
		}
	}
	err = parallel(
		insert("visits", visitColumns, visits, func() { unstored.Visits = f.Visits }),
		insert("window_spans", spanColumns, spans, func() { unstored.Spans = f.Spans }),
		insert("ratings", ratingColumns, ratings, func() { unstored.Ratings = f.Ratings }),
		insert("cases", caseColumns, cases, func() { unstored.Cases = f.Cases }),
		insert("data_quality", qualityColumns, quality, func() { unstored.Quality = f.Quality }))
	return unstored, err
}

// newCaseRows returns the rows of cases to insert: all of them except the
// completed rows of cases completed already (in the table, or by a row of
// lower version in the batch).
func (s *Store) newCaseRows(ctx context.Context, cases []tracker.CaseState) ([][]any, error) {
	first := map[string]int{} // case id -> index of its first completed row
	for i, c := range cases {
		if c.State != caseCompleted {
			continue
		}
		if j, ok := first[c.CaseID]; !ok || c.Version < cases[j].Version {
			first[c.CaseID] = i
		}
	}
	done, err := s.completedCases(ctx, first)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	for i, c := range cases {
		if c.State == caseCompleted && (done[c.CaseID] || first[c.CaseID] != i) {
			continue
		}
		rows = append(rows, []any{
			c.CaseID, c.Tier, c.Hall, c.Department, c.Window, c.Item, c.State,
			mustFactTime(c.Accepted), mustFactTime(c.Deadline), mustFactTime(c.Completed),
			boolUInt8(c.OnTime), c.Version,
		})
	}
	return rows, nil
}

// completedCases tells which of the ids have a completed row in the cases
// table already.
func (s *Store) completedCases(ctx context.Context, ids map[string]int) (map[string]bool, error) {
	if len(ids) == 0 {
		return map[string]bool{}, nil
	}
	t, err := newExternalTable(externalCaseIDsTable, []column{{"case_id", "String"}})
	if err != nil {
		return nil, err
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	for _, id := range sorted {
		if err := t.Append(id); err != nil {
			return nil, fmt.Errorf("analytics: completed cases: %w", err)
		}
	}
	return s.stringSet(clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), "completed cases",
		`SELECT DISTINCT case_id FROM cases WHERE case_id IN (SELECT case_id FROM `+externalCaseIDsTable+`) AND state = 'completed'`)
}

func (s *Store) insertRows(ctx context.Context, table string, cols []column, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	t, release, err := borrowExternalTable(externalInsertTable, cols)
	if err != nil {
		return err
	}
	defer release()
	for _, r := range rows {
		if err := t.Append(r...); err != nil {
			return fmt.Errorf("analytics: insert into %s: %w", table, err)
		}
	}
	return s.insertExternal(ctx, table, cols, t)
}

func visitRows(visits []tracker.Visit) ([][]any, error) {
	rows := make([][]any, 0, len(visits))
	for _, v := range visits {
		var ts [4]time.Time
		for i, t := range []time.Time{v.Issued, v.Called, v.Started, v.Ended} {
			var err error
			if ts[i], err = factTime(t); err != nil {
				return nil, fmt.Errorf("visit %s/%s: %w", v.Hall, v.Ticket, err)
			}
		}
		if v.Calls < 0 || v.Calls > 1<<16-1 {
			return nil, fmt.Errorf("visit %s/%s: %w: %d calls", v.Hall, v.Ticket, ErrInvalidFact, v.Calls)
		}
		rows = append(rows, []any{
			ts[0], v.Tier, v.Hall, v.Department, v.Window, v.Item, v.Staff, v.Ticket,
			v.CaseID, string(v.Outcome), ts[1], ts[2], ts[3], uint16(v.Calls),
			v.WaitSeconds, v.HandleSeconds, boolUInt8(v.MetTarget),
		})
	}
	return rows, nil
}

func spanRows(spans []tracker.Span) ([][]any, error) {
	rows := make([][]any, 0, len(spans))
	for _, sp := range spans {
		start, err := factTime(sp.Start)
		if err != nil {
			return nil, fmt.Errorf("span of window %s: %w", sp.Window, err)
		}
		end, err := factTime(sp.End)
		if err != nil {
			return nil, fmt.Errorf("span of window %s: %w", sp.Window, err)
		}
		if !end.After(start) {
			return nil, fmt.Errorf("span of window %s: %w: end %s is not after start %s",
				sp.Window, ErrInvalidFact, end.Format(time.RFC3339), start.Format(time.RFC3339))
		}
		rows = append(rows, []any{start, end, sp.Tier, sp.Hall, sp.Department, sp.Window, boolUInt8(sp.Inferred)})
	}
	return rows, nil
}

// qualityRows sums the signals per hour, hall, window and kind.
func qualityRows(qs []tracker.Quality) ([][]any, error) {
	type key struct {
		bucket             time.Time
		hall, window, kind string
	}
	n := map[key]uint64{}
	var order []key
	for _, q := range qs {
		ts, err := factTime(q.TS)
		if err != nil {
			return nil, fmt.Errorf("quality signal %s of %s: %w", q.Kind, q.Hall, err)
		}
		k := key{ts.Truncate(time.Hour), q.Hall, q.Window, string(q.Kind)}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	rows := make([][]any, 0, len(order))
	for _, k := range order {
		rows = append(rows, []any{k.bucket, k.hall, k.window, k.kind, n[k]})
	}
	return rows, nil
}

func ratingRows(ratings []tracker.Rating) ([][]any, error) {
	rows := make([][]any, 0, len(ratings))
	for _, r := range ratings {
		ts, err := factTime(r.TS)
		if err != nil {
			return nil, fmt.Errorf("rating %s: %w", r.EventID, err)
		}
		rows = append(rows, []any{
			ts, r.Tier, r.Hall, r.Department, r.Window, r.Item, r.Staff, r.Ticket,
			r.CaseID, r.EventID, r.Rating,
		})
	}
	return rows, nil
}

// factTime is t in whole UTC seconds as a DateTime column stores it; the
// zero time becomes 1970-01-01.
func factTime(t time.Time) (time.Time, error) {
	if t.IsZero() {
		return time.Unix(0, 0).UTC(), nil
	}
	sec, _, ok := timeParts(t)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: time %s is outside what a DateTime holds", ErrInvalidFact, t.Format(time.RFC3339))
	}
	return sec, nil
}

// mustFactTime is factTime for a time checked before.
func mustFactTime(t time.Time) time.Time {
	sec, _ := factTime(t)
	return sec
}

// missingFacts returns the facts of f from since on that the fact tables
// do not hold: what a replay of stored events made that was lost. A visit
// is known by its hall and ticket (tickets are numbered per hall and day,
// and the tracker closes every visit at the end of its day), a span by its
// window and start, a rating by its event id, a case row by its case and
// version (the time of its event).
func (s *Store) missingFacts(ctx context.Context, f tracker.Facts, since time.Time) (tracker.Facts, error) {
	var out tracker.Facts
	keys := func(query string) (map[string]bool, error) {
		return s.stringSet(ctx, "stored facts", query, since.Unix())
	}
	var err error
	if out.Visits, err = unstored(f.Visits, keys, "SELECT DISTINCT concat(hall, '\\x00', ticket) FROM visits WHERE issued >= toDateTime(?, 'UTC')",
		func(v tracker.Visit) string { return v.Hall + "\x00" + v.Ticket }); err != nil {
		return out, err
	}
	if out.Spans, err = unstored(f.Spans, keys, "SELECT DISTINCT concat(hall, '\\x00', `window`, '\\x00', toString(toUInt32(`start`))) FROM window_spans WHERE `start` >= toDateTime(?, 'UTC')",
		func(sp tracker.Span) string {
			return sp.Hall + "\x00" + sp.Window + "\x00" + strconv.FormatInt(sp.Start.Unix(), 10)
		}); err != nil {
		return out, err
	}
	if out.Ratings, err = unstored(f.Ratings, keys, "SELECT DISTINCT event_id FROM ratings WHERE ts >= toDateTime(?, 'UTC')",
		func(r tracker.Rating) string { return r.EventID }); err != nil {
		return out, err
	}
	if out.Cases, err = unstored(f.Cases, keys, "SELECT DISTINCT concat(case_id, '\\x00', toString(version)) FROM cases WHERE version >= toUInt64(?) * 1000",
		func(c tracker.CaseState) string { return c.CaseID + "\x00" + strconv.FormatUint(c.Version, 10) }); err != nil {
		return out, err
	}
	return out, nil
}

// unstored returns the facts whose key the statement's keys (keys runs it)
// do not hold; none are looked up when there are no facts.
func unstored[T any](facts []T, keys func(string) (map[string]bool, error), query string, key func(T) string) ([]T, error) {
	if len(facts) == 0 {
		return nil, nil
	}
	have, err := keys(query)
	if err != nil {
		return nil, err
	}
	var out []T
	for _, f := range facts {
		if !have[key(f)] {
			out = append(out, f)
		}
	}
	return out, nil
}
