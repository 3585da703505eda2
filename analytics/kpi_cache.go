package analytics

import (
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
)

// kpiCacheTTL is how long rows are kept at most: facts stored by another
// program (a "sunlight simulate --backfill" beside the server) are seen
// within it.
const kpiCacheTTL = 2 * time.Minute

// kpiCacheEntries bounds the statements kpiCache keeps (the oldest go
// first). A window-level statement is a few thousand rows.
const kpiCacheEntries = 256

// kpiCache keeps the rows of KPI statements (Store.KPI reads one per fact
// kind and period) for as long as no fact in their range is stored, so
// that the periods dashboards ask for again and again — last month,
// the previous period of a comparison, last quarter by hour and
// weekday — are read from ClickHouse once. Facts reach ClickHouse through
// Store.InsertFacts alone, which drops the entries whose range overlaps the
// times of what it stores; a write by another program is seen once the
// rows expire (kpiCacheTTL).
//
// A statement that ran while facts were being stored may have read some of
// them and not others: its rows are not kept (writes counts the starts and
// ends of fact inserts; it is odd while one runs).
type kpiCache struct {
	mu      sync.Mutex
	writes  uint64
	entries map[string]*kpiCacheEntry
	order   []string // keys, oldest first
	now     func() time.Time
}

type kpiCacheEntry struct {
	from, to int64 // the statement's range, Unix seconds [from, to)
	rows     []kindRow
	expires  time.Time
}

func (c *kpiCache) clock() time.Time {
	if c.now == nil {
		return time.Now()
	}
	return c.now()
}

// live returns the entry of sql unless it has expired.
func (c *kpiCache) live(sql string) (*kpiCacheEntry, bool) {
	e, ok := c.entries[sql]
	if !ok || !c.clock().Before(e.expires) {
		return nil, false
	}
	return e, true
}

// get returns the rows kept for the statement sql, and the write count to
// give put.
func (c *kpiCache) get(sql string) (rows []kindRow, ok bool, writes uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, hit := c.live(sql); hit {
		return e.rows, true, c.writes
	}
	return nil, false, c.writes
}

// has tells whether rows of sql are kept.
func (c *kpiCache) has(sql string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.live(sql)
	return ok
}

// put keeps the rows of sql over [from, to) unless facts were being stored
// while they were read (writes is what get returned before the read).
func (c *kpiCache) put(sql string, from, to time.Time, rows []kindRow, writes uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if writes != c.writes || writes%2 == 1 {
		return
	}
	if c.entries == nil {
		c.entries = map[string]*kpiCacheEntry{}
	}
	if _, ok := c.entries[sql]; !ok {
		c.order = append(c.order, sql)
	}
	c.entries[sql] = &kpiCacheEntry{from: from.Unix(), to: to.Unix(), rows: rows, expires: c.clock().Add(kpiCacheTTL)}
	for len(c.order) > kpiCacheEntries {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

// writing marks the start (and, called again, the end) of a fact insert
// over [from, to] and drops the entries overlapping it: at the start for
// the statements that begin while it runs, at the end for those that
// ended before it did.
func (c *kpiCache) writing(from, to int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	kept := c.order[:0]
	for _, k := range c.order {
		if e := c.entries[k]; e.from <= to && from < e.to {
			delete(c.entries, k)
			continue
		}
		kept = append(kept, k)
	}
	c.order = kept
}

// factsSpan returns the earliest and latest time (Unix seconds) of any
// fact in f, whichever the time a KPI reads it by; ok is false when f is
// empty.
func factsSpan(f *tracker.Facts) (from, to int64, ok bool) {
	add := func(t time.Time) {
		if t.IsZero() {
			return
		}
		u := t.Unix()
		if !ok {
			from, to, ok = u, u, true
			return
		}
		from, to = min(from, u), max(to, u)
	}
	for _, v := range f.Visits {
		add(v.Issued)
	}
	for _, s := range f.Spans {
		add(s.Start)
		add(s.End)
	}
	for _, r := range f.Ratings {
		add(r.TS)
	}
	for _, c := range f.Cases {
		add(c.Completed)
		add(c.Accepted)
	}
	return from, to, ok
}
