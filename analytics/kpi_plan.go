package analytics

import (
	"context"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
)

// How Store.KPI reads the facts: for each fact kind one SQL statement, a
// GROUP BY over a UNION ALL of pieces that tile [From, To) exactly. Whole
// UTC months and days come from a daily rollup, whole hours at the edges of the days
// from an hourly rollup, and the sub-hour edges from the raw fact table; at
// each step the rollup with the fewest dimensions that still has those the
// query needs (level keys, attributes, filters) is chosen. Visits also
// have weekly and monthly rollups, used for the whole weeks and UTC months
// of long ranges. Rollup pieces
// select the stored states and raw pieces build the same states, so the
// outer GROUP BY merges them into exact results (see 0007_rollups.sql).
//
// Visits over a period of up to a few million (KPIQuery.MaxDirectVisits)
// are read from the raw table alone instead (directSQL), where exact
// quantiles cost less than merging states; at the window level grouped by
// the number window_key rather than the two name strings (windowKeyedSQL).

// dims is a set of fact dimensions.
type dims uint8

const (
	dimTier dims = 1 << iota
	dimHall
	dimDepartment
	dimWindow
	dimItem
	dimStaff

	dimsHall   = dimTier | dimHall
	dimsWindow = dimsHall | dimDepartment | dimWindow
	dimsAll    = dimsWindow | dimItem | dimStaff
)

var dimByName = map[string]dims{
	"tier": dimTier, "hall": dimHall, "department": dimDepartment,
	"window": dimWindow, "item": dimItem, "staff": dimStaff,
}

const (
	hourSeconds  = 3600
	daySeconds   = 86400
	weekSeconds  = 7 * daySeconds // from Thursdays, 00:00 UTC (the Unix epoch's weekday)
	monthSeconds = -1             // calendar months: see floorBucket
)

// floorBucket is t (Unix seconds) rounded down to a multiple of bucket, or
// to the start of its UTC month for monthSeconds.
func floorBucket(t, bucket int64) int64 {
	if bucket == monthSeconds {
		u := time.Unix(t, 0).UTC()
		return time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	return t / bucket * bucket
}

// ceilBucket is t rounded up like floorBucket rounds down.
func ceilBucket(t, bucket int64) int64 {
	f := floorBucket(t, bucket)
	if f == t {
		return t
	}
	if bucket == monthSeconds {
		return time.Unix(f, 0).UTC().AddDate(0, 1, 0).Unix()
	}
	return f + bucket
}

// rollup is a rollup table: its dimensions and its bucket in seconds.
type rollup struct {
	table  string
	dims   dims
	bucket int64
}

// measure is a measured column: its name in the rollups, the expression that
// makes the same value (or state) from a raw row, and whether it is a
// quantiles state (else a UInt64 sum or sum state).
type measure struct {
	name, raw string
	quantiles bool
	// direct is the aggregate over raw rows when the kind is read from its
	// raw table alone (see factKind.directSQL); empty for kinds never read
	// so.
	direct string
}

// factKind is one kind of fact with its raw table and rollups.
type factKind struct {
	name    string
	raw     string // raw table
	rawTime string // its time column
	// aggregating: the rollups hold aggregate states (AggregatingMergeTree),
	// so raw pieces group and build states; else they hold plain sums.
	aggregating bool
	// spans: raw rows are intervals [`start`, `end`) clipped to the piece.
	spans    bool
	dims     dims
	rollups  []rollup
	measures []measure
}

// quantilesState builds the distribution states of the rollups. Their merge,
// quantilesExactWeighted, is the nearest-rank quantile: the smallest value v
// whose cumulative weight reaches ceil(q × total) (verified on 18.16 by
// TestKPIFixture, e.g. p50 of 60 100 is 60).
const quantilesState = "quantilesExactWeightedStateIf(0.5, 0.9)"

// quantilesDirect computes the same quantiles from raw rows, about four
// times faster on 18.16 than merging hash-map states: quantileExact sorts
// the values and returns the element at index floor(level × n), and with
// level = q − 1e-9 that index is ceil(q × n) − 1, the nearest rank, for
// every n below 10^8 (q × n is a multiple of 0.1 for q = 0.5 and 0.9, so
// the 1e-9 × n shift only moves the exact multiples down by one).
const quantilesDirect = "quantilesExactIf(0.499999999, 0.899999999)"

// factKinds are the kinds Store.KPI reads, in the order their attributes are
// preferred. Their measures must match 0007_rollups.sql.
var factKinds = []*factKind{
	{
		name: "visits", raw: "visits", rawTime: "issued", aggregating: true, dims: dimsAll,
		rollups: []rollup{
			{"visits_hourly", dimsAll, hourSeconds},
			{"visits_window_hourly", dimsWindow, hourSeconds},
			{"visits_hall_hourly", dimsHall, hourSeconds},
			{"visits_network_hourly", 0, hourSeconds},
			{"visits_window_daily", dimsWindow, daySeconds},
			{"visits_hall_daily", dimsHall, daySeconds},
			{"visits_window_weekly", dimsWindow, weekSeconds},
			{"visits_window_monthly", dimsWindow, monthSeconds},
			{"visits_hall_monthly", dimsHall, monthSeconds},
		},
		measures: []measure{
			{"tickets", "sumState(toUInt64(1))", false, "count()"},
			{"called", "sumState(toUInt64(outcome != 'abandoned'))", false, "sum(toUInt64(outcome != 'abandoned'))"},
			{"served", "sumState(toUInt64(outcome = 'served'))", false, "sum(toUInt64(outcome = 'served'))"},
			{"no_shows", "sumState(toUInt64(outcome = 'no_show'))", false, "sum(toUInt64(outcome = 'no_show'))"},
			{"abandoned", "sumState(toUInt64(outcome = 'abandoned'))", false, "sum(toUInt64(outcome = 'abandoned'))"},
			{"met_target", "sumState(toUInt64(met_target = 1 AND outcome != 'abandoned'))", false, "sum(toUInt64(met_target = 1 AND outcome != 'abandoned'))"},
			{"serving_seconds", "sumState(toUInt64(if(outcome = 'served', handle_seconds, 0)))", false, "sum(toUInt64(if(outcome = 'served', handle_seconds, 0)))"},
			{"wait_q", quantilesState + "(wait_seconds, toUInt64(1), outcome != 'abandoned')", true, quantilesDirect + "(wait_seconds, outcome != 'abandoned')"},
			{"handle_q", quantilesState + "(handle_seconds, toUInt64(1), outcome = 'served')", true, quantilesDirect + "(handle_seconds, outcome = 'served')"},
		},
	},
	{
		name: "spans", raw: "window_spans", rawTime: "`start`", spans: true, dims: dimsWindow,
		rollups: []rollup{
			{"spans_hall_hourly", dimsHall, hourSeconds},
			{"spans_window_daily", dimsWindow, daySeconds},
		},
		// A raw span's measure is its seconds within the piece, times the
		// measure's raw factor when it has one.
		measures: []measure{{"open_seconds", "", false, ""}, {"inferred_seconds", "inferred", false, ""}},
	},
	{
		name: "ratings", raw: "ratings", rawTime: "ts", dims: dimsAll,
		rollups: []rollup{
			{"ratings_hourly", dimsAll, hourSeconds},
			{"ratings_hall_hourly", dimsHall, hourSeconds},
			{"ratings_window_daily", dimsWindow, daySeconds},
		},
		measures: []measure{
			{"ratings", "toUInt64(1)", false, ""},
			{"rating_sum", "toUInt64(rating)", false, ""},
			{"rating_1", "toUInt64(rating = 1)", false, ""},
			{"rating_2", "toUInt64(rating = 2)", false, ""},
			{"rating_3", "toUInt64(rating = 3)", false, ""},
			{"rating_4", "toUInt64(rating = 4)", false, ""},
			{"rating_5", "toUInt64(rating = 5)", false, ""},
		},
	},
	{
		name: "completions", raw: "completions", rawTime: "completed", dims: dimsWindow | dimItem,
		rollups: []rollup{
			{"completions_hourly", dimsWindow | dimItem, hourSeconds},
			{"completions_hall_hourly", dimsHall, hourSeconds},
			{"completions_window_daily", dimsWindow, daySeconds},
		},
		measures: []measure{
			{"completed_cases", "toUInt64(1)", false, ""},
			{"on_time_cases", "toUInt64(on_time)", false, ""},
			{"unknown_cases", "toUInt64(limit_unknown)", false, ""},
		},
	},
}

// visitsKind is the visits entry of factKinds, whose size decides between
// the raw table and the rollups (KPIQuery.MaxDirectVisits).
var visitsKind = factKinds[slices.IndexFunc(factKinds, func(k *factKind) bool { return k.name == "visits" })]

// measuresFor returns the measures q reads of the kind: all of them, or
// those that are not quantiles when q.sumsOnly.
func (k *factKind) measuresFor(q KPIQuery) []measure {
	if !q.sumsOnly {
		return k.measures
	}
	var out []measure
	for _, m := range k.measures {
		if !m.quantiles {
			out = append(out, m)
		}
	}
	return out
}

// servesLevel tells whether the kind has the dimensions of the level's keys.
func (k *factKind) servesLevel(l Level) bool {
	for _, c := range levelKeys[l].keys {
		if d, ok := dimByName[c]; ok && k.dims&d == 0 {
			return false
		}
	}
	return true
}

// need is the set of dimensions a query needs of the kind: its level's keys
// and attributes and the filters the kind can apply (others are ignored).
func (k *factKind) need(q KPIQuery) dims {
	var d dims
	for _, c := range KeyColumns(q.Level) {
		d |= dimByName[c]
	}
	for _, f := range q.filters() {
		d |= dimByName[f[0]]
	}
	if q.Halls != nil {
		d |= dimHall
	}
	return d & k.dims
}

func (q KPIQuery) filters() [][2]string {
	var out [][2]string
	for _, f := range [][2]string{{"hall", q.Hall}, {"tier", q.Tier}, {"department", q.Department}, {"window", q.Window}, {"item", q.Item}} {
		if f[1] != "" {
			out = append(out, f)
		}
	}
	return out
}

// piece is a part of the range read from one table: a rollup, or the raw
// table when table is nil.
type piece struct {
	table    *rollup
	from, to int64
}

// plan tiles [from, to) with pieces: the coarsest rollup having need for
// the aligned middle, finer ones for the edges. Day, week and month rollups
// are not used when hourOnly (hour of day in a zone).
func (k *factKind) plan(need dims, from, to int64, hourOnly bool) []piece {
	buckets := []int64{monthSeconds, weekSeconds, daySeconds, hourSeconds}
	if hourOnly {
		buckets = buckets[3:]
	}
	var out []piece
	var tile func(from, to int64, level int)
	tile = func(from, to int64, level int) {
		if from >= to {
			return
		}
		if level == len(buckets) {
			out = append(out, piece{nil, from, to})
			return
		}
		b := buckets[level]
		r := k.bestRollup(need, b)
		start, end := ceilBucket(from, b), floorBucket(to, b)
		if r == nil || start >= end {
			tile(from, to, level+1)
			return
		}
		tile(from, start, level+1)
		out = append(out, piece{r, start, end})
		tile(end, to, level+1)
	}
	tile(from, to, 0)
	return out
}

func (k *factKind) bestRollup(need dims, bucket int64) *rollup {
	var best *rollup
	for i := range k.rollups {
		r := &k.rollups[i]
		if r.bucket != bucket || r.dims&need != need {
			continue
		}
		if best == nil || bits.OnesCount8(uint8(r.dims)) < bits.OnesCount8(uint8(best.dims)) {
			best = r
		}
	}
	return best
}

// directSQL is the statement that reads the kind's measures over [from, to)
// from its raw table alone, aggregating plainly (measure.direct). For
// visits it is faster than the rollups when the range holds up to a few
// million visits (see KPIQuery.MaxDirectVisits).
func (k *factKind) directSQL(q KPIQuery, from, to time.Time) string {
	if k == visitsKind && q.Level == LevelWindow {
		return k.windowKeyedSQL(q, from, to)
	}
	lk := levelKeys[q.Level]
	var sel, group []string
	for _, c := range lk.keys {
		sel = append(sel, keyExpr(q, c, k.rawTime))
		group = append(group, quoteIdent(c))
	}
	for _, c := range lk.attrs {
		sel = append(sel, "any("+quoteIdent(c)+")")
	}
	for _, m := range k.measuresFor(q) {
		sel = append(sel, m.direct)
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM " + k.raw + " WHERE " + k.rawWhere(q, from, to) +
		" GROUP BY " + strings.Join(group, ", ")
}

// rawWhere selects the raw rows of [from, to) that pass q's filters.
func (k *factKind) rawWhere(q KPIQuery, from, to time.Time) string {
	where := []string{
		k.rawTime + " >= toDateTime(" + strconv.FormatInt(from.Unix(), 10) + ", 'UTC')",
		k.rawTime + " < toDateTime(" + strconv.FormatInt(to.Unix(), 10) + ", 'UTC')",
	}
	where = append(where, k.filterWhere(q, k == visitsKind && q.Level == LevelWindow)...)
	return strings.Join(where, " AND ")
}

// filterWhere is the conditions of q's filters the kind can apply, and of
// q.only (on visits.window_key when windowKey).
func (k *factKind) filterWhere(q KPIQuery, windowKey bool) []string {
	var where []string
	for _, f := range q.filters() {
		if k.dims&dimByName[f[0]] != 0 {
			where = append(where, quoteIdent(f[0])+" = "+quoteString(f[1]))
		}
	}
	if w := hallsWhere("hall", q.Halls); w != "" && k.dims&dimHall != 0 {
		where = append(where, w)
	}
	if q.only != nil {
		where = append(where, q.onlyWhere(windowKey))
	}
	return where
}

// keyExpr selects the level key column c of a row whose time is timeCol:
// hour and weekday in q's zone, the network's constant, else the column.
func keyExpr(q KPIQuery, c, timeCol string) string {
	switch c {
	case "hour":
		return "toHour(" + timeCol + ", " + quoteString(q.Location.String()) + ") AS hour"
	case "weekday":
		return "toDayOfWeek(" + timeCol + ", " + quoteString(q.Location.String()) + ") AS weekday"
	case networkKey:
		// A full column, not a constant: grouped by over a Distributed
		// table, 18.16 refuses a constant key that the shards' results
		// carry as a column (code 171, "must be constant in result").
		return "materialize('all') AS " + networkKey
	}
	return quoteIdent(c)
}

// onlyWhere is the condition that keeps q.only: on the level's key columns,
// or on visits.window_key when windowKey.
func (q KPIQuery) onlyWhere(windowKey bool) string {
	cols := levelKeys[q.Level].keys
	var col string
	var vals []string
	for _, key := range q.only {
		quoted := make([]string, len(key))
		for i, v := range key {
			quoted[i] = quoteString(v)
		}
		switch {
		case windowKey:
			vals = append(vals, "cityHash64("+strings.Join(quoted, ", ")+")")
		case len(quoted) == 1:
			vals = append(vals, quoted[0])
		default:
			vals = append(vals, "("+strings.Join(quoted, ", ")+")")
		}
	}
	switch {
	case windowKey:
		col = "window_key"
	case len(cols) == 1:
		col = quoteIdent(cols[0])
	default:
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = quoteIdent(c)
		}
		col = "(" + strings.Join(quoted, ", ") + ")"
	}
	if len(vals) == 0 {
		return "0"
	}
	return col + " IN (" + strings.Join(vals, ", ") + ")"
}

// windowKeyExpr makes visits.window_key (0010_visits_window_key.sql) from a
// row's names, for the rollups, which do not store it.
const windowKeyExpr = "cityHash64(hall, `window`)"

// windowKeyedSQL is directSQL for the window level: it groups the visits
// by window_key, one number, about twice as fast as by the hall and window
// strings on 18.16, and joins the names (and the tier and department) from
// the daily window rollup's buckets over the range, which hold every window
// that had a visit in it. Two windows would share a row only if their
// 64-bit hashes collided.
func (k *factKind) windowKeyedSQL(q KPIQuery, from, to time.Time) string {
	lk := levelKeys[LevelWindow]
	var inner, outer []string
	for _, c := range append(slices.Clone(lk.keys), lk.attrs...) {
		outer = append(outer, quoteIdent(c))
	}
	for _, m := range k.measuresFor(q) {
		// Prefixed: an alias equal to a column used inside the aggregate
		// (met_target) would be read in its place.
		inner = append(inner, m.direct+" AS m_"+m.name)
		outer = append(outer, "m_"+m.name)
	}
	names, group := []string{windowKeyExpr + " AS window_key"}, []string{}
	for _, c := range lk.keys {
		names = append(names, quoteIdent(c))
		group = append(group, quoteIdent(c))
	}
	for _, c := range lk.attrs {
		names = append(names, "any("+quoteIdent(c)+") AS "+quoteIdent(c))
	}
	days := k.bestRollup(dimsWindow, daySeconds)
	return "SELECT " + strings.Join(outer, ", ") +
		" FROM (SELECT window_key, " + strings.Join(inner, ", ") + " FROM " + k.raw + " WHERE " + k.rawWhere(q, from, to) + " GROUP BY window_key)" +
		" ANY LEFT JOIN (SELECT " + strings.Join(names, ", ") + " FROM " + days.table +
		" WHERE bucket >= toDateTime(" + strconv.FormatInt(floorBucket(from.Unix(), daySeconds), 10) + ", 'UTC')" +
		" AND bucket < toDateTime(" + strconv.FormatInt(ceilBucket(to.Unix(), daySeconds), 10) + ", 'UTC')" +
		" GROUP BY " + strings.Join(group, ", ") + ") USING window_key"
}

// sql is the statement that reads the kind's measures over [from, to) for q.
func (k *factKind) sql(q KPIQuery, from, to time.Time) string {
	lk := levelKeys[q.Level]
	var pieces []string
	for _, p := range k.plan(k.need(q), from.Unix(), to.Unix(), q.Level == LevelHourWeekday) {
		pieces = append(pieces, k.pieceSQL(q, lk.keys, lk.attrs, p))
	}
	var sel, group []string
	for _, c := range lk.keys {
		sel = append(sel, quoteIdent(c))
		group = append(group, quoteIdent(c))
	}
	for _, c := range lk.attrs {
		sel = append(sel, "any("+quoteIdent(c)+")")
	}
	for _, m := range k.measuresFor(q) {
		switch {
		case m.quantiles:
			sel = append(sel, "quantilesExactWeightedMerge(0.5, 0.9)("+m.name+")")
		case k.aggregating:
			sel = append(sel, "sumMerge("+m.name+")")
		default:
			sel = append(sel, "sum("+m.name+")")
		}
	}
	return "SELECT " + strings.Join(sel, ", ") + " FROM (\n" + strings.Join(pieces, "\nUNION ALL\n") +
		"\n) GROUP BY " + strings.Join(group, ", ")
}

func (k *factKind) pieceSQL(q KPIQuery, keys, attrs []string, p piece) string {
	timeCol, table := "bucket", ""
	if p.table != nil {
		table = p.table.table
	} else {
		timeCol, table = k.rawTime, k.raw
	}
	var sel, group []string
	for _, c := range keys {
		sel = append(sel, keyExpr(q, c, timeCol))
		group = append(group, quoteIdent(c))
	}
	for _, c := range attrs {
		sel = append(sel, quoteIdent(c))
		group = append(group, quoteIdent(c))
	}
	from, to := strconv.FormatInt(p.from, 10), strconv.FormatInt(p.to, 10)
	var where []string
	for _, m := range k.measuresFor(q) {
		switch {
		case p.table != nil:
			sel = append(sel, m.name)
		case k.spans:
			secs := "toUInt64(least(toUInt32(`end`), " + to + ") - greatest(toUInt32(`start`), " + from + "))"
			if m.raw != "" {
				secs += " * toUInt64(" + m.raw + ")"
			}
			sel = append(sel, secs+" AS "+m.name)
		default:
			sel = append(sel, m.raw+" AS "+m.name)
		}
	}
	if p.table == nil && k.spans {
		// Spans lie within one UTC hour: the lower bound on start lets the
		// primary key skip what ends before the piece.
		where = append(where,
			"`start` >= toDateTime("+strconv.FormatInt(max(p.from-hourSeconds, 0), 10)+", 'UTC')",
			"`start` < toDateTime("+to+", 'UTC')",
			"`end` > toDateTime("+from+", 'UTC')")
	} else {
		where = append(where,
			timeCol+" >= toDateTime("+from+", 'UTC')",
			timeCol+" < toDateTime("+to+", 'UTC')")
	}
	where = append(where, k.filterWhere(q, false)...)
	s := "SELECT " + strings.Join(sel, ", ") + " FROM " + table + " WHERE " + strings.Join(where, " AND ")
	if p.table == nil && k.aggregating {
		s += " GROUP BY " + strings.Join(group, ", ")
	}
	return s
}

func quoteIdent(c string) string {
	if c == "window" {
		return "`window`"
	}
	return c
}

// kindRow is one group of one kind's statement.
type kindRow struct {
	key   string // the keys joined, for matching groups across kinds
	keys  []any
	attrs []string
	vals  []uint64   // the non-quantile measures, in order
	qs    [][]uint32 // the quantile measures, in order
}

func (s *Store) kindRows(ctx context.Context, k *factKind, q KPIQuery, sql string) ([]kindRow, error) {
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("analytics: KPI query on %s: %w", k.name, err)
	}
	defer rows.Close()
	lk := levelKeys[q.Level]
	measures := k.measuresFor(q)
	var out []kindRow
	for rows.Next() {
		var (
			strKeys = make([]string, len(lk.keys))
			numKeys = make([]uint8, len(lk.keys))
			attrs   = make([]string, len(lk.attrs))
			vals    []uint64
			qs      [][]uint32
			dest    []any
		)
		for i, c := range lk.keys {
			if c == "hour" || c == "weekday" {
				dest = append(dest, &numKeys[i])
			} else {
				dest = append(dest, &strKeys[i])
			}
		}
		for i := range attrs {
			dest = append(dest, &attrs[i])
		}
		nq := 0
		for _, m := range measures {
			if m.quantiles {
				nq++
			}
		}
		vals = make([]uint64, len(measures)-nq)
		qs = make([][]uint32, nq)
		vi, qi := 0, 0
		for _, m := range measures {
			if m.quantiles {
				dest = append(dest, &qs[qi])
				qi++
			} else {
				dest = append(dest, &vals[vi])
				vi++
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("analytics: KPI query on %s: %w", k.name, err)
		}
		r := kindRow{attrs: attrs, vals: vals, qs: qs}
		var key strings.Builder
		for i, c := range lk.keys {
			if c == "hour" || c == "weekday" {
				r.keys = append(r.keys, int64(numKeys[i]))
				fmt.Fprintf(&key, "%d\x00", numKeys[i])
			} else {
				r.keys = append(r.keys, strKeys[i])
				key.WriteString(strKeys[i] + "\x00")
			}
		}
		r.key = key.String()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: KPI query on %s: %w", k.name, err)
	}
	return out, nil
}
