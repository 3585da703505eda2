package analytics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/spool"
)

// EventWriter drains the event spool into ClickHouse: it reads batches of
// accepted events, stores those not stored yet (InsertNewEvents dedupes by
// event id), feeds the new ones to its Tracker and stores the facts that
// became final (visits, window spans, case states, ratings), and only then
// commits the batch in the spool. While ClickHouse is down it retries the
// same batch with backoff and the spool grows; nothing is dropped.
//
// Crash safety: a batch is committed in the spool after its events and
// facts are stored, so a crash replays it, and the replay stores nothing
// twice (the events are found stored). The Tracker's open state (tickets
// waiting, windows open, cases open) is rebuilt at start by Initialize from
// the stored events of the day of the last watermark. A crash between
// storing a batch's events and storing its facts leaves facts unstored
// whose events are stored: Initialize stores the facts of that replay the
// tables do not hold (visits by hall and ticket, spans by window and
// start, ratings by event id; case rows are stored idempotently anyway).
type EventWriter struct {
	// Spool is where accepted events wait; required for Run.
	Spool *spool.Spool
	// Store is the ClickHouse database; required.
	Store *Store
	// Tracker turns events into facts; required.
	Tracker *tracker.Tracker
	// Location is the halls' time zone (days start at its midnight).
	// Nil means UTC.
	Location *time.Location
	// BatchEvents is roughly the most events per insert. Default 200000.
	BatchEvents int
	// Interval is the shortest time between two inserts while the spool
	// holds less than half a batch: at a steady trickle of events the
	// writer gathers a few seconds of them per insert rather than
	// inserting each request's, since every insert makes ClickHouse write
	// (and later merge) a part in each table the events feed, and that
	// disk traffic is what slows the spool's fsync, so the intake's
	// acknowledgements (make bench: p99 ack at 10k events/s fell from
	// about 25 to 13 ms with 3 s). A backlog is drained without waiting.
	// The supervision engine and the live wall see events at once; only
	// the analytics tables lag. Default 3 s; negative means none.
	Interval time.Duration
	// StatePath keeps the watermark (how far the Tracker has advanced);
	// empty keeps none, and Initialize rebuilds nothing.
	StatePath string
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	pending  tracker.Facts // facts not stored yet (kept across retries)
	advanced time.Time     // the Tracker has advanced to here
	stats    WriterStats
}

// WriterStats counts what the writer did since it started.
type WriterStats struct {
	Batches, Events, Duplicates, Facts, Failures uint64
	// LastError is the latest failure's message, cleared by a success.
	LastError string
	// LastSuccess is when a batch was last stored.
	LastSuccess time.Time
}

// writerState is the watermark file's content.
type writerState struct {
	AdvancedTo time.Time `json:"advanced_to"`
}

const (
	// advanceEvery is how often an idle writer advances the Tracker's
	// clock, so that visits close and spans are stored without new events.
	advanceEvery = 5 * time.Second
	// retryMin and retryMax bound the backoff while ClickHouse fails.
	retryMin, retryMax = 200 * time.Millisecond, 10 * time.Second
	// spoolBytesPerEvent sizes a spool read for BatchEvents events.
	spoolBytesPerEvent = 96
)

func (w *EventWriter) log() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

func (w *EventWriter) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

func (w *EventWriter) loc() *time.Location {
	if w.Location == nil {
		return time.UTC
	}
	return w.Location
}

// Stats returns a copy of the writer's counters.
func (w *EventWriter) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Initialize rebuilds the Tracker's open state: it replays the stored events
// from the local midnight of the watermark's day, discarding the facts they
// produce (those were stored before), and advances to the watermark.
func (w *EventWriter) Initialize(ctx context.Context) error {
	if w.StatePath == "" {
		return nil
	}
	data, err := os.ReadFile(w.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("analytics: event writer state: %w", err)
	}
	var st writerState
	if err := json.Unmarshal(data, &st); err != nil {
		w.log().Warn("event writer state unreadable: starting without open visits", "path", w.StatePath, "err", err)
		return nil
	}
	if st.AdvancedTo.IsZero() {
		return nil
	}
	l := st.AdvancedTo.In(w.loc())
	from := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, w.loc())
	evs, err := w.Store.EventsBetween(ctx, from, time.Time{})
	if err != nil {
		return err
	}
	if err := w.restoreCases(ctx, acceptedBefore(evs)); err != nil {
		w.log().Warn("case lookup failed: replayed completions of earlier cases judged without their acceptance", "err", err)
	}
	var replayed tracker.Facts
	for _, ev := range evs {
		w.Tracker.Apply(ev, &replayed)
	}
	w.Tracker.Advance(st.AdvancedTo, &replayed)
	dropEmptySpans(&replayed)
	w.advanced = st.AdvancedTo
	w.log().Info("tracker rebuilt from stored events", "since", from, "events", len(evs), "advanced_to", st.AdvancedTo)

	// The replay makes again the facts stored before, and those of events
	// stored just before a crash whose facts were not (see the type's
	// comment): store what the tables miss. Best effort: a failure is
	// logged, since refusing to start would stop the intake as well.
	missing, err := w.Store.missingFacts(ctx, replayed, from)
	if err == nil && missing.Len() > 0 {
		if err = w.Store.InsertFacts(ctx, &missing); err == nil {
			w.log().Warn("facts lost in a crash restored from the stored events", "visits", len(missing.Visits),
				"spans", len(missing.Spans), "ratings", len(missing.Ratings), "case_rows", len(missing.Cases))
		}
	}
	if err != nil {
		w.log().Error("facts of the replayed events not checked: those of a crash just before stay lost", "err", err)
	}
	return nil
}

// acceptedBefore returns the completions and rejections in evs of cases not
// accepted in evs: accepted before the replay, so restoreCases loads them.
func acceptedBefore(evs []ingest.Event) []ingest.Event {
	accepted := map[string]bool{}
	for _, ev := range evs {
		if ev.Type == ingest.CaseAccepted {
			accepted[ev.CaseID] = true
		}
	}
	var out []ingest.Event
	for _, ev := range evs {
		if (ev.Type == ingest.CaseCompleted || ev.Type == ingest.CaseRejected) && !accepted[ev.CaseID] {
			out = append(out, ev)
		}
	}
	return out
}

// Run drains the spool until ctx is done.
func (w *EventWriter) Run(ctx context.Context) {
	batchEvents := w.BatchEvents
	if batchEvents <= 0 {
		batchEvents = 200000
	}
	interval := w.Interval
	if interval == 0 {
		interval = 3 * time.Second
	}
	var evs []ingest.Event
	var lastRead time.Time
	full := true
	var stored chan struct{} // closed when the previous batch's facts are stored and it is committed
	defer func() {
		if stored != nil {
			<-stored
		}
	}()
	for ctx.Err() == nil {
		if !full {
			w.gather(ctx, lastRead.Add(interval), int64(batchEvents*spoolBytesPerEvent/2))
		}
		nctx, cancel := context.WithTimeout(ctx, advanceEvery)
		b, err := w.Spool.Next(nctx, batchEvents, batchEvents*spoolBytesPerEvent)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			w.log().Error("event spool read failed", "err", err)
			w.sleep(ctx, retryMax)
			continue
		}
		if len(b.Records) > 0 {
			lastRead = time.Now()
		}
		total := 0
		for _, rec := range b.Records {
			total += ingest.RecordEvents(rec)
		}
		evs = slices.Grow(evs[:0], total)
		for _, rec := range b.Records {
			if evs, err = ingest.DecodeRecord(rec, evs); err != nil {
				// Written by this program and checksummed by the spool:
				// not expected. Skip the record rather than block the rest.
				w.log().Error("undecodable record in the event spool: skipped", "err", err)
			}
		}
		full = len(evs) >= batchEvents/2
		if !w.retry(ctx, "events", len(evs), func() error { return w.track(ctx, evs, w.now()) }) {
			return
		}
		// The batch's facts are stored while the next batch's events are
		// looked up and inserted: ClickHouse works on both at once. Batches
		// are committed in order, each once its facts are stored.
		facts := w.takePending()
		if stored != nil {
			<-stored
		}
		done := make(chan struct{})
		stored = done
		go func() {
			defer close(done)
			if !w.storeFactsRetrying(ctx, facts) {
				return
			}
			if len(b.Records) > 0 {
				if err := w.Spool.Commit(b); err != nil {
					w.log().Error("event spool commit failed", "err", err)
				}
			}
			w.saveState()
		}()
	}
}

// storeFactsRetrying stores f, retrying with backoff while ClickHouse
// fails; false if ctx ended first. An attempt under way when ctx ends is
// finished (within a bound): the batch's events are stored already, and a
// shutdown that dropped its facts would lose them.
func (w *EventWriter) storeFactsRetrying(ctx context.Context, f tracker.Facts) bool {
	return w.retry(ctx, "facts", f.Len(), func() error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		unstored, err := w.storeFacts(actx, f)
		f = unstored
		return err
	})
}

// retry calls attempt until it succeeds, waiting with backoff after each
// failure (ClickHouse down); false if ctx ended first. what and n say
// what is being stored, for the log.
func (w *EventWriter) retry(ctx context.Context, what string, n int, attempt func() error) bool {
	for backoff := retryMin; ; backoff = min(backoff*2, retryMax) {
		err := attempt()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		w.log().Warn("storing "+what+" failed: retrying", what, n, "in", backoff, "err", err)
		w.sleep(ctx, backoff)
	}
}

// gather waits until deadline, or until the spool holds half a batch (a
// burst has begun: waiting longer only delays it), or ctx ends.
func (w *EventWriter) gather(ctx context.Context, deadline time.Time, halfBatch int64) {
	for ctx.Err() == nil && time.Now().Before(deadline) && w.Spool.Stats().PendingBytes < halfBatch {
		w.sleep(ctx, min(50*time.Millisecond, time.Until(deadline)))
	}
}

func (w *EventWriter) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// InsertEvents stores events and their facts straight away (no spool): the
// backfill's path, in time order. The Tracker advances to the latest
// event's time. It returns how many events were new.
func (w *EventWriter) InsertEvents(ctx context.Context, evs []ingest.Event) (int, error) {
	var latest time.Time
	for _, ev := range evs {
		if ev.TS.After(latest) {
			latest = ev.TS
		}
	}
	before := w.Stats().Events
	err := w.process(ctx, evs, latest)
	return int(w.Stats().Events - before), err
}

// Flush advances the Tracker to now and stores what that closes (the
// backfill's last step: the days it wrote end).
func (w *EventWriter) Flush(ctx context.Context, now time.Time) error {
	return w.process(ctx, nil, now)
}

// process stores evs and the facts they make final, then advances the
// Tracker to now. Safe to call again with the same events after an error:
// events already stored are not applied twice, and facts not stored yet are
// kept for the next call.
func (w *EventWriter) process(ctx context.Context, evs []ingest.Event, now time.Time) error {
	if err := w.track(ctx, evs, now); err != nil {
		return err
	}
	unstored, err := w.storeFacts(ctx, w.takePending())
	if err != nil {
		w.mu.Lock()
		w.pending = unstored
		w.mu.Unlock()
	}
	return err
}

// track stores the events of evs not stored yet, applies them to the
// Tracker and advances it to now, adding the facts that became final to
// the pending ones. It fails before applying anything, so a retry with the
// same events is safe.
func (w *EventWriter) track(ctx context.Context, evs []ingest.Event, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	start := time.Now()
	fresh, err := w.Store.InsertNewEvents(ctx, evs)
	if err != nil {
		return w.fail(err)
	}
	stored := time.Now()
	if len(fresh) > 0 {
		slices.SortStableFunc(fresh, func(a, b ingest.Event) int { return a.TS.Compare(b.TS) })
		if err := w.restoreCases(ctx, fresh); err != nil {
			w.log().Warn("case lookup failed: completions of unknown cases stored without acceptance", "err", err)
		}
		for _, ev := range fresh {
			w.Tracker.Apply(ev, &w.pending)
		}
	}
	if now.After(w.advanced) {
		w.Tracker.Advance(now, &w.pending)
		w.advanced = now
	}
	dropEmptySpans(&w.pending)
	if len(evs) > 0 {
		w.log().Debug("events stored", "events", len(fresh), "duplicates", len(evs)-len(fresh), "facts", w.pending.Len(),
			"events_ms", stored.Sub(start).Milliseconds(), "tracker_ms", time.Since(stored).Milliseconds())
	}
	w.stats.Batches++
	w.stats.Events += uint64(len(fresh))
	w.stats.Duplicates += uint64(len(evs) - len(fresh))
	w.stats.LastError = ""
	w.stats.LastSuccess = w.now()
	return nil
}

// takePending returns the facts waiting to be stored and forgets them.
func (w *EventWriter) takePending() tracker.Facts {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.pending
	w.pending = tracker.Facts{}
	return f
}

// storeFacts stores f and returns, when it fails, the rows not stored. A
// fact the tracker should not have made is logged and dropped: retrying
// cannot help, and blocking would stop the intake (the events are kept).
func (w *EventWriter) storeFacts(ctx context.Context, f tracker.Facts) (tracker.Facts, error) {
	n := f.Len()
	if n == 0 {
		return tracker.Facts{}, nil
	}
	start := time.Now()
	unstored, err := w.Store.insertFacts(ctx, &f)
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case errors.Is(err, ErrInvalidFact):
		w.log().Error("facts dropped: invalid row", "facts", n, "err", err)
	case err != nil:
		return unstored, w.fail(err)
	default:
		w.log().Debug("facts stored", "facts", n, "ms", time.Since(start).Milliseconds())
		w.stats.Facts += uint64(n)
	}
	return tracker.Facts{}, nil
}

// dropEmptySpans removes spans that do not end after they start (a window
// opened and paused in the same second): they carry no open time.
func dropEmptySpans(f *tracker.Facts) {
	kept := f.Spans[:0]
	for _, sp := range f.Spans {
		if sp.End.Unix() > sp.Start.Unix() {
			kept = append(kept, sp)
		}
	}
	f.Spans = kept
}

func (w *EventWriter) fail(err error) error {
	w.stats.Failures++
	w.stats.LastError = err.Error()
	return err
}

// restoreCases loads from the cases table the cases that evs complete or
// reject and the Tracker does not know (accepted before it started, or by
// a backfill), so their completion is judged against their deadline.
func (w *EventWriter) restoreCases(ctx context.Context, evs []ingest.Event) error {
	var ids []string
	for _, ev := range evs {
		if (ev.Type == ingest.CaseCompleted || ev.Type == ingest.CaseRejected) && ev.CaseID != "" {
			if _, ok := w.Tracker.Case(ev.CaseID); !ok {
				ids = append(ids, ev.CaseID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	cases, err := w.Store.CaseStates(ctx, ids)
	if err != nil {
		return err
	}
	for _, c := range cases {
		w.Tracker.RestoreCase(c)
	}
	return nil
}

// saveState writes the watermark (atomically, by rename).
func (w *EventWriter) saveState() {
	if w.StatePath == "" {
		return
	}
	w.mu.Lock()
	st := writerState{AdvancedTo: w.advanced}
	w.mu.Unlock()
	data, _ := json.Marshal(st)
	tmp := w.StatePath + ".tmp"
	if err := os.MkdirAll(filepath.Dir(w.StatePath), 0o700); err == nil {
		if err = os.WriteFile(tmp, data, 0o600); err == nil {
			err = os.Rename(tmp, w.StatePath)
		}
		if err != nil {
			w.log().Warn("event writer state not saved", "err", err)
		}
	}
}
