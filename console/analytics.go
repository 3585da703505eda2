package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// The KPI API (managers): every table over the KPIs of analytics.Store.KPI,
// as JSON rows keyed by column name or as CSV (?format=csv).

// kpiStore is what the analytics endpoints need.
type kpiStore interface {
	KPI(ctx context.Context, q analytics.KPIQuery) (*analytics.KPITable, error)
	Distribution(ctx context.Context, q analytics.DistributionQuery) ([]analytics.DistributionBucket, error)
	Quality(ctx context.Context, q analytics.QualityQuery) ([]analytics.QualityRow, error)
}

// maxBuckets bounds ?bucket= tables: one KPI query per bucket.
const maxBuckets = 62

// kpiQuery reads the query parameters shared by the analytics endpoints:
// ?from=&to= (RFC 3339 or YYYY-MM-DD in the halls' zone; default the last
// 7 days), ?hall=&tier=&department=&window=&item=, ?compare=1, ?sort=
// (a column, "-" first for descending) or ?sort=&order=desc, ?limit=.
func (s *Server) kpiQuery(c *gin.Context, level analytics.Level) (analytics.KPIQuery, error) {
	loc := s.Config.Location()
	from, to, err := queryRange(c, s.Now(), 7*24*time.Hour, loc)
	if err != nil {
		return analytics.KPIQuery{}, err
	}
	q := analytics.KPIQuery{From: from, To: to, Level: level, Location: loc,
		Hall: c.Query("hall"), Tier: c.Query("tier"), Department: c.Query("department"), Window: c.Query("window"), Item: c.Query("item"),
		Sort: c.Query("sort")}
	if q.Hall != "" {
		if _, ok := s.Config.FindHall(q.Hall); !ok {
			return q, apperr.UnknownHall.New(apperr.P{"hall": q.Hall}, "hall: unknown hall %q", q.Hall)
		}
	}
	if q.Tier != "" && q.Tier != "city" && q.Tier != "district" && q.Tier != "community" {
		return q, apperr.BadParam.New(apperr.P{"param": "tier", "value": q.Tier}, "tier: %q is not city, district or community", q.Tier)
	}
	if q.Window != "" {
		if _, ok := s.Config.FindWindow(q.Window); !ok {
			return q, apperr.UnknownWindow.New(apperr.P{"window": q.Window}, "window: unknown window %q", q.Window)
		}
	}
	// A scoped manager's tables cover its halls only; naming a hall or
	// window outside them is refused rather than answered empty.
	scope := caller(c).scope
	if err := scope.checkHall(q.Hall); q.Hall != "" && err != nil {
		return q, err
	}
	if err := scope.checkWindow(s.Config, q.Window); err != nil {
		return q, err
	}
	q.Halls = scope.halls(s.Config)
	if q.Item != "" {
		if _, ok := s.Config.FindItem(q.Item); !ok {
			return q, apperr.UnknownItem.New(apperr.P{"item": q.Item}, "item: unknown item code %q", q.Item)
		}
	}
	switch v := c.Query("compare"); v {
	case "", "0", "false":
	case "1", "true":
		q.Compare = true
	default:
		return q, apperr.BadParam.New(apperr.P{"param": "compare", "value": v}, "compare: %q is not 1 or 0", v)
	}
	switch o := c.Query("order"); o {
	case "", "asc":
	case "desc":
		if q.Sort != "" && !strings.HasPrefix(q.Sort, "-") {
			q.Sort = "-" + q.Sort
		}
	default:
		return q, apperr.BadParam.New(apperr.P{"param": "order", "value": o}, "order: %q is not asc or desc", o)
	}
	if c.Query("limit") != "" {
		if q.Limit, err = queryLimit(c, 0, 100000); err != nil {
			return q, err
		}
	}
	return q, nil
}

// handleKPI serves GET /api/v1/analytics/kpi?level=window|hall|tier|
// department|item|staff|hour_weekday|network and the shared parameters.
func (s *Server) handleKPI(c *gin.Context) {
	level := analytics.Level(c.DefaultQuery("level", "window"))
	if analytics.KeyColumns(level) == nil {
		writeError(c, s.log, apperr.BadParam.New(apperr.P{"param": "level", "value": level}, "level: %q is not one of window, hall, tier, department, item, staff, hour_weekday, network", level))
		return
	}
	q, err := s.kpiQuery(c, level)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	s.serveKPI(c, q, "kpi-"+string(level))
}

// handleWindowKPI serves GET /api/v1/analytics/windows (CONTRACT.md): the
// KPIs per window, and with ?bucket=hour|day per window per bucket.
func (s *Server) handleWindowKPI(c *gin.Context) {
	q, err := s.kpiQuery(c, analytics.LevelWindow)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var step time.Duration
	switch b := c.Query("bucket"); b {
	case "", "all":
		s.serveKPI(c, q, "windows")
		return
	case "hour":
		step = time.Hour
	case "day":
		step = 24 * time.Hour
	default:
		writeError(c, s.log, apperr.BadParam.New(apperr.P{"param": "bucket", "value": b}, "bucket: %q is not hour, day or all", b))
		return
	}
	loc := s.Config.Location()
	// Buckets start at the halls' local hour or midnight.
	l := q.From.In(loc)
	start := time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, loc)
	if step == 24*time.Hour {
		start = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	}
	var bounds []time.Time
	for t := start; t.Before(q.To); t = next(t, step, loc) {
		bounds = append(bounds, t)
		if len(bounds) > maxBuckets {
			writeError(c, s.log, apperr.TooManyBuckets.New(apperr.P{"max": maxBuckets}, "bucket: more than %d buckets in the range: use a coarser bucket or a shorter range", maxBuckets))
			return
		}
	}
	var out *analytics.KPITable
	for _, b := range bounds {
		bq := q
		bq.From, bq.To = maxTime(b, q.From), minTime(next(b, step, loc), q.To)
		bq.Limit = 0
		t, err := s.Store.KPI(c.Request.Context(), bq)
		if err != nil {
			s.kpiError(c, err)
			return
		}
		if out == nil {
			out = &analytics.KPITable{Level: t.Level, From: q.From, To: q.To, PrevFrom: t.PrevFrom, PrevTo: t.PrevTo,
				Columns: append([]string{"bucket"}, t.Columns...)}
		}
		for _, r := range t.Rows {
			out.Rows = append(out.Rows, append([]any{b.Format(time.RFC3339)}, r...))
		}
	}
	if out == nil {
		out = &analytics.KPITable{Level: q.Level, From: q.From, To: q.To, Columns: append([]string{"bucket"}, analytics.KeyColumns(q.Level)...)}
	}
	s.writeKPI(c, q, out, "windows-by-"+c.Query("bucket"))
}

func next(t time.Time, step time.Duration, loc *time.Location) time.Time {
	if step == 24*time.Hour {
		return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
	}
	return t.Add(step)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func (s *Server) serveKPI(c *gin.Context, q analytics.KPIQuery, name string) {
	t, err := s.Store.KPI(c.Request.Context(), q)
	if err != nil {
		s.kpiError(c, err)
		return
	}
	s.writeKPI(c, q, t, name)
}

func (s *Server) kpiError(c *gin.Context, err error) {
	if errors.Is(err, apperr.Invalid) {
		writeError(c, s.log, err)
		return
	}
	s.log.Warn("KPI query", "err", err)
	writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "analytics unavailable: retry later"))
}

// writeKPI answers with the table: CSV as is, or JSON rows keyed by column
// with, per row, a "key" (the key columns joined by "/"), a "name" to show
// (from the configuration) and its "name_en" where the configuration
// gives one, the ratings as an array and, when comparing,
// "previous" and "delta" objects.
func (s *Server) writeKPI(c *gin.Context, q analytics.KPIQuery, t *analytics.KPITable, name string) {
	if wantCSV(c) {
		rows := make([][]string, len(t.Rows))
		for i, r := range t.Rows {
			rows[i] = make([]string, len(r))
			for j, v := range r {
				rows[i][j] = analytics.FormatValue(v)
			}
		}
		writeCSV(c, name+".csv", t.Columns, rows)
		return
	}
	keys := analytics.GroupKeys(t.Level)
	rows := make([]map[string]any, len(t.Rows))
	for i, r := range t.Rows {
		row := map[string]any{}
		var prev, delta map[string]any
		var keyParts []string
		for j, col := range t.Columns {
			v := r[j]
			switch {
			case strings.HasPrefix(col, "prev_"):
				if prev == nil {
					prev = map[string]any{}
				}
				prev[strings.TrimPrefix(col, "prev_")] = v
			case strings.HasPrefix(col, "delta_"):
				if delta == nil {
					delta = map[string]any{}
				}
				delta[strings.TrimPrefix(col, "delta_")] = v
			default:
				row[col] = v
			}
		}
		for _, k := range keys {
			keyParts = append(keyParts, analytics.FormatValue(row[k]))
		}
		row["key"] = strings.Join(keyParts, "/")
		row["name"] = s.groupName(t.Level, row)
		if en := s.groupNameEN(t.Level, row); en != "" {
			row["name_en"] = en
		}
		row["ratings"] = []any{row["rating_1"], row["rating_2"], row["rating_3"], row["rating_4"], row["rating_5"]}
		if prev != nil {
			row["previous"], row["delta"] = prev, delta
		}
		rows[i] = row
	}
	resp := gin.H{"level": t.Level, "from": t.From.UTC().Format(time.RFC3339), "to": t.To.UTC().Format(time.RFC3339),
		"columns": t.Columns, "rows": rows, "previous": nil}
	if t.PrevFrom != nil && t.PrevTo != nil {
		resp["previous"] = gin.H{"from": t.PrevFrom.UTC().Format(time.RFC3339), "to": t.PrevTo.UTC().Format(time.RFC3339)}
	}
	c.JSON(http.StatusOK, resp)
}

// tierNames are the tiers as the console shows them.
var tierNames = map[string]string{"city": "市级", "district": "区级", "community": "社区"}

// groupName is how a group is called in the configuration.
func (s *Server) groupName(l analytics.Level, row map[string]any) string {
	str := func(k string) string { v, _ := row[k].(string); return v }
	switch l {
	case analytics.LevelWindow:
		if ref, ok := s.Config.FindWindow(str("window")); ok {
			return ref.Window.Name
		}
		return str("window")
	case analytics.LevelHall:
		if h, ok := s.Config.FindHall(str("hall")); ok {
			return h.Name
		}
		return str("hall")
	case analytics.LevelTier:
		if n, ok := tierNames[str("tier")]; ok {
			return n
		}
		return str("tier")
	case analytics.LevelItem:
		if it, ok := s.Config.FindItem(str("item")); ok {
			return it.Name
		}
		return str("item")
	case analytics.LevelDepartment:
		return str("department")
	case analytics.LevelStaff:
		return str("staff")
	}
	return ""
}

// groupNameEN is a group's English name, where the configuration gives
// one (items and departments).
func (s *Server) groupNameEN(l analytics.Level, row map[string]any) string {
	str := func(k string) string { v, _ := row[k].(string); return v }
	switch l {
	case analytics.LevelItem:
		if it, ok := s.Config.FindItem(str("item")); ok {
			return it.NameEN
		}
	case analytics.LevelDepartment:
		return s.Config.DepartmentEN(str("department"))
	}
	return ""
}

// handleDistribution serves GET /api/v1/analytics/distribution?metric=
// wait|handle&bucket_seconds= and the shared range and filters.
func (s *Server) handleDistribution(c *gin.Context) {
	q, err := s.kpiQuery(c, analytics.LevelWindow)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	dq := analytics.DistributionQuery{From: q.From, To: q.To, Metric: c.DefaultQuery("metric", "wait"),
		Hall: q.Hall, Tier: q.Tier, Department: q.Department, Window: q.Window, Item: q.Item, Halls: q.Halls}
	if v := c.Query("bucket_seconds"); v != "" {
		if dq.BucketSeconds, err = strconv.Atoi(v); err != nil {
			writeError(c, s.log, apperr.BadParam.New(apperr.P{"param": "bucket_seconds", "value": v}, "bucket_seconds: %q is not a number", v))
			return
		}
	}
	buckets, err := s.Store.Distribution(c.Request.Context(), dq)
	if err != nil {
		s.kpiError(c, err)
		return
	}
	if wantCSV(c) {
		rows := make([][]string, len(buckets))
		for i, b := range buckets {
			rows[i] = []string{strconv.FormatInt(b.FromS, 10), strconv.FormatInt(b.ToS, 10), strconv.FormatInt(b.Count, 10)}
		}
		writeCSV(c, dq.Metric+"-distribution.csv", []string{"from_s", "to_s", "count"}, rows)
		return
	}
	c.JSON(http.StatusOK, gin.H{"metric": dq.Metric, "from": q.From.UTC().Format(time.RFC3339), "to": q.To.UTC().Format(time.RFC3339),
		"buckets": buckets})
}

// handleQuality serves GET /api/v1/analytics/quality?from=&to=&hall=
// (&late_minutes=, default 60): per hall and window, how many events the
// range holds and what they show the queue system is not sending (see
// analytics.QualityRow), as JSON or CSV.
func (s *Server) handleQuality(c *gin.Context) {
	q, err := s.kpiQuery(c, analytics.LevelWindow)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	qq := analytics.QualityQuery{From: q.From, To: q.To, Hall: q.Hall, Halls: q.Halls}
	if v := c.Query("late_minutes"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 || m > 7*24*60 {
			writeError(c, s.log, apperr.BadParam.New(apperr.P{"param": "late_minutes", "value": v}, "late_minutes: %q is not a number of minutes from 1 to 10080", v))
			return
		}
		qq.LateAfter = time.Duration(m) * time.Minute
	}
	rows, err := s.Store.Quality(c.Request.Context(), qq)
	if err != nil {
		s.kpiError(c, err)
		return
	}
	if wantCSV(c) {
		out := make([][]string, len(rows))
		u := func(n uint64) string { return strconv.FormatUint(n, 10) }
		for i, r := range rows {
			out[i] = []string{r.Hall, r.Window, u(r.Events), u(r.EndWithoutStart), u(r.CallWithoutTicket),
				u(r.CompletedWithoutAcceptance), u(r.OutOfOrder), u(r.Late)}
		}
		writeCSV(c, "data-quality.csv", []string{"hall", "window", "events", "end_without_start", "call_without_ticket",
			"completed_without_acceptance", "out_of_order", "late"}, out)
		return
	}
	c.JSON(http.StatusOK, gin.H{"from": q.From.UTC().Format(time.RFC3339), "to": q.To.UTC().Format(time.RFC3339),
		"late_after_minutes": int(qq.Late() / time.Minute), "rows": rows})
}
