package simulator

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// backfillBatch is how many events Backfill hands to the store at once.
const backfillBatch = 10_000

// Backfill writes the Timeline's events with from <= TS < to straight into
// the event store (a history for the demo), generating one day at a time
// and inserting in batches of about 10,000 events. It prints a line per
// day to progress (nil: none), e.g.
//
//	backfill 2026-11-03: 12 of 30 days, 18234 events
//
// It returns how many events it handed to the store; the same Timeline
// always hands over the same events, so a second run only adds
// duplicates, which the store ignores by event id.
func Backfill(ctx context.Context, tl *Timeline, ins interface {
	InsertEvents(context.Context, []ingest.Event) (int, error)
}, from, to time.Time, progress io.Writer) (int, error) {
	if tl == nil || tl.Config == nil || !from.Before(to) {
		return 0, nil
	}
	if progress == nil {
		progress = io.Discard
	}
	g := tl.generator()
	first, last := g.dayOf(from), g.dayOf(to.Add(-time.Nanosecond))
	days := 1
	for d := first; d.before(last); d = d.add(1) {
		days++
	}
	s := g.newStream(first)
	batch := make([]ingest.Event, 0, backfillBatch)
	sent, inserted := 0, 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		k, err := ins.InsertEvents(ctx, batch)
		if err != nil {
			return fmt.Errorf("backfill: insert %d events: %w", len(batch), err)
		}
		sent += len(batch)
		inserted += k
		// A fresh slice: the store may keep the one it was given.
		batch = make([]ingest.Event, 0, backfillBatch)
		return nil
	}
	i := 0
	for d := first; !last.before(d); d = d.add(1) {
		if err := ctx.Err(); err != nil {
			return sent, fmt.Errorf("backfill: %w", err)
		}
		i++
		for _, ev := range s.day(d) {
			if ev.TS.Before(from) || !ev.TS.Before(to) {
				continue
			}
			batch = append(batch, ev)
			if len(batch) >= backfillBatch {
				if err := flush(); err != nil {
					return sent, err
				}
			}
		}
		fmt.Fprintf(progress, "backfill %s: %d of %d days, %d events\n", d, i, days, sent+len(batch))
	}
	if err := flush(); err != nil {
		return sent, err
	}
	fmt.Fprintf(progress, "backfill done: %d events, %d new\n", sent, inserted)
	return sent, nil
}
