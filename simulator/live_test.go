package simulator

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
)

// fakeClock is a wall clock that moves by step each time it is read, and
// cancels the run once it passes stop.
type fakeClock struct {
	mu     sync.Mutex // guards now
	now    time.Time
	step   time.Duration
	stop   time.Time
	cancel context.CancelFunc
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	if !c.now.Before(c.stop) {
		c.cancel()
	}
	return c.now
}

func (c *fakeClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// recordingPoster keeps every batch, and the wall clock when it came.
type recordingPoster struct {
	clock *fakeClock
	err   error

	mu      sync.Mutex // guards batches and walls
	batches [][]ingest.Event
	walls   []time.Time
}

func (p *recordingPoster) Post(_ context.Context, evs []ingest.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batches = append(p.batches, append([]ingest.Event(nil), evs...))
	p.walls = append(p.walls, p.clock.peek())
	return p.err
}

func TestLive(t *testing.T) {
	cfg := loadExampleConfig(t)
	loc := cfg.Location()
	for _, tc := range []struct {
		name      string
		speed     float64
		always    bool
		wall0     time.Time
		step      time.Duration
		run       time.Duration // of wall-clock time
		wantStart time.Time
		from      time.Duration // Live.From, before wall0
	}{
		{"speed-60", 60, false, time.Date(2026, 11, 25, 10, 0, 0, 0, loc), 30 * time.Second, 30 * time.Minute,
			time.Date(2026, 11, 25, 8, 0, 0, 0, loc), 0},
		{"speed-1", 1, false, time.Date(2026, 11, 25, 9, 30, 0, 0, loc), 20 * time.Second, 20 * time.Minute,
			time.Date(2026, 11, 25, 9, 30, 0, 0, loc), 0},
		{"always-open-overnight", 120, true, time.Date(2026, 11, 22, 2, 0, 0, 0, loc), time.Minute, 10 * time.Minute,
			time.Date(2026, 11, 21, 18, 0, 0, 0, loc), 0},
		// A run that continues a backfill which ended 45 minutes ago.
		{"catch-up", 1, true, time.Date(2026, 11, 22, 2, 0, 0, 0, loc), 20 * time.Second, 10 * time.Minute,
			time.Date(2026, 11, 22, 2, 0, 0, 0, loc), 45 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			clock := &fakeClock{now: tc.wall0.Add(-tc.step), step: tc.step, stop: tc.wall0.Add(tc.run), cancel: cancel}
			poster := &recordingPoster{clock: clock}
			tl := &Timeline{Config: cfg, Seed: 42, AlwaysOpen: tc.always}
			live := &Live{Timeline: tl, Poster: poster, Speed: tc.speed, Now: clock.Now, Tick: time.Millisecond}
			require.Equal(t, tc.wantStart, live.StartAt(tc.wall0))
			first := tc.wantStart
			if tc.from > 0 {
				first = tc.wall0.Add(-tc.from)
				live.From = first
			}
			require.NoError(t, live.Run(ctx))

			var got []ingest.Event
			seen := map[string]bool{}
			batches, walls := poster.batches, poster.walls
			if tc.from > 0 {
				// The catch-up comes at once: everything since From.
				require.NotEmpty(t, batches)
				require.Equal(t, tl.Events(first, walls[0].Add(time.Nanosecond)), batches[0])
			}
			for i, b := range batches {
				require.NotEmpty(t, b)
				for _, ev := range b {
					require.False(t, ev.TS.After(walls[i]), "event at %s posted when the wall clock said %s", ev.TS, walls[i])
					require.False(t, seen[ev.EventID], "event %s posted twice", ev.EventID)
					seen[ev.EventID] = true
					if n := len(got); n > 0 {
						p := got[n-1]
						require.True(t, p.TS.Before(ev.TS) || (p.TS.Equal(ev.TS) && p.EventID < ev.EventID), "out of order: %s after %s", ev.EventID, p.EventID)
					}
					got = append(got, ev)
				}
			}
			require.NotEmpty(t, got)
			require.False(t, got[0].TS.Before(first), "an event from before the start")
			// Exactly the timeline's events from the start to the last
			// event sent: nothing skipped.
			want := tl.Events(first, got[len(got)-1].TS.Add(time.Nanosecond))
			require.Equal(t, len(want), len(got))
			require.Equal(t, want, got)
			if tc.speed > 1 {
				require.True(t, got[len(got)-1].TS.After(tc.wall0), "the simulated clock caught up with the wall clock")
			}
		})
	}
}

func TestLiveErrors(t *testing.T) {
	cfg := loadExampleConfig(t)
	t.Run("config", func(t *testing.T) {
		require.ErrorIs(t, (&Live{}).Run(context.Background()), ErrLiveConfig)
		require.ErrorIs(t, (&Live{Timeline: &Timeline{Config: cfg}}).Run(context.Background()), ErrLiveConfig)
	})
	t.Run("post-fails", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		wall0 := time.Date(2026, 11, 25, 11, 0, 0, 0, cfg.Location())
		clock := &fakeClock{now: wall0, step: time.Minute, stop: wall0.Add(24 * time.Hour), cancel: cancel}
		poster := &recordingPoster{clock: clock, err: &PostError{StatusCode: 401, Message: "invalid API key"}}
		err := (&Live{Timeline: &Timeline{Config: cfg, Seed: 1}, Poster: poster, Speed: 1, Now: clock.Now, Tick: time.Millisecond}).Run(ctx)
		var pe *PostError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, 401, pe.StatusCode)
	})
	t.Run("before-opening", func(t *testing.T) {
		wall := time.Date(2026, 11, 25, 6, 0, 0, 0, cfg.Location())
		l := &Live{Timeline: &Timeline{Config: cfg}, Speed: 10}
		require.Equal(t, wall, l.StartAt(wall), "the simulated clock never starts after the wall clock")
	})
}

// recordingStore is an event store that keeps what Backfill inserts.
type recordingStore struct {
	batches [][]ingest.Event
	seen    map[string]bool
	fail    bool
}

func (s *recordingStore) InsertEvents(_ context.Context, evs []ingest.Event) (int, error) {
	if s.fail {
		return 0, errors.New("clickhouse: connection refused")
	}
	s.batches = append(s.batches, evs)
	n := 0
	for _, ev := range evs {
		if !s.seen[ev.EventID] {
			s.seen[ev.EventID] = true
			n++
		}
	}
	return n, nil
}

func TestBackfill(t *testing.T) {
	cfg := loadExampleConfig(t)
	tl := &Timeline{Config: cfg, Seed: 1}
	from := time.Date(2026, 11, 2, 13, 0, 0, 0, cfg.Location())
	to := from.AddDate(0, 0, 7)
	store := &recordingStore{seen: map[string]bool{}}
	var progress bytes.Buffer
	n, err := Backfill(context.Background(), tl, store, from, to, &progress)
	require.NoError(t, err)

	want := tl.Events(from, to)
	var got []ingest.Event
	for _, b := range store.batches {
		require.LessOrEqual(t, len(b), backfillBatch)
		got = append(got, b...)
	}
	require.Equal(t, len(want), n)
	require.Equal(t, want, got)
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	require.Len(t, lines, 9, "a line per day (8 days touched) and a summary")
	require.True(t, strings.HasPrefix(lines[0], "backfill 2026-11-02: 1 of 8 days, "), lines[0])
	require.Contains(t, lines[len(lines)-1], "new")

	t.Run("store-down", func(t *testing.T) {
		_, err := Backfill(context.Background(), tl, &recordingStore{fail: true}, from, to, nil)
		require.ErrorContains(t, err, "connection refused")
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Backfill(ctx, tl, &recordingStore{seen: map[string]bool{}}, from, to, nil)
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestBackfillSpeed(t *testing.T) {
	cfg := loadExampleConfig(t)
	tl := &Timeline{Config: cfg, Seed: 1}
	to := time.Date(2026, 11, 25, 0, 0, 0, 0, cfg.Location())
	store := &recordingStore{seen: map[string]bool{}}
	start := time.Now()
	n, err := Backfill(context.Background(), tl, store, to.AddDate(0, 0, -30), to, nil)
	require.NoError(t, err)
	t.Logf("backfill of 30 days: %d events in %s (in-memory store)", n, time.Since(start).Round(time.Millisecond))
}
