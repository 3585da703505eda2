package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/supervision"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/spool"
)

// The event path of serve:
//
//	POST /api/v1/events → ingest.Intake ─ fsync → spool → analytics.EventWriter → ClickHouse (events, facts)
//	                                   └─ supervision.Engine → alerts → ClickHouse + the console's SSE hub
//
// supervise assembles it: the spool, the writer with its own tracker, the
// engine (rebuilt from today's stored events at start), the clock that
// drives the engine's time rules, and the alert sink.

// tickEvery is how often the engine's time rules run.
const tickEvery = 2 * time.Second

// alertPublisher pushes alerts to the consoles (console.Server).
type alertPublisher interface {
	PublishAlerts([]supervision.Alert)
}

type supervisor struct {
	cfg    *config.Config
	store  *analytics.Store
	log    *slog.Logger
	spool  *spool.Spool
	writer *analytics.EventWriter
	engine *supervision.Engine
	intake *ingest.Intake

	mu  sync.Mutex
	pub alertPublisher
	// unsaved holds alerts not stored yet (ClickHouse down); retried.
	unsaved []supervision.Alert
	wake    chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startSupervision(ctx context.Context, cfg *config.Config, store *analytics.Store, reg *prometheus.Registry, log *slog.Logger) (*supervisor, error) {
	sp, err := spool.Open(spool.Config{Dir: cfg.Intake.SpoolDir, MaxBytes: int64(cfg.Intake.SpoolMaxMB) << 20, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("event spool (intake.spool_dir %s): %w", cfg.Intake.SpoolDir, err)
	}
	s := &supervisor{cfg: cfg, store: store, log: log.With("component", "supervision"), spool: sp, wake: make(chan struct{}, 1)}
	s.writer = &analytics.EventWriter{
		Spool: sp, Store: store, Tracker: uniqueEventsTracker(cfg), Location: cfg.Location(),
		BatchEvents: cfg.Intake.BatchEvents, StatePath: filepath.Join(cfg.DataDir, "event-writer.json"), Logger: log,
	}
	if err := s.writer.Initialize(ctx); err != nil {
		sp.Close()
		return nil, err
	}
	s.engine = supervision.NewEngine(cfg, rulesOf(cfg.Supervision))
	s.intake = &ingest.Intake{Spool: sp, Observe: s.observe, OnFull: s.spoolFull}
	registerSupervisionMetrics(reg, s)

	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.writer.Run(rctx)
	}()
	if err := s.restoreEngine(ctx); err != nil {
		s.log.Warn("supervision starts without today's history", "err", err)
	}
	s.wg.Add(2)
	go s.tickLoop(rctx)
	go s.saveLoop(rctx)
	return s, nil
}

// uniqueEventsTracker is the event writer's Tracker: the writer applies
// only the events the store found new.
func uniqueEventsTracker(cfg *config.Config) *tracker.Tracker {
	t := tracker.New(cfg)
	t.UniqueEvents = true
	return t
}

func rulesOf(c config.Supervision) supervision.Rules {
	return supervision.Rules{
		CaseWarnShare:      c.CaseWarnShare,
		CaseWarnWorkdays:   c.CaseWarnWorkdays,
		MaxHandling:        time.Duration(c.MaxHandlingMinutes) * time.Minute,
		UnattendedAfter:    time.Duration(c.UnattendedMinutes) * time.Minute,
		BadRatingAtMost:    c.BadRatingAtMost,
		CameraOfflineAfter: time.Duration(c.CameraOfflineSeconds) * time.Second,
	}
}

// restoreEngine gives the engine what it would know had it run all along:
// the alerts raised before (not to raise them again), the open cases, and
// today's events (waiting tickets, open windows). Events still in the spool
// are stored first, so the replay sees them.
func (s *supervisor) restoreEngine(ctx context.Context) error {
	ids, err := s.store.AlertIDs(ctx, time.Now().AddDate(0, -3, 0))
	if err != nil {
		return err
	}
	s.engine.MarkRaised(ids)
	for deadline := time.Now().Add(30 * time.Second); s.spool.Stats().PendingRecords > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.refreshOpenCases(ctx); err != nil {
		return err
	}
	l := time.Now().In(s.cfg.Location())
	evs, err := s.store.EventsBetween(ctx, time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, l.Location()), time.Time{})
	if err != nil {
		return err
	}
	s.publish(s.engine.Observe(evs))
	s.log.Info("supervision restored", "alerts_known", len(ids), "events_today", len(evs))
	return nil
}

// refreshOpenCases loads the cases open in the database that the engine
// does not know (accepted before it started, or written by a backfill).
func (s *supervisor) refreshOpenCases(ctx context.Context) error {
	cases, err := s.store.OpenCaseStates(ctx)
	if err != nil {
		return err
	}
	for _, c := range cases {
		s.engine.RestoreCase(c)
	}
	return nil
}

// observe is the intake's hook: events are durable, the engine sees them.
func (s *supervisor) observe(evs []ingest.Event) {
	s.publish(s.engine.Observe(evs))
}

func (s *supervisor) spoolFull(st spool.Stats) {
	s.publish(s.engine.Raise(supervision.Alert{
		Kind: "spool_full", Severity: "red", RaisedAt: time.Now(),
		Message:   fmt.Sprintf("事件缓冲区已满（%d MB 待写入 ClickHouse），新事件被拒收", st.PendingBytes>>20),
		MessageEN: fmt.Sprintf("event spool full (%d MB waiting for ClickHouse): new events are refused", st.PendingBytes>>20),
	}))
}

// diskFull is the recorder's hook.
func (s *supervisor) diskFull(dir string) {
	s.publish(s.engine.Raise(supervision.Alert{
		Kind: "disk_full", Severity: "red", RaisedAt: time.Now(),
		Message:   "录像磁盘已满，录像已停止（" + dir + "）",
		MessageEN: "recording disk full, recording stopped (" + dir + ")",
	}))
}

// cameraHealth is the cameras' periodic report.
func (s *supervisor) cameraHealth(h ingest.CameraHealth) {
	s.publish(s.engine.CameraState(h.Window, h.State == ingest.CameraOnline, h.Time))
}

// setPublisher connects the consoles once the HTTP server exists.
func (s *supervisor) setPublisher(p alertPublisher) {
	s.mu.Lock()
	s.pub = p
	s.mu.Unlock()
}

// publish pushes alerts to the consoles at once and queues them for storage.
func (s *supervisor) publish(alerts []supervision.Alert) {
	if len(alerts) == 0 {
		return
	}
	s.mu.Lock()
	pub := s.pub
	s.unsaved = append(s.unsaved, alerts...)
	s.mu.Unlock()
	if pub != nil {
		pub.PublishAlerts(alerts)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
	// A backlog of events (a hall's system catching up on a day) can raise
	// thousands of alerts at once: the log gets the first few and a count
	// by kind, not a line each (which cost more than the rest of the
	// intake in make bench). The alerts table and API have them all.
	for i, a := range alerts {
		if i == alertLogLines {
			kinds := map[string]int{}
			for _, a := range alerts[i:] {
				kinds[a.Kind]++
			}
			s.log.Info("more alerts", "count", len(alerts)-i, "by_kind", kinds)
			break
		}
		s.log.Info("alert", "id", a.ID, "kind", a.Kind, "severity", a.Severity, "hall", a.Hall, "window", a.Window, "case", a.CaseID, "msg", a.MessageEN)
	}
}

// alertLogLines is how many alerts of one batch get a log line each.
const alertLogLines = 5

func (s *supervisor) tickLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	lastRefresh := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.publish(s.engine.Tick(now))
			if now.Sub(lastRefresh) > 5*time.Minute {
				lastRefresh = now
				if err := s.refreshOpenCases(ctx); err != nil {
					s.log.Warn("open cases not refreshed", "err", err)
				}
			}
		}
	}
}

// saveEvery is the shortest time between two alert inserts: a burst of
// alerts (a backlog replayed, a hall going wrong at once) is stored in one
// insert rather than one per batch of events, which would make ClickHouse
// write and merge a part each time. Consoles get alerts at once anyway.
const saveEvery = time.Second

// saveLoop stores alerts, retrying while ClickHouse is down.
func (s *supervisor) saveLoop(ctx context.Context) {
	defer s.wg.Done()
	// wait returns when c fires or d has passed; false if ctx ended.
	wait := func(c <-chan struct{}, d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-c:
		case <-time.After(d):
		}
		return true
	}
	backoff := time.Second
	for {
		// New alerts (or the retry's backoff), then the rest of a burst.
		if !wait(s.wake, backoff) || !wait(nil, saveEvery) {
			s.saveAlerts(context.Background())
			return
		}
		if err := s.saveAlerts(ctx); err != nil {
			s.log.Warn("alerts not stored yet: retrying", "err", err)
			backoff = min(backoff*2, 30*time.Second)
		} else {
			backoff = time.Second
		}
	}
}

func (s *supervisor) saveAlerts(ctx context.Context) error {
	s.mu.Lock()
	batch := s.unsaved
	s.unsaved = nil
	s.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.store.InsertAlerts(ctx, batch); err != nil {
		s.mu.Lock()
		s.unsaved = append(batch, s.unsaved...)
		s.mu.Unlock()
		return err
	}
	return nil
}

func (s *supervisor) close() {
	s.cancel()
	s.wg.Wait()
	if err := s.spool.Close(); err != nil {
		s.log.Warn("event spool close", "err", err)
	}
}

func registerSupervisionMetrics(reg *prometheus.Registry, s *supervisor) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("sunlight_spool_pending_bytes", "Accepted events waiting in the spool for ClickHouse, in bytes.",
			func() float64 { return float64(s.spool.Stats().PendingBytes) }),
		gauge("sunlight_spool_pending_records", "Accepted batches waiting in the spool for ClickHouse.",
			func() float64 { return float64(s.spool.Stats().PendingRecords) }),
		counter("sunlight_events_stored_total", "Events the writer stored in ClickHouse.",
			func() float64 { return float64(s.writer.Stats().Events) }),
		counter("sunlight_events_duplicate_total", "Re-sent events the writer found stored already.",
			func() float64 { return float64(s.writer.Stats().Duplicates) }),
		counter("sunlight_facts_stored_total", "Fact rows (visits, spans, cases, ratings) stored.",
			func() float64 { return float64(s.writer.Stats().Facts) }),
		counter("sunlight_event_writer_failures_total", "Failed attempts to store a batch (ClickHouse down).",
			func() float64 { return float64(s.writer.Stats().Failures) }),
	)
}
