package analytics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// SegmentRow is one recorded video segment as the recording_segments table
// indexes it: streaming's SegmentInfo plus the hall (analytics does not
// import streaming; the caller converts).
type SegmentRow struct {
	// Window is the stream's id (the service window the camera watches);
	// Hall is the hall of the window.
	Window, Hall string
	// Path is the segment's file: with Window, the row's identity.
	// Indexing a path again replaces its row.
	Path string
	// StreamID identifies the timeline StartDTS and EndDTS are on.
	StreamID string
	// Codec names the video codec.
	Codec string
	// Seq numbers the window's segments.
	Seq uint64
	// Start and End are the wall-clock times of the segment, stored in UTC
	// with millisecond precision (truncated). A segment still being
	// written has End == Start and Closed false (see SegmentsBetween).
	Start, End time.Time
	// StartDTS and EndDTS (exclusive) are the decode times in 90 kHz
	// ticks.
	StartDTS, EndDTS int64
	// Frames is the number of video frames. Stored as UInt32 (capped).
	Frames int
	// Bytes is the size of the file's complete part. Stored as UInt64 (a
	// negative value as 0).
	Bytes int64
	// GapBefore tells that the previous segment did not end where this one
	// starts; Closed that the recorder closed the segment cleanly.
	GapBefore, Closed bool
	// Width and Height are the picture size. Stored as UInt16 (capped).
	Width, Height int
}

// ErrInvalidSegment is returned (wrapped) by Store.UpsertSegments for a row
// without window or path, or with a time ClickHouse's DateTime cannot hold
// (before 1970 or after 2106). Nothing of the batch is written then.
var ErrInvalidSegment = errors.New("analytics: invalid segment row")

// segmentColumns are the columns of recording_segments, in the order of the
// values UpsertSegments appends.
var segmentColumns = []column{
	{"window", "String"},
	{"hall", "String"},
	{"path", "String"},
	{"seq", "UInt64"},
	{"stream_id", "String"},
	{"start", "DateTime('UTC')"},
	{"start_ms", "UInt16"},
	{"end", "DateTime('UTC')"},
	{"end_ms", "UInt16"},
	{"start_dts", "Int64"},
	{"end_dts", "Int64"},
	{"frames", "UInt32"},
	{"bytes", "UInt64"},
	{"gap_before", "UInt8"},
	{"codec", "String"},
	{"width", "UInt16"},
	{"height", "UInt16"},
	{"closed", "UInt8"},
	{"indexed_at", "DateTime('UTC')"},
	{"version", "UInt64"},
}

// segmentSelect reads the columns scanSegment expects, deduplicated.
const segmentSelect = "SELECT `window`, hall, path, seq, stream_id, `start`, start_ms, `end`, end_ms," +
	" start_dts, end_dts, frames, bytes, gap_before, codec, width, height, closed" +
	" FROM recording_segments FINAL"

// segmentOrder orders segments by start time (then sequence and path, so
// the order is total).
const segmentOrder = " ORDER BY `start`, start_ms, seq, path"

// versions hands out the version numbers of the ReplacingMergeTree tables
// of this package (recording_segments, legal_holds): the clock's Unix
// nanoseconds, but strictly increasing within the process, so a row written
// after another always replaces it, even within one clock tick or with a
// clock that stands still (tests).
var versions struct {
	mu   sync.Mutex
	last uint64
}

func nextVersion(now time.Time) uint64 {
	v := uint64(max(now.UnixNano(), 0))
	versions.mu.Lock()
	defer versions.mu.Unlock()
	if v <= versions.last {
		v = versions.last + 1
	}
	versions.last = v
	return v
}

// UpsertSegments indexes rows in one insert: a row replaces the stored row
// of the same window and path (a segment indexed when it opened, then when
// it closed, or again by a rebuild from disk). Of two rows of one batch
// with the same window and path, the later one is kept.
//
// A row without window or path, or with a time a DateTime cannot hold,
// fails the whole batch with ErrInvalidSegment. Values wider than their
// column are capped (see SegmentRow).
func (s *Store) UpsertSegments(ctx context.Context, rows []SegmentRow) error {
	if len(rows) == 0 {
		return nil
	}
	type key struct{ window, path string }
	last := make(map[key]int, len(rows))
	for i, r := range rows {
		if r.Window == "" || r.Path == "" {
			return fmt.Errorf("%w: row %d has no window or path", ErrInvalidSegment, i)
		}
		if _, _, ok := timeParts(r.Start); !ok {
			return fmt.Errorf("%w: segment %q: start %s is out of range", ErrInvalidSegment, r.Path, r.Start.Format(time.RFC3339))
		}
		if _, _, ok := timeParts(r.End); !ok {
			return fmt.Errorf("%w: segment %q: end %s is out of range", ErrInvalidSegment, r.Path, r.End.Format(time.RFC3339))
		}
		last[key{r.Window, r.Path}] = i
	}

	t, err := newExternalTable(externalInsertTable, segmentColumns)
	if err != nil {
		return err
	}
	now := s.now()
	indexedAt, _, ok := timeParts(now)
	if !ok {
		indexedAt = time.Unix(0, 0).UTC()
	}
	version := nextVersion(now)
	for i, r := range rows {
		if last[key{r.Window, r.Path}] != i {
			continue
		}
		start, startMs, _ := timeParts(r.Start)
		end, endMs, _ := timeParts(r.End)
		if err := t.Append(r.Window, r.Hall, r.Path, r.Seq, r.StreamID,
			start, startMs, end, endMs, r.StartDTS, r.EndDTS,
			uint32(clamp(int64(r.Frames), 0, math.MaxUint32)), uint64(max(r.Bytes, 0)),
			boolUInt8(r.GapBefore), r.Codec,
			uint16(clamp(r.Width, 0, math.MaxUint16)), uint16(clamp(r.Height, 0, math.MaxUint16)),
			boolUInt8(r.Closed), indexedAt, version); err != nil {
			return fmt.Errorf("analytics: upsert segments: %w", err)
		}
	}
	return s.insertExternal(ctx, "recording_segments", segmentColumns, t)
}

func boolUInt8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// SegmentsBetween returns the segments of window that overlap the time
// range [from, to), ordered by start: those with Start < to and End > from
// (compared in milliseconds). A segment still being written (not Closed,
// End == Start: the recorder has not reported its end yet) is taken to go on
// and is returned when Start < to. An empty range (from >= to) returns
// nothing.
func (s *Store) SegmentsBetween(ctx context.Context, window string, from, to time.Time) ([]SegmentRow, error) {
	if !from.Before(to) {
		return nil, nil
	}
	fromMs := clamp(from.UnixMilli(), 0, math.MaxUint32*1000)
	toMs := clamp(to.UnixMilli(), 0, math.MaxUint32*1000+999)
	// The whole-second conditions on `start` and `end` use the primary key
	// and skip granules; the millisecond ones make the bounds exact.
	query := segmentSelect + " WHERE `window` = ?" +
		" AND `start` <= toDateTime(?, 'UTC') AND toUInt64(`start`) * 1000 + start_ms < ?" +
		" AND ((`end` >= toDateTime(?, 'UTC') AND toUInt64(`end`) * 1000 + end_ms > ?)" +
		" OR (closed = 0 AND `end` = `start` AND end_ms = start_ms))" +
		segmentOrder
	out, err := s.querySegments(ctx, query, window, toMs/1000, toMs, fromMs/1000, fromMs)
	if err != nil {
		return nil, fmt.Errorf("analytics: segments of window %s: %w", window, err)
	}
	return out, nil
}

// AllSegments returns every indexed segment, ordered by window and start:
// what reconciling the index with the files on disk needs.
func (s *Store) AllSegments(ctx context.Context) ([]SegmentRow, error) {
	out, err := s.querySegments(ctx, segmentSelect+" ORDER BY `window`, `start`, start_ms, seq, path")
	if err != nil {
		return nil, fmt.Errorf("analytics: all segments: %w", err)
	}
	return out, nil
}

func (s *Store) querySegments(ctx context.Context, query string, args ...any) ([]SegmentRow, error) {
	rows, err := s.conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SegmentRow
	for rows.Next() {
		var (
			r              SegmentRow
			start, end     time.Time
			startMs, endMs uint16
			frames         uint32
			bytes          uint64
			gap, closed    uint8
			width, height  uint16
		)
		if err := rows.Scan(&r.Window, &r.Hall, &r.Path, &r.Seq, &r.StreamID, &start, &startMs, &end, &endMs,
			&r.StartDTS, &r.EndDTS, &frames, &bytes, &gap, &r.Codec, &width, &height, &closed); err != nil {
			return nil, err
		}
		r.Start, r.End = joinTime(start, startMs), joinTime(end, endMs)
		r.Frames, r.Bytes = int(frames), int64(min(bytes, math.MaxInt64))
		r.GapBefore, r.Closed = gap != 0, closed != 0
		r.Width, r.Height = int(width), int(height)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// maxDeleteQuery bounds the text of one ALTER ... DELETE statement, well
// below ClickHouse's default max_query_size (256 KiB).
const maxDeleteQuery = 128 << 10

// DeleteSegments removes the rows of these paths (of any window) from the
// index and waits until they are gone. Unknown paths are ignored. Delete
// many paths per call (a retention pass at once), not one by one: every
// call rewrites the table's data parts that hold any of them.
//
// ClickHouse deletes with a mutation (ALTER TABLE ... DELETE, since
// 1.1.54388, so on 18.16 too), which runs in the background after the
// statement returns; DeleteSegments then polls system.mutations until the
// table has no unfinished mutation (mutations_sync does not exist on
// 18.16), until ctx ends or for at most 2 minutes. After such a time-out
// the error says so and ClickHouse goes on with the mutation. The paths are
// written into the statement as quoted string literals (see quoteString):
// a mutation is stored as text and run later, when an external table sent
// with the statement no longer exists. Long lists are split into several
// statements.
func (s *Store) DeleteSegments(ctx context.Context, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	table, onCluster := "recording_segments", ""
	if s.cluster != nil {
		// A mutation of the shards' tables: a Distributed table has none.
		table, onCluster = localName(table), s.cluster.onCluster()
	}
	head := "ALTER TABLE " + table + onCluster + " DELETE WHERE path IN ("
	var b strings.Builder
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		query := head + b.String() + ")"
		b.Reset()
		if err := s.conn.Exec(ctx, query); err != nil {
			return fmt.Errorf("analytics: delete segments: %w", err)
		}
		return nil
	}
	seen := make(map[string]struct{}, len(paths))
	for _, p := range paths {
		if _, dup := seen[p]; dup {
			continue
		}
		seen[p] = struct{}{}
		lit := quoteString(p)
		if b.Len() > 0 && b.Len()+len(lit)+len(head)+3 > maxDeleteQuery {
			if err := flush(); err != nil {
				return err
			}
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(lit)
	}
	if err := flush(); err != nil {
		return err
	}
	// On a cluster this waits for the mutation on the node this store is
	// connected to; the other replicas and shards run theirs meanwhile.
	return s.waitMutations(ctx, table)
}

// mutationPoll is how often waitMutations looks at system.mutations.
const mutationPoll = 50 * time.Millisecond

// maxMutationWait bounds waitMutations when ctx has no earlier deadline: a
// mutation that fails is retried by ClickHouse forever and never done.
const maxMutationWait = 2 * time.Minute

// waitMutations waits until table has no unfinished mutation.
func (s *Store) waitMutations(ctx context.Context, table string) error {
	ctx, cancel := context.WithTimeout(ctx, maxMutationWait)
	defer cancel()
	for {
		var pending uint64
		if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0",
			s.database, table).Scan(&pending); err != nil {
			return fmt.Errorf("analytics: wait for the mutations of %s: %w", table, err)
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("analytics: wait for the mutations of %s (%d pending): %w", table, pending, ctx.Err())
		case <-time.After(mutationPoll):
		}
	}
}

// quoteString returns s as a ClickHouse string literal: in single quotes,
// with backslashes and single quotes escaped by a backslash and control
// bytes (below 0x20, and 0x7F) written as \xHH. Other bytes, UTF-8
// included, stand for themselves.
func quoteString(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7F:
			b.WriteString(`\x`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
