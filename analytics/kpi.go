package analytics

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// Level is how KPI rows are grouped.
type Level string

// The KPI levels.
const (
	LevelWindow     Level = "window"
	LevelHall       Level = "hall"
	LevelTier       Level = "tier"
	LevelDepartment Level = "department"
	LevelItem       Level = "item"
	LevelStaff      Level = "staff"
	// LevelHourWeekday groups by hour of day (0-23) and ISO weekday (1
	// Monday … 7 Sunday) in the query's time zone.
	LevelHourWeekday Level = "hour_weekday"
	// LevelNetwork is one row for everything the filters select (its key,
	// network, is "all"): the totals of a dashboard, whose medians cannot
	// be made from the medians of its halls or tiers.
	LevelNetwork Level = "network"
)

// ErrInvalidKPIQuery is returned (wrapped, with what is wrong) by Store.KPI
// for a query it refuses: To not after From, a range over MaxKPIRange, an
// unknown level or sort key, a negative limit, a time zone ClickHouse cannot
// be given. Kind apperr.Invalid; the common problems come with a code of
// their own (apperr.BadRange, RangeTooLong, BadParam), the others are
// apperr.BadQuery.
var ErrInvalidKPIQuery = apperr.BadQuery.New(nil, "invalid KPI query")

// MaxKPIRange is the longest range Store.KPI accepts: two years, one of
// them a leap year.
const MaxKPIRange = 731 * 24 * time.Hour

// DefaultKPITimeZone is the zone of KPIQuery.Location when it is nil (the
// configuration's default hall time zone).
const DefaultKPITimeZone = "Asia/Shanghai"

// KPIQuery asks for the KPIs of one range at one level.
type KPIQuery struct {
	// From and To bound the range, half-open [From, To), to the second.
	// Visits count at the time their ticket was issued, cases at their
	// completion, ratings at their time; window open time is clipped to
	// the range exactly.
	From, To time.Time
	Level    Level
	// Location is the hall time zone, used by LevelHourWeekday. Nil means
	// DefaultKPITimeZone. LevelHourWeekday needs a zone whose UTC offset
	// is a whole number of hours throughout the range (the rollups are
	// per UTC hour).
	Location *time.Location
	// Filters; empty means all. Item does not filter window open time:
	// with it, throughput and utilisation are the item's share of the
	// windows' open time.
	Hall, Tier, Department, Window, Item string
	// Halls, when not nil, keeps the halls it lists only (a user's scope);
	// an empty list keeps none.
	Halls []string
	// Compare adds, for every KPI, its value over the previous period of
	// the same length (prev_<kpi>) and the difference current − previous
	// (delta_<kpi>).
	Compare bool
	// Sort is a column name to order rows by, ascending, or descending
	// with a leading "-" (e.g. "-served", "wait_p90_s"); absent values
	// sort last either way, ties in key order. Empty: key order.
	Sort string
	// Limit keeps the first Limit rows after sorting; 0 keeps all.
	Limit int
	// MaxDirectVisits: a period with at most this many visits (any
	// filter aside, counted by the UTC hour) reads visits from the raw table, where exact quantiles
	// are cheaper than merging rollup states; longer ones read the rollups.
	// Both give the same results. 0 means DefaultMaxDirectVisits, or
	// DefaultMaxDirectVisitsPerWindow for the per-window levels; negative
	// means always the rollups.
	MaxDirectVisits int64
	// Fresh reads ClickHouse even for statements whose rows the store
	// keeps (see kpiCache): for measuring, and for checking the cache.
	Fresh bool

	// only, when set, keeps the groups with these keys (the level's key
	// columns, in order): the rows a ranking shows (see shownKeys).
	only [][]string
	// sumsOnly leaves out the quantiles, the dearest measures: enough to
	// rank on any other KPI.
	sumsOnly bool
}

// DefaultMaxDirectVisits is KPIQuery.MaxDirectVisits when zero. On the
// 2-core reference machine ClickHouse 18.16 reads and ranks about 8-12
// million visits a second directly, while merging rollup states costs about
// a microsecond per state plus 0.1-0.3 µs per distinct value in it; around
// a million visits the two meet (BenchmarkKPIDashboard).
const DefaultMaxDirectVisits = 1_200_000

// DefaultMaxDirectVisitsPerWindow replaces DefaultMaxDirectVisits for the
// levels that need per-window (or finer) rollups: window, department, item
// and staff. Their states are many and small (a window serves some fifty
// visits a day), and merging them costs several times reading the visits
// themselves: on the 17M-visit benchmark history, 30 days by window took
// 0.55 s from the daily rollup and 0.15 s from the raw visits.
const DefaultMaxDirectVisitsPerWindow = 8_000_000

// KPITable is the answer of Store.KPI: one row per group, values aligned
// with Columns. A value is a string (keys), an int64 (counts, seconds,
// hour and weekday), a float64 (rates and averages) or nil where a KPI has
// no meaning: a rate without denominator, a quantile without visits, open
// time at the item and staff levels (spans have neither), completions at
// the staff level (cases have no staff).
type KPITable struct {
	Level Level     `json:"level"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// PrevFrom and PrevTo bound the previous period when Compare was set.
	PrevFrom *time.Time `json:"prev_from,omitempty"`
	PrevTo   *time.Time `json:"prev_to,omitempty"`
	// Columns are stable machine names: the level's key columns (see
	// KeyColumns), then the KPIs (kpiColumns), then prev_ and delta_
	// columns when comparing.
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// Column returns the index of the named column, or -1.
func (t *KPITable) Column(name string) int {
	for i, c := range t.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// WriteCSV writes the table as CSV with a header line of Columns; absent
// values are empty fields, floats are written in full precision.
func (t *KPITable) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return fmt.Errorf("analytics: write KPI CSV: %w", err)
	}
	rec := make([]string, len(t.Columns))
	for _, row := range t.Rows {
		for i, v := range row {
			rec[i] = FormatValue(v)
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("analytics: write KPI CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("analytics: write KPI CSV: %w", err)
	}
	return nil
}

// FormatValue writes a KPITable value as text: empty for an absent value,
// floats in full precision.
func FormatValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// kpiColumns are the KPI columns, in order:
//
//   - tickets: tickets issued; called: visits called (served + no-shows);
//     served; no_shows; abandoned (never called).
//   - open_seconds: window open time clipped to the range, from the
//     windows' own opening events and, for a window that sent none, from
//     its service (first call to last end, see tracker.inferOpen);
//     open_inferred_seconds: the inferred part of it (a row with any is
//     marked so in the console). serving_seconds: handling seconds of
//     served visits; idle_seconds = open − serving, never negative: when
//     a visit issued in the range was served outside the open time of the
//     range, it is null (reason serving_exceeds_open).
//   - throughput_per_hour = served ÷ open hours; utilisation = serving ÷
//     open seconds (at most 1: null with serving_exceeds_open otherwise);
//     idle, throughput and utilisation are null with no_open_time when
//     visits were served and no open time is known.
//   - wait_p50_s, wait_p90_s: wait (call − issue, the last call) of called
//     visits; handle_p50_s, handle_p90_s: handling (end − call) of served
//     visits. Exact nearest-rank quantiles: the smallest v such that at
//     least the share q of the visits are <= v.
//   - service_level = called within the target wait ÷ called; no_show_rate =
//     no-shows ÷ called; abandonment_rate = abandoned ÷ tickets.
//   - completed: cases completed in the range (rejections do not count);
//     completed_unknown: those whose time limit could not be counted (no
//     acceptance seen, or an item without a limit), which the on-time rate
//     leaves out; completed_on_time; on_time_rate = on time ÷ (completed −
//     unknown), null with limit_unknown when every completion is unknown.
//   - ratings; rating_avg; rating_1 … rating_5: count per level.
//   - unknown_reasons: why KPIs of the row that the data should give are
//     null, as "column:reason" separated by commas ("" when none); the
//     reasons are the ones named above. A KPI that is null because there
//     is nothing to measure (no visit, no completion) has no reason.
var kpiColumns = []string{
	"tickets", "called", "served", "no_shows", "abandoned",
	"open_seconds", "open_inferred_seconds", "serving_seconds", "idle_seconds",
	"throughput_per_hour", "utilisation",
	"wait_p50_s", "wait_p90_s", "handle_p50_s", "handle_p90_s",
	"service_level", "no_show_rate", "abandonment_rate",
	"completed", "completed_unknown", "completed_on_time", "on_time_rate",
	"ratings", "rating_avg", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5",
	"unknown_reasons",
}

// quantileColumns are the kpiColumns made from the visits' quantiles.
var quantileColumns = map[string]bool{"wait_p50_s": true, "wait_p90_s": true, "handle_p50_s": true, "handle_p90_s": true}

// networkKey is LevelNetwork's key column: the constant "all".
const networkKey = "network"

// levelKeys are the key columns of each level, then its attribute columns
// (values of the group, not part of the key).
var levelKeys = map[Level]struct{ keys, attrs []string }{
	LevelWindow:      {[]string{"hall", "window"}, []string{"tier", "department"}},
	LevelHall:        {[]string{"hall"}, []string{"tier"}},
	LevelTier:        {[]string{"tier"}, nil},
	LevelDepartment:  {[]string{"department"}, nil},
	LevelItem:        {[]string{"item"}, nil},
	LevelStaff:       {[]string{"staff"}, nil},
	LevelHourWeekday: {[]string{"weekday", "hour"}, nil},
	LevelNetwork:     {[]string{networkKey}, nil},
}

// KeyColumns returns the key and attribute columns that lead the rows of a
// level, or nil for an unknown level.
func KeyColumns(l Level) []string {
	k, ok := levelKeys[l]
	if !ok {
		return nil
	}
	return append(append([]string(nil), k.keys...), k.attrs...)
}

// GroupKeys returns the key columns of a level alone (without the
// attributes KeyColumns adds), or nil for an unknown level.
func GroupKeys(l Level) []string {
	return append([]string(nil), levelKeys[l].keys...)
}

var zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-/]*$`)

// KPI computes the KPIs of q (see KPIQuery and KPITable). A query it
// refuses fails with ErrInvalidKPIQuery.
func (s *Store) KPI(ctx context.Context, q KPIQuery) (*KPITable, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	cols := append(KeyColumns(q.Level), kpiColumns...)
	if q.Compare {
		for _, p := range []string{"prev_", "delta_"} {
			for _, c := range kpiColumns {
				cols = append(cols, p+c)
			}
		}
	}
	sortCol, desc := strings.CutPrefix(q.Sort, "-")
	sortIdx := -1
	if sortCol != "" {
		for i, c := range cols {
			if c == sortCol {
				sortIdx = i
			}
		}
		if sortIdx < 0 {
			return nil, apperr.BadParam.New(apperr.P{"param": "sort", "value": q.Sort}, "%w: unknown sort key %q", ErrInvalidKPIQuery, q.Sort)
		}
	}

	periods := [][2]time.Time{{q.From, q.To}}
	if q.Compare {
		periods = append(periods, [2]time.Time{q.From.Add(-q.To.Sub(q.From)), q.From})
	}
	var kinds []*factKind
	for _, k := range factKinds {
		if k.servesLevel(q.Level) {
			kinds = append(kinds, k)
		}
	}
	// A ranking with a limit (sorted on a current KPI) needs the visits'
	// quantiles, their dearest measures, only for the rows it shows, and
	// with the previous period (Compare) the previous visits only for
	// those: they are read once the current period is ranked (see
	// shownKeys), unless the ranking is on a quantile.
	nk := len(KeyColumns(q.Level))
	ranking := q.Limit > 0 && sortIdx >= nk && sortIdx < nk+len(kpiColumns) &&
		q.Level != LevelHourWeekday && q.Level != LevelNetwork && slices.Contains(kinds, visitsKind)
	twoPhase := ranking && !quantileColumns[cols[sortIdx]]
	narrow := twoPhase || ranking && q.Compare
	groups := make([]map[string]*kpiAcc, len(periods))
	var first []func() error
	for i, p := range periods {
		groups[i] = map[string]*kpiAcc{}
		var reads []kindRead
		for _, k := range kinds {
			kq := q
			switch {
			case k != visitsKind || !narrow:
			case i > 0:
				continue
			case twoPhase:
				kq.sumsOnly = true
			}
			reads = append(reads, kindRead{k, kq})
		}
		first = append(first, func() error { return s.readKinds(ctx, p[0], p[1], groups[i], reads...) })
	}
	if err := parallel(first...); err != nil {
		return nil, err
	}
	if narrow {
		pq := q
		pq.only = shownKeys(q, groups[0], sortIdx, desc)
		if pq.only == nil {
			pq = q // cannot tell the shown rows before reading: read them all
		}
		var then []func() error
		for i, p := range periods {
			// The current period's shown rows get their full visits only
			// in two phases, where they replace the sums (kpiAcc.add sets
			// a kind's measures); the previous period's were not read.
			if i > 0 || twoPhase {
				then = append(then, func() error { return s.readKinds(ctx, p[0], p[1], groups[i], kindRead{visitsKind, pq}) })
			}
		}
		if err := parallel(then...); err != nil {
			return nil, err
		}
	}

	t := &KPITable{Level: q.Level, From: q.From.UTC(), To: q.To.UTC(), Columns: cols}
	if q.Compare {
		pf, pt := periods[1][0].UTC(), periods[1][1].UTC()
		t.PrevFrom, t.PrevTo = &pf, &pt
	}
	t.Rows = kpiRows(q, groups)
	sortRows(q, t.Rows, sortIdx, desc)
	if q.Limit > 0 && len(t.Rows) > q.Limit {
		t.Rows = t.Rows[:q.Limit]
	}
	return t, nil
}

// kindRead is a kind to read and the query to read it for.
type kindRead struct {
	k *factKind
	q KPIQuery
}

// readKinds reads the kinds' measures over [from, to), their statements at
// once, and adds the rows to groups.
func (s *Store) readKinds(ctx context.Context, from, to time.Time, groups map[string]*kpiAcc, reads ...kindRead) error {
	var mu sync.Mutex
	fs := make([]func() error, len(reads))
	for i, r := range reads {
		fs[i] = func() error {
			rows, err := s.readKind(ctx, r.q, r.k, from, to)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			for _, row := range rows {
				acc := groups[row.key]
				if acc == nil {
					acc = &kpiAcc{keys: row.keys, attrs: slices.Clone(row.attrs)} // rows may be cached: not theirs to change
					groups[row.key] = acc
				}
				acc.add(r.k, row)
			}
			return nil
		}
	}
	return parallel(fs...)
}

// kpiRows makes the table rows of the groups of each period, the current
// one first, over every key any period has.
func kpiRows(q KPIQuery, groups []map[string]*kpiAcc) [][]any {
	keys := map[string][]any{}
	for _, g := range groups {
		for k, a := range g {
			if _, ok := keys[k]; !ok {
				keys[k] = a.keys
			}
		}
	}
	var out [][]any
	for k, kv := range keys {
		row := append([]any(nil), kv...)
		attrs := make([]any, len(levelKeys[q.Level].attrs))
		for i := range attrs {
			attrs[i] = ""
		}
		var vals [][]any
		for _, g := range groups {
			a := g[k]
			if a == nil {
				a = &kpiAcc{}
			}
			for i, v := range a.attrs {
				if attrs[i] == "" {
					attrs[i] = v
				}
			}
			vals = append(vals, a.values(q.Level))
		}
		row = append(row, attrs...)
		row = append(row, vals[0]...)
		if len(vals) > 1 {
			row = append(row, vals[1]...)
			for i := range vals[0] {
				row = append(row, delta(vals[0][i], vals[1][i]))
			}
		}
		out = append(out, row)
	}
	return out
}

// sortRows orders rows by column sortIdx (none if negative), then by their
// keys.
func sortRows(q KPIQuery, rows [][]any, sortIdx int, desc bool) {
	nkeys := len(levelKeys[q.Level].keys)
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if sortIdx >= 0 {
			if c := compareValues(a[sortIdx], b[sortIdx], desc); c != 0 {
				return c < 0
			}
		}
		for k := range nkeys {
			if c := compareValues(a[k], b[k], false); c != 0 {
				return c < 0
			}
		}
		return false
	})
}

// shownKeys returns the keys of the rows a ranking q shows, from the
// current period's groups alone: the first q.Limit rows sorted on
// sortIdx, a current KPI. That holds for the whole table only when a key
// the previous period alone has, whose current KPIs are those of no
// activity, sorts after all of them; else shownKeys returns nil.
func shownKeys(q KPIQuery, current map[string]*kpiAcc, sortIdx int, desc bool) [][]string {
	rows := kpiRows(q, []map[string]*kpiAcc{current})
	if len(rows) < q.Limit {
		return nil
	}
	sortRows(q, rows, sortIdx, desc)
	idle := (&kpiAcc{}).values(q.Level)[sortIdx-len(KeyColumns(q.Level))]
	if compareValues(idle, rows[q.Limit-1][sortIdx], desc) <= 0 {
		return nil
	}
	nkeys := len(levelKeys[q.Level].keys)
	out := make([][]string, q.Limit)
	for i, r := range rows[:q.Limit] {
		for _, v := range r[:nkeys] {
			out[i] = append(out[i], v.(string))
		}
	}
	return out
}

// check validates q and fills in its default location.
func (q *KPIQuery) check() error {
	if !q.To.After(q.From) {
		return apperr.BadRange.New(nil, "%w: to %s is not after from %s", ErrInvalidKPIQuery, q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	if q.To.Sub(q.From) > MaxKPIRange {
		return apperr.RangeTooLong.New(nil, "%w: the range %s … %s is longer than two years", ErrInvalidKPIQuery, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if q.From.Unix() < 0 || q.To.Unix() > 1<<32-1 {
		return fmt.Errorf("%w: the range %s … %s is outside what ClickHouse's DateTime holds", ErrInvalidKPIQuery, q.From.Format(time.RFC3339), q.To.Format(time.RFC3339))
	}
	if _, ok := levelKeys[q.Level]; !ok {
		return fmt.Errorf("%w: unknown level %q", ErrInvalidKPIQuery, q.Level)
	}
	if q.Limit < 0 {
		return fmt.Errorf("%w: negative limit %d", ErrInvalidKPIQuery, q.Limit)
	}
	if q.MaxDirectVisits == 0 {
		q.MaxDirectVisits = DefaultMaxDirectVisits
		if visitsKind.need(*q)&(dimDepartment|dimWindow|dimItem|dimStaff) != 0 {
			q.MaxDirectVisits = DefaultMaxDirectVisitsPerWindow
		}
	}
	if q.Location == nil {
		loc, err := time.LoadLocation(DefaultKPITimeZone)
		if err != nil {
			return fmt.Errorf("analytics: KPI query: load the default time zone: %w", err)
		}
		q.Location = loc
	}
	if q.Level != LevelHourWeekday {
		return nil
	}
	if name := q.Location.String(); !zoneName.MatchString(name) || name == "Local" {
		return fmt.Errorf("%w: time zone %q has no IANA name ClickHouse knows", ErrInvalidKPIQuery, name)
	}
	from := q.From
	if q.Compare {
		from = from.Add(-q.To.Sub(q.From))
	}
	for t := from.In(q.Location); t.Before(q.To); {
		if _, off := t.Zone(); off%3600 != 0 {
			return fmt.Errorf("%w: time zone %s is %s off UTC at %s: hour_weekday needs whole hours",
				ErrInvalidKPIQuery, q.Location, time.Duration(off)*time.Second, t.Format(time.RFC3339))
		}
		_, end := t.ZoneBounds()
		if end.IsZero() {
			break
		}
		t = end
	}
	return nil
}

// readKind returns the rows of kind k over [from, to) for q: those the
// store keeps for its statement, else (or when q.Fresh) ClickHouse's.
func (s *Store) readKind(ctx context.Context, q KPIQuery, k *factKind, from, to time.Time) ([]kindRow, error) {
	sql, err := s.kindSQL(ctx, q, k, from, to)
	if err != nil {
		return nil, err
	}
	rows, hit, writes := s.kpis.get(sql)
	if hit && !q.Fresh {
		return rows, nil
	}
	rows, err = s.kindRows(ctx, k, q, sql)
	if err != nil {
		return nil, err
	}
	s.kpis.put(sql, from, to, rows, writes)
	return rows, nil
}

// kindSQL is the statement that reads kind k over [from, to) for q. Visits
// are read from the raw table when the period has at most
// q.MaxDirectVisits of them, or when q keeps a few groups only (q.only),
// else from the rollups; a statement whose rows the store keeps is taken
// as it is.
func (s *Store) kindSQL(ctx context.Context, q KPIQuery, k *factKind, from, to time.Time) (string, error) {
	sql := k.sql(q, from, to)
	if k != visitsKind || q.MaxDirectVisits < 0 {
		return sql, nil
	}
	direct := k.directSQL(q, from, to)
	switch {
	case q.only != nil:
		return direct, nil
	case !q.Fresh && s.kpis.has(direct):
		return direct, nil
	case !q.Fresh && s.kpis.has(sql):
		return sql, nil
	}
	n, err := s.countVisits(ctx, from, to)
	if err != nil {
		return "", err
	}
	if n <= q.MaxDirectVisits {
		return direct, nil
	}
	return sql, nil
}

// countVisits counts the visits issued in the UTC hours that [from, to)
// touches, from the network's hourly rollup: some hundred rows a month
// rather than a read of the visits' issued column.
func (s *Store) countVisits(ctx context.Context, from, to time.Time) (int64, error) {
	var n uint64
	err := s.conn.QueryRow(ctx, `SELECT sumMerge(tickets) FROM visits_network_hourly WHERE bucket >= toDateTime(?, 'UTC') AND bucket < toDateTime(?, 'UTC')`,
		floorBucket(from.Unix(), hourSeconds), ceilBucket(to.Unix(), hourSeconds)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("analytics: KPI query: count visits: %w", err)
	}
	return int64(n), nil
}

// kpiAcc accumulates one group's measures over the fact kinds.
type kpiAcc struct {
	keys  []any
	attrs []string

	tickets, called, served, noShows, abandoned, metTarget, serving uint64
	waitQ, handleQ                                                  []uint32
	open, openInferred                                              uint64
	completed, onTime, limitUnknown                                 uint64
	ratings, ratingSum                                              uint64
	byRating                                                        [5]uint64
}

func (a *kpiAcc) add(k *factKind, r kindRow) {
	for i, v := range r.attrs {
		if a.attrs[i] == "" {
			a.attrs[i] = v
		}
	}
	m := r.vals
	switch k.name {
	case "visits":
		a.tickets, a.called, a.served, a.noShows, a.abandoned, a.metTarget, a.serving = m[0], m[1], m[2], m[3], m[4], m[5], m[6]
		if len(r.qs) == 2 { // else read without them (KPIQuery.sumsOnly)
			a.waitQ, a.handleQ = r.qs[0], r.qs[1]
		}
	case "spans":
		a.open, a.openInferred = m[0], m[1]
	case "completions":
		a.completed, a.onTime, a.limitUnknown = m[0], m[1], m[2]
	case "ratings":
		a.ratings, a.ratingSum = m[0], m[1]
		copy(a.byRating[:], m[2:7])
	}
}

// values returns the group's KPIs in kpiColumns order.
func (a *kpiAcc) values(l Level) []any {
	i64 := func(v uint64) any { return int64(v) }
	ratio := func(n, d uint64) any {
		if d == 0 {
			return nil
		}
		return float64(n) / float64(d)
	}
	quant := func(q []uint32, i int, n uint64) any {
		if n == 0 || len(q) <= i {
			return nil
		}
		return int64(q[i])
	}
	var reasons []string
	unknown := func(col, reason string) { reasons = append(reasons, col+":"+reason) }
	var open, inferred, idle, throughput, util any
	if l != LevelItem && l != LevelStaff {
		open, inferred = i64(a.open), i64(a.openInferred)
		switch {
		case a.open == 0 && a.served == 0 && a.serving == 0:
			idle = int64(0) // nothing open, nothing served
		case a.open == 0:
			for _, c := range []string{"idle_seconds", "throughput_per_hour", "utilisation"} {
				unknown(c, "no_open_time")
			}
		case a.serving > a.open:
			throughput = float64(a.served) * 3600 / float64(a.open)
			unknown("idle_seconds", "serving_exceeds_open")
			unknown("utilisation", "serving_exceeds_open")
		default:
			idle = int64(a.open - a.serving)
			throughput = float64(a.served) * 3600 / float64(a.open)
			util = float64(a.serving) / float64(a.open)
		}
	}
	var completed, completedUnknown, onTime, onTimeRate any
	if l != LevelStaff {
		known := a.completed - min(a.limitUnknown, a.completed)
		completed, completedUnknown, onTime = i64(a.completed), i64(a.limitUnknown), i64(a.onTime)
		onTimeRate = ratio(a.onTime, known)
		if known == 0 && a.completed > 0 {
			unknown("on_time_rate", "limit_unknown")
		}
	}
	out := []any{
		i64(a.tickets), i64(a.called), i64(a.served), i64(a.noShows), i64(a.abandoned),
		open, inferred, i64(a.serving), idle, throughput, util,
		quant(a.waitQ, 0, a.called), quant(a.waitQ, 1, a.called),
		quant(a.handleQ, 0, a.served), quant(a.handleQ, 1, a.served),
		ratio(a.metTarget, a.called), ratio(a.noShows, a.called), ratio(a.abandoned, a.tickets),
		completed, completedUnknown, onTime, onTimeRate,
		i64(a.ratings), ratio(a.ratingSum, a.ratings),
	}
	for _, n := range a.byRating {
		out = append(out, i64(n))
	}
	return append(out, strings.Join(reasons, ","))
}

// delta is cur − prev, or nil if either is absent.
func delta(cur, prev any) any {
	switch c := cur.(type) {
	case int64:
		if p, ok := prev.(int64); ok {
			return c - p
		}
	case float64:
		if p, ok := prev.(float64); ok {
			return c - p
		}
	}
	return nil
}

// compareValues orders two cell values; nil sorts last whether desc or not.
func compareValues(a, b any, desc bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	c := 0
	switch a := a.(type) {
	case string:
		c = strings.Compare(a, b.(string))
	case int64:
		c = cmpOrdered(a, b.(int64))
	case float64:
		c = cmpOrdered(a, b.(float64))
	}
	if desc {
		c = -c
	}
	return c
}

func cmpOrdered[T int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
