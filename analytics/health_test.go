package analytics_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/ingest"
)

func TestStreamHealthInsertLatest(t *testing.T) {
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	s := openStore(t, func() time.Time { return now })
	base := time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)

	row := func(ts time.Time, hall, window string, fps float64) analytics.StreamHealthRow {
		return analytics.StreamHealthRow{TS: ts, Hall: hall, Window: window, State: ingest.CameraOnline,
			BitrateBps: 1_234_567.5, FPS: fps, KeyframeInterval: 2 * time.Second, Lost: 3, Reordered: 1,
			JitterMs: 4.25, Reconnects: 1, Viewers: 2}
	}
	old := row(base.Add(-time.Hour), "east", "A01", 25)
	a1 := row(base.Add(20*time.Second), "east", "A01", 24.5)
	a1.State, a1.KeyframeTooLong, a1.KeyframeInterval = ingest.CameraOffline, true, 4*time.Second
	a2 := row(base.Add(5*time.Second), "east", "A02", 30)
	// Stored values wider than their columns are capped; times lose their
	// fraction of a second.
	b1 := row(base.Add(15*time.Second+700*time.Millisecond), "west", "A01", 12.5)
	b1.KeyframeInterval, b1.Reconnects, b1.Viewers, b1.Lost = 1500*time.Millisecond+900*time.Microsecond, 1<<40, 70000, math.MaxUint64
	stamped := row(time.Time{}, "west", "B07", 15) // zero TS: the store's now

	require.NoError(t, s.InsertStreamHealth(t.Context(), []analytics.StreamHealthRow{
		old, row(base, "east", "A01", 25), row(base.Add(10*time.Second), "east", "A01", 25), a1, a2, b1, stamped,
	}))
	require.NoError(t, s.InsertStreamHealth(t.Context(), nil), "an empty batch is a no-op")

	stored := func(r analytics.StreamHealthRow) analytics.StreamHealthRow {
		if r.TS.IsZero() {
			r.TS = now
		}
		r.TS = r.TS.Truncate(time.Second)
		r.KeyframeInterval = r.KeyframeInterval.Truncate(time.Millisecond)
		r.Reconnects = min(r.Reconnects, math.MaxUint32)
		r.Viewers = min(r.Viewers, math.MaxUint16)
		return r
	}
	tests := []struct {
		name  string
		since time.Time
		want  []analytics.StreamHealthRow
	}{
		{"newest per hall and window", base, []analytics.StreamHealthRow{stored(a1), stored(a2), stored(b1), stored(stamped)}},
		{"since is inclusive", base.Add(20 * time.Second), []analytics.StreamHealthRow{stored(a1), stored(stamped)}},
		{"since compares whole seconds", base.Add(15*time.Second + 900*time.Millisecond), []analytics.StreamHealthRow{stored(a1), stored(b1), stored(stamped)}},
		{"zero since means all", time.Time{}, []analytics.StreamHealthRow{stored(a1), stored(a2), stored(b1), stored(stamped)}},
		{"nothing since", now.Add(time.Second), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.LatestStreamHealth(t.Context(), tt.since)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}

	t.Run("only the old row of a window", func(t *testing.T) {
		got, err := s.LatestStreamHealth(t.Context(), old.TS)
		require.NoError(t, err)
		require.Len(t, got, 4)
	})

	t.Run("invalid time fails the batch", func(t *testing.T) {
		bad := row(time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "north", "C01", 25)
		err := s.InsertStreamHealth(t.Context(), []analytics.StreamHealthRow{row(base, "north", "C02", 25), bad})
		require.ErrorIs(t, err, analytics.ErrInvalidStreamHealth)
		got, err := s.LatestStreamHealth(t.Context(), time.Time{})
		require.NoError(t, err)
		for _, r := range got {
			require.NotEqual(t, "north", r.Hall, "nothing of the batch is written")
		}
	})
}

func TestStreamHealthFromCamera(t *testing.T) {
	h := ingest.CameraHealth{Window: "A01", Time: time.Unix(1_800_000_000, 0).UTC(), State: ingest.CameraOnline,
		BitrateBps: 2e6, FPS: 25, KeyframeInterval: 3 * time.Second, Lost: 1, Reordered: 2, JitterMs: 3,
		Reconnects: 4, KeyframeTooLong: true}
	require.Equal(t, analytics.StreamHealthRow{TS: h.Time, Hall: "east", Window: "A01", State: ingest.CameraOnline,
		BitrateBps: 2e6, FPS: 25, KeyframeInterval: 3 * time.Second, Lost: 1, Reordered: 2, JitterMs: 3,
		Reconnects: 4, KeyframeTooLong: true, Viewers: 7},
		analytics.StreamHealthFromCamera("east", h, 7))
}

func TestMigrationsRerunnable(t *testing.T) {
	s := chtest.Store(t)
	require.NoError(t, analytics.RerunMigrations(t.Context(), s), "every migration statement is idempotent")
	tables, err := s.Tables(t.Context())
	require.NoError(t, err)
	require.Equal(t, schemaTables, tables)
}

func healthRow(i int) analytics.StreamHealthRow {
	return analytics.StreamHealthRow{TS: time.Unix(1_800_000_000+int64(i), 0).UTC(), Hall: "east",
		Window: "A" + string(rune('0'+i)), State: ingest.CameraOnline, FPS: 25}
}

func TestHealthWriterWritesToStore(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		wait     bool // for the interval's write, before Close
	}{
		{"on close", time.Hour, false},
		{"on interval", 20 * time.Millisecond, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := chtest.Store(t)
			w := &analytics.HealthWriter{Store: s, FlushInterval: tt.interval}
			require.NoError(t, w.Initialize())
			defer w.Close()
			rows := []analytics.StreamHealthRow{healthRow(1), healthRow(2), healthRow(3)}
			for _, r := range rows {
				w.Add(r)
			}
			if tt.wait {
				require.Eventually(t, func() bool {
					got, err := s.LatestStreamHealth(t.Context(), time.Time{})
					return err == nil && len(got) == len(rows)
				}, 10*time.Second, 10*time.Millisecond)
			} else {
				got, err := s.LatestStreamHealth(t.Context(), time.Time{})
				require.NoError(t, err)
				require.Empty(t, got, "written before the interval")
			}
			w.Close()
			got, err := s.LatestStreamHealth(t.Context(), time.Time{})
			require.NoError(t, err)
			require.Equal(t, rows, got)
			require.Zero(t, w.Buffered())
			require.Zero(t, w.Dropped())

			w.Add(healthRow(4))
			require.Equal(t, uint64(1), w.Dropped(), "an Add after Close is dropped")
			w.Close() // again: a no-op
		})
	}
}

// fakeHealthStore hands every batch to the test on calls and returns what
// the test sends on results.
type fakeHealthStore struct {
	calls   chan []analytics.StreamHealthRow
	results chan error
}

func newFakeHealthStore() *fakeHealthStore {
	return &fakeHealthStore{calls: make(chan []analytics.StreamHealthRow), results: make(chan error)}
}

func (f *fakeHealthStore) InsertStreamHealth(ctx context.Context, rows []analytics.StreamHealthRow) error {
	select {
	case f.calls <- append([]analytics.StreamHealthRow(nil), rows...):
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-f.results:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHealthWriterRetriesFailedWrites(t *testing.T) {
	store := newFakeHealthStore()
	var logs logBuffer
	tick := make(chan time.Time)
	w := &analytics.HealthWriter{Store: store, MaxBuffer: 3, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	analytics.SetHealthWriterTick(w, tick)
	require.NoError(t, w.Initialize())
	defer w.Close()

	r := make([]analytics.StreamHealthRow, 7)
	for i := range r {
		r[i] = healthRow(i)
	}
	for _, row := range r[:5] {
		w.Add(row)
	}
	require.Equal(t, uint64(2), w.Dropped(), "the oldest beyond MaxBuffer are dropped")
	require.Equal(t, 3, w.Buffered())

	down := errors.New("connection refused")
	tick <- time.Time{}
	require.Equal(t, r[2:5], <-store.calls)
	w.Add(r[5]) // while the write is in flight
	store.results <- down

	tick <- time.Time{}
	require.Equal(t, r[3:6], <-store.calls, "failed rows are kept and retried, newest MaxBuffer first")
	require.Equal(t, uint64(3), w.Dropped())
	store.results <- down

	w.Add(r[6])
	tick <- time.Time{}
	require.Equal(t, r[4:7], <-store.calls)
	store.results <- nil

	tick <- time.Time{} // nothing buffered: no write
	w.Close()
	require.Equal(t, uint64(4), w.Dropped())
	require.Zero(t, w.Buffered())

	out := logs.String()
	require.Equal(t, 1, strings.Count(out, "writing stream health failed"), "one log line per failure streak:\n%s", out)
	require.Equal(t, 1, strings.Count(out, "works again"), out)
	require.Contains(t, out, "failed_writes=2")
	require.Contains(t, out, "dropped=4")
}

func TestHealthWriterCloseDropsWhatItCannotWrite(t *testing.T) {
	store := newFakeHealthStore() // never answers: every write times out
	var logs logBuffer
	w := &analytics.HealthWriter{Store: store, FlushInterval: time.Hour, FlushTimeout: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	require.NoError(t, w.Initialize())
	w.Add(healthRow(1))
	w.Add(healthRow(2))
	go func() { <-store.calls }()
	w.Close()
	require.Equal(t, uint64(2), w.Dropped())
	require.Contains(t, logs.String(), "not written before close")
}

func TestHealthWriterConfig(t *testing.T) {
	require.Error(t, (&analytics.HealthWriter{}).Initialize(), "a Store is required")
	(&analytics.HealthWriter{}).Close() // never initialized: a no-op

	store := newFakeHealthStore()
	tick := make(chan time.Time)
	now := time.Unix(1_800_000_000, 0).UTC()
	w := &analytics.HealthWriter{Store: store, Now: func() time.Time { return now }}
	analytics.SetHealthWriterTick(w, tick)
	require.NoError(t, w.Initialize())
	defer w.Close()
	w.Add(analytics.StreamHealthRow{Window: "A01"})
	w.Add(analytics.StreamHealthRow{TS: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), Window: "A02"})
	require.Equal(t, uint64(1), w.Dropped(), "a time ClickHouse cannot store is refused")
	tick <- time.Time{}
	require.Equal(t, []analytics.StreamHealthRow{{TS: now, Window: "A01"}}, <-store.calls, "a zero TS is stamped by Add")
	store.results <- nil
}
