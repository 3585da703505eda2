package analytics_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/spool"
)

func writerConfig() *config.Config {
	return &config.Config{
		Timezone: "Asia/Shanghai",
		Halls: []config.Hall{{ID: "city-main", Name: "主大厅", Tier: config.TierCity, Windows: []config.Window{
			{ID: "A01", Department: "市场监管局", Items: []string{"SC-001"}},
		}}},
		Items: []config.Item{{Code: "SC-001", Name: "企业设立登记", Department: "市场监管局", TimeLimitDays: 3, TargetWaitMinutes: 15}},
	}
}

func ev(id string, typ ingest.EventType, ts string, f ingest.Event) ingest.Event {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		panic(err)
	}
	f.EventID, f.Type, f.TS, f.Hall = id, typ, t, "city-main"
	return f
}

// writerRig opens a store (with the clock now, if given) and a spool in a
// temporary directory, closed when t ends, for writerConfig's hall.
func writerRig(t *testing.T, now ...func() time.Time) (*analytics.Store, *config.Config, *spool.Spool, string) {
	t.Helper()
	dir := t.TempDir()
	sp, err := spool.Open(spool.Config{Dir: filepath.Join(dir, "spool")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = sp.Close() })
	return openStore(t, now...), writerConfig(), sp, dir
}

// morningEvents: A01 opens at 08:30; A001 is issued at 09:00, called at
// 09:04 and served 09:05-09:15; A002 is issued at 09:10 and waits.
func morningEvents() []ingest.Event {
	return []ingest.Event{
		ev("w1", ingest.WindowOpened, "2026-11-23T08:30:00+08:00", ingest.Event{Window: "A01"}),
		ev("t1", ingest.TicketIssued, "2026-11-23T09:00:00+08:00", ingest.Event{Ticket: "A001", Item: "SC-001"}),
		ev("c1", ingest.Called, "2026-11-23T09:04:00+08:00", ingest.Event{Window: "A01", Ticket: "A001"}),
		ev("s1", ingest.ServiceStarted, "2026-11-23T09:05:00+08:00", ingest.Event{Window: "A01", Ticket: "A001"}),
		ev("e1", ingest.ServiceEnded, "2026-11-23T09:15:00+08:00", ingest.Event{Window: "A01", Ticket: "A001"}),
		ev("t2", ingest.TicketIssued, "2026-11-23T09:10:00+08:00", ingest.Event{Ticket: "A002", Item: "SC-001"}),
	}
}

// runWriter runs w until the returned stop is called.
func runWriter(w *analytics.EventWriter) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	return func() { cancel(); <-done }
}

// drain waits until the writer has committed everything in sp.
func drain(t *testing.T, sp *spool.Spool) {
	t.Helper()
	require.Eventually(t, func() bool { return sp.Stats().PendingRecords == 0 }, 20*time.Second, 10*time.Millisecond)
}

func visitRows(t *testing.T, s *analytics.Store) (n uint64, wait uint32) {
	t.Helper()
	require.NoError(t, s.Conn().QueryRow(context.Background(), "SELECT count(), max(wait_seconds) FROM visits").Scan(&n, &wait))
	return n, wait
}

// TestEventWriterDrainsAndResumes: events go from the spool to ClickHouse
// with their facts; re-sent events add nothing; a new writer (after a
// restart) rebuilds the open visits from the stored events, so a visit
// begun before the restart closes with the right wait.
func TestEventWriterDrainsAndResumes(t *testing.T) {
	s, cfg, sp, dir := writerRig(t)
	intake := &ingest.Intake{Spool: sp}
	morning := morningEvents()
	run := runWriter
	drained := func() { drain(t, sp) }
	state := filepath.Join(dir, "writer.json")
	// The writer's clock stays on the morning, so no day closes.
	clock := func() time.Time { return time.Date(2026, 11, 23, 1, 20, 0, 0, time.UTC) }
	w := &analytics.EventWriter{Spool: sp, Store: s, Tracker: tracker.New(cfg), Location: cfg.Location(), StatePath: state, Now: clock, Interval: -1}
	require.NoError(t, w.Initialize(t.Context()))
	stop := run(w)
	require.NoError(t, intake.Accept(t.Context(), morning))
	require.NoError(t, intake.Accept(t.Context(), morning)) // re-sent
	drained()
	stop()
	n, wait := visitRows(t, s)
	require.Equal(t, uint64(1), n, "one visit closed (A001); A002 still waits")
	require.Equal(t, uint32(240), wait)
	require.Equal(t, uint64(6), w.Stats().Events)
	require.Equal(t, uint64(6), w.Stats().Duplicates)

	// Restart: a new tracker learns that A002 waits since 09:10.
	w2 := &analytics.EventWriter{Spool: sp, Store: s, Tracker: tracker.New(cfg), Location: cfg.Location(), StatePath: state, Now: clock, Interval: -1}
	require.NoError(t, w2.Initialize(t.Context()))
	stop = run(w2)
	defer stop()
	require.NoError(t, intake.Accept(t.Context(), []ingest.Event{
		ev("c2", ingest.Called, "2026-11-23T09:30:00+08:00", ingest.Event{Window: "A01", Ticket: "A002"}),
		ev("s2", ingest.ServiceStarted, "2026-11-23T09:31:00+08:00", ingest.Event{Window: "A01", Ticket: "A002"}),
		ev("e2", ingest.ServiceEnded, "2026-11-23T09:40:00+08:00", ingest.Event{Window: "A01", Ticket: "A002"}),
	}))
	drained()
	n, wait = visitRows(t, s)
	require.Equal(t, uint64(2), n)
	require.Equal(t, uint32(20*60), wait, "A002 waited from 09:10 (before the restart) to 09:30")
}

// A crash between storing a batch's events and storing its facts (here:
// events stored behind the writer's back) loses no facts: the next start
// replays the day's stored events and stores the facts the tables miss,
// and a start after that stores nothing twice.
func TestEventWriterRestoresFactsLostInACrash(t *testing.T) {
	s, cfg, sp, dir := writerRig(t)
	state := filepath.Join(dir, "writer.json")
	clock := func() time.Time { return time.Date(2026, 11, 23, 1, 50, 0, 0, time.UTC) }
	writer := func() *analytics.EventWriter {
		return &analytics.EventWriter{Spool: sp, Store: s, Tracker: tracker.New(cfg), Location: cfg.Location(), StatePath: state, Now: clock, Interval: -1}
	}
	count := func(table string) (n uint64) {
		t.Helper()
		require.NoError(t, s.Conn().QueryRow(t.Context(), "SELECT count() FROM "+table).Scan(&n))
		return n
	}

	w := writer()
	require.NoError(t, w.Initialize(t.Context()))
	stop := runWriter(w)
	require.NoError(t, (&ingest.Intake{Spool: sp}).Accept(t.Context(), append(morningEvents(),
		ev("a1", ingest.CaseAccepted, "2026-11-23T09:12:00+08:00", ingest.Event{Window: "A01", Ticket: "A001", CaseID: "CM-1", Item: "SC-001"}))))
	drain(t, sp)
	stop()
	require.Equal(t, uint64(1), count("visits"))
	require.Equal(t, uint64(1), count("window_spans"), "08:30-09:00 (00:30-01:00 UTC)")

	require.Equal(t, uint64(1), count("cases"), "CM-1 accepted")

	// The crash: A002's visit, its rating and CM-1's completion are stored
	// as events only.
	_, err := s.InsertNewEvents(t.Context(), []ingest.Event{
		ev("c2", ingest.Called, "2026-11-23T09:30:00+08:00", ingest.Event{Window: "A01", Ticket: "A002"}),
		ev("s2", ingest.ServiceStarted, "2026-11-23T09:31:00+08:00", ingest.Event{Window: "A01", Ticket: "A002"}),
		ev("e2", ingest.ServiceEnded, "2026-11-23T09:40:00+08:00", ingest.Event{Window: "A01", Ticket: "A002"}),
		ev("r2", ingest.Rating, "2026-11-23T09:41:00+08:00", ingest.Event{Window: "A01", Ticket: "A002", Rating: 5}),
		ev("d1", ingest.CaseCompleted, "2026-11-23T09:45:00+08:00", ingest.Event{Window: "A01", CaseID: "CM-1"}),
	})
	require.NoError(t, err)
	require.Equal(t, uint64(1), count("visits"))

	for range 2 {
		require.NoError(t, writer().Initialize(t.Context()))
		n, wait := visitRows(t, s)
		require.Equal(t, uint64(2), n, "A002's visit restored, A001's not stored again")
		require.Equal(t, uint32(20*60), wait, "A002 waited from 09:10 to 09:30")
		require.Equal(t, uint64(1), count("ratings"))
		require.Equal(t, uint64(1), count("window_spans"))
		require.Equal(t, uint64(2), count("cases"), "CM-1's completed row added, its accepted row not again")
		require.Equal(t, uint64(1), count("completions"))
	}
}
