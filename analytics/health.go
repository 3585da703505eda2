package analytics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// StreamHealthRow is one camera's stream health over one health interval, as
// stored in the stream_health table.
type StreamHealthRow struct {
	// TS is the end of the interval. It is stored in UTC with whole seconds
	// (truncated); a zero TS means now.
	TS time.Time
	// Hall and Window say which camera: the hall and the service window it
	// watches.
	Hall, Window string
	// State is the camera's state at the end of the interval (ingest's
	// CameraState names).
	State string
	// BitrateBps is the RTP payload (video and audio) in bits per second.
	BitrateBps float64
	// FPS is video frames per second. Stored as Float32.
	FPS float64
	// KeyframeInterval is the last observed time between two IDRs, 0 until
	// two were seen. Stored in whole milliseconds (truncated), at most
	// math.MaxUint32 ms; a negative value is stored as 0.
	KeyframeInterval time.Duration
	// Lost and Reordered are RTP packets lost and received out of order in
	// the interval.
	Lost, Reordered uint64
	// JitterMs is the video's RFC 3550 interarrival jitter in ms. Stored as
	// Float32.
	JitterMs float64
	// Reconnects is sessions that came up again in the interval. Stored as
	// UInt32 (larger values are capped).
	Reconnects uint64
	// KeyframeTooLong says the keyframe interval slows every viewer's start.
	KeyframeTooLong bool
	// Viewers is the number of people watching the camera at the end of the
	// interval. Stored as UInt16 (capped to 0..65535).
	Viewers int
}

// StreamHealthFromCamera makes the row for a camera's health report: the
// camera watches a window of hall and has viewers viewers.
func StreamHealthFromCamera(hall string, h ingest.CameraHealth, viewers int) StreamHealthRow {
	return StreamHealthRow{
		TS:               h.Time,
		Hall:             hall,
		Window:           h.Window,
		State:            h.State,
		BitrateBps:       h.BitrateBps,
		FPS:              h.FPS,
		KeyframeInterval: h.KeyframeInterval,
		Lost:             h.Lost,
		Reordered:        h.Reordered,
		JitterMs:         h.JitterMs,
		Reconnects:       h.Reconnects,
		KeyframeTooLong:  h.KeyframeTooLong,
		Viewers:          viewers,
	}
}

// streamHealthColumns are the columns of the stream_health table, in the
// order of the values InsertStreamHealth appends and LatestStreamHealth
// scans (after hall and window).
var streamHealthColumns = []column{
	{"ts", "DateTime('UTC')"},
	{"hall", "String"},
	{"window", "String"},
	{"state", "String"},
	{"bitrate_bps", "Float64"},
	{"fps", "Float32"},
	{"keyframe_interval_ms", "UInt32"},
	{"lost", "UInt64"},
	{"reordered", "UInt64"},
	{"jitter_ms", "Float32"},
	{"reconnects", "UInt32"},
	{"keyframe_too_long", "UInt8"},
	{"viewers", "UInt16"},
}

// InsertStreamHealth stores rows in one insert. Rows are not deduplicated:
// inserting a row twice stores it twice. A row whose time a DateTime cannot
// hold (before 1970 or after 2106) fails the whole batch with
// ErrInvalidStreamHealth. Values wider than their column are capped (see
// StreamHealthRow).
func (s *Store) InsertStreamHealth(ctx context.Context, rows []StreamHealthRow) error {
	if len(rows) == 0 {
		return nil
	}
	t, err := newExternalTable(externalInsertTable, streamHealthColumns)
	if err != nil {
		return err
	}
	var now time.Time
	for i, r := range rows {
		ts := r.TS
		if ts.IsZero() {
			if now.IsZero() {
				now = s.now()
			}
			ts = now
		}
		sec, _, ok := timeParts(ts)
		if !ok {
			return fmt.Errorf("%w: row %d (window %q): time %s is out of range", ErrInvalidStreamHealth, i, r.Window, ts.Format(time.RFC3339))
		}
		var tooLong uint8
		if r.KeyframeTooLong {
			tooLong = 1
		}
		if err := t.Append(sec, r.Hall, r.Window, r.State, r.BitrateBps, float32(r.FPS),
			uint32(clamp(r.KeyframeInterval.Milliseconds(), 0, math.MaxUint32)),
			r.Lost, r.Reordered, float32(r.JitterMs),
			uint32(min(r.Reconnects, math.MaxUint32)), tooLong,
			uint16(clamp(r.Viewers, 0, math.MaxUint16))); err != nil {
			return fmt.Errorf("analytics: insert stream health: %w", err)
		}
	}
	return s.insertExternal(ctx, "stream_health", streamHealthColumns, t)
}

func clamp[T int | int64](v, lo, hi T) T { return max(lo, min(v, hi)) }

// LatestStreamHealth returns the newest row of each camera (each hall and
// window) among the rows with TS >= since, sorted by hall and window. since
// is compared in whole seconds, like the stored times; a zero since means all
// rows. Of two rows of a camera with the same second, either may be returned.
func (s *Store) LatestStreamHealth(ctx context.Context, since time.Time) ([]StreamHealthRow, error) {
	// argMax over a tuple keeps the columns of one row together (argMax per
	// column could mix rows with equal ts); it works on 18.16 and current
	// releases alike.
	const query = "SELECT hall, w, latest.1, latest.2, latest.3, latest.4, latest.5, latest.6, latest.7, latest.8, latest.9, latest.10, latest.11" +
		" FROM (SELECT hall, `window` AS w, argMax(tuple(ts, state, bitrate_bps, fps, keyframe_interval_ms, lost, reordered," +
		" jitter_ms, reconnects, keyframe_too_long, viewers), ts) AS latest" +
		" FROM stream_health WHERE ts >= toDateTime(?, 'UTC') GROUP BY hall, `window`)" +
		" ORDER BY hall, w"
	var sinceSec int64
	if !since.IsZero() {
		sinceSec = clamp(since.Unix(), 0, math.MaxUint32)
	}
	rows, err := s.conn.Query(ctx, query, sinceSec)
	if err != nil {
		return nil, fmt.Errorf("analytics: latest stream health: %w", err)
	}
	defer rows.Close()
	var out []StreamHealthRow
	for rows.Next() {
		var (
			r          StreamHealthRow
			fps, jit   float32
			kfMs, reco uint32
			tooLong    uint8
			viewers    uint16
		)
		if err := rows.Scan(&r.Hall, &r.Window, &r.TS, &r.State, &r.BitrateBps, &fps, &kfMs,
			&r.Lost, &r.Reordered, &jit, &reco, &tooLong, &viewers); err != nil {
			return nil, fmt.Errorf("analytics: latest stream health: %w", err)
		}
		r.TS = r.TS.UTC()
		r.FPS, r.JitterMs = float64(fps), float64(jit)
		r.KeyframeInterval = time.Duration(kfMs) * time.Millisecond
		r.Reconnects = uint64(reco)
		r.KeyframeTooLong = tooLong != 0
		r.Viewers = int(viewers)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("analytics: latest stream health: %w", err)
	}
	return out, nil
}

// HealthWriter defaults.
const (
	DefaultHealthFlushInterval = 10 * time.Second
	DefaultHealthMaxBuffer     = 10000
	DefaultHealthFlushTimeout  = 30 * time.Second
)

// HealthWriter buffers stream health rows and writes them to the store in
// batches, every FlushInterval and once more on Close. Add never blocks, so
// it can be called from camera callbacks.
//
// While the store fails, rows are kept and retried at the next interval; at
// most MaxBuffer rows are kept (the newest), older ones are dropped and
// counted (see Dropped). A failure streak is logged once when it starts and
// once when writing works again, with the number of rows dropped meanwhile.
// A write that failed on the client side after the server stored it is
// written again: rows may then be stored twice.
//
// Set the exported fields, call Initialize, Add rows, and Close.
type HealthWriter struct {
	// Store receives the batches. Required; *Store implements it. It must
	// not keep the slice it is given.
	Store interface {
		InsertStreamHealth(context.Context, []StreamHealthRow) error
	}
	// FlushInterval is the time between writes. It defaults to 10 s.
	FlushInterval time.Duration
	// MaxBuffer is the most rows kept while waiting for a write; beyond it
	// the oldest are dropped. It defaults to 10000. (While a write is in
	// flight, up to MaxBuffer more rows can wait behind it.)
	MaxBuffer int
	// FlushTimeout bounds one write, the last one in Close included. It
	// defaults to 30 s.
	FlushTimeout time.Duration
	// Now stamps rows added with a zero TS. It defaults to time.Now.
	Now func() time.Time
	// Logger; nil means discard.
	Logger *slog.Logger

	log          *slog.Logger
	now          func() time.Time
	interval     time.Duration
	maxBuffer    int
	flushTimeout time.Duration
	done         chan struct{}    // closed by Close to stop run
	tick         <-chan time.Time // if set (by tests), replaces the ticker
	closeOnce    sync.Once
	wg           sync.WaitGroup

	mu      sync.Mutex // guards buf, dropped and closed
	buf     []StreamHealthRow
	dropped uint64
	closed  bool

	// Owned by the run goroutine.
	failing      bool      // the last write failed
	failingSince time.Time // when the failure streak started
	failures     int       // failed writes in the streak
	reported     uint64    // the dropped count already logged
}

// Initialize checks the configuration, applies the defaults and starts the
// writer's goroutine.
func (w *HealthWriter) Initialize() error {
	if w.Store == nil {
		return errors.New("analytics: HealthWriter needs a Store")
	}
	w.log = w.Logger
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("component", "health_writer")
	w.now = w.Now
	if w.now == nil {
		w.now = time.Now
	}
	w.interval = w.FlushInterval
	if w.interval <= 0 {
		w.interval = DefaultHealthFlushInterval
	}
	w.maxBuffer = w.MaxBuffer
	if w.maxBuffer <= 0 {
		w.maxBuffer = DefaultHealthMaxBuffer
	}
	w.flushTimeout = w.FlushTimeout
	if w.flushTimeout <= 0 {
		w.flushTimeout = DefaultHealthFlushTimeout
	}
	w.done = make(chan struct{})
	w.wg.Add(1)
	go w.run()
	return nil
}

// Add queues r for the next write. It never blocks. Call it only after
// Initialize succeeded. A row added after Close,
// or whose time a DateTime cannot hold, is dropped and counted; a zero TS is
// stamped with the current time.
func (w *HealthWriter) Add(r StreamHealthRow) {
	if r.TS.IsZero() {
		r.TS = w.now()
	}
	_, _, ok := timeParts(r.TS)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !ok {
		w.dropped++
		return
	}
	if over := len(w.buf) + 1 - w.maxBuffer; over > 0 {
		w.buf = w.buf[over:]
		w.dropped += uint64(over)
	}
	w.buf = append(w.buf, r)
}

// Dropped returns how many rows were dropped so far: the oldest beyond
// MaxBuffer, rows Close could not write, and rows Add refused.
func (w *HealthWriter) Dropped() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dropped
}

// Buffered returns how many rows wait for a write (not counting a write in
// flight).
func (w *HealthWriter) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.buf)
}

// Close stops the writer: it writes what is buffered (one try, bounded by
// FlushTimeout; rows it cannot write are dropped and logged) and waits for
// the writer's goroutine. Later Adds are dropped. Close can be called more
// than once.
func (w *HealthWriter) Close() {
	w.closeOnce.Do(func() {
		if w.done == nil { // never initialized
			return
		}
		close(w.done)
		w.wg.Wait()
	})
}

func (w *HealthWriter) run() {
	defer w.wg.Done()
	tick := w.tick
	if tick == nil {
		t := time.NewTicker(w.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-tick:
			w.flush()
			w.reportDrops()
		case <-w.done:
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
			w.flush()
			w.mu.Lock()
			lost := len(w.buf)
			w.buf = nil
			w.dropped += uint64(lost)
			w.mu.Unlock()
			if lost > 0 {
				w.log.Error("stream health rows not written before close", "rows", lost)
				w.reported += uint64(lost)
			}
			w.failing = false // report the streak's drops now
			w.reportDrops()
			return
		}
	}
}

// flush writes the buffered rows; on failure it puts them back in front of
// the rows added meanwhile, keeping the newest maxBuffer.
func (w *HealthWriter) flush() {
	w.mu.Lock()
	batch := w.buf
	w.buf = nil
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), w.flushTimeout)
	err := w.Store.InsertStreamHealth(ctx, batch)
	cancel()

	if err == nil {
		if w.failing {
			w.failing = false
			w.mu.Lock()
			dropped := w.dropped
			w.mu.Unlock()
			w.log.Info("writing stream health works again", "failed_for", w.now().Sub(w.failingSince).Round(time.Second),
				"failed_writes", w.failures, "rows", len(batch), "dropped", dropped-w.reported)
			w.reported = dropped
		}
		return
	}

	if errors.Is(err, ErrInvalidStreamHealth) {
		// Retrying cannot help (Add refuses such rows, so this is another
		// Store's doing).
		w.mu.Lock()
		w.dropped += uint64(len(batch))
		w.mu.Unlock()
		w.log.Error("dropping stream health rows the store refuses", "rows", len(batch), "err", err)
		w.reported += uint64(len(batch))
		return
	}

	w.mu.Lock()
	w.buf = append(batch, w.buf...)
	if over := len(w.buf) - w.maxBuffer; over > 0 {
		w.buf = w.buf[over:]
		w.dropped += uint64(over)
	}
	kept := len(w.buf)
	w.mu.Unlock()
	w.failures++
	if !w.failing {
		w.failing = true
		w.failingSince = w.now()
		w.failures = 1
		w.log.Warn("writing stream health failed; keeping the rows and retrying every interval (logged again when it works)",
			"rows", kept, "max_buffer", w.maxBuffer, "retry_every", w.interval, "err", err)
	}
}

// reportDrops logs drops not logged yet, at most once per interval and not
// during a failure streak (its end reports them).
func (w *HealthWriter) reportDrops() {
	if w.failing {
		return
	}
	w.mu.Lock()
	dropped := w.dropped
	w.mu.Unlock()
	if dropped > w.reported {
		w.log.Warn("dropped stream health rows", "rows", dropped-w.reported, "total", dropped)
		w.reported = dropped
	}
}
