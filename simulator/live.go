package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// EventPoster sends a batch of events; *Poster is one.
type EventPoster interface {
	Post(ctx context.Context, events []ingest.Event) error
}

// Live plays a Timeline as time passes: every Tick it sends the events
// whose TS the simulated clock has passed since the last tick.
//
// The simulated clock is the wall clock when Speed is 1: events before Run
// started belong to the backfill. With Speed > 1 it starts at 08:00 local
// time today (with AlwaysOpen: 8 hours before Run started), runs Speed
// times faster than the wall clock until it reaches it, then goes on in
// real time. It never passes the wall clock, so no event is sent with a
// future TS (the server rejects those). StartAt tells where it starts, for
// a backfill that should end there.
//
// From makes the run begin earlier than that: the events from From up to
// the clock's start are sent at once (a catch-up). A run that continues a
// backfill starts From where the backfill ended, so the visits in
// progress there reach the server whole, through the one tracker that
// follows them; a restarted run starts From further back, and the server
// ignores by event id what it already has.
type Live struct {
	Timeline *Timeline
	// From is where the run's events begin when it is before the
	// clock's start (see above). Default: the clock's start.
	From time.Time
	// Poster receives the events, in TS order, in one call per tick.
	Poster EventPoster
	// Speed is how much faster than real time the simulated clock runs
	// until it catches up with the wall clock. Default 1.
	Speed float64
	// Now is the wall clock. Default time.Now.
	Now func() time.Time
	// Logger receives progress. Default: discard.
	Logger *slog.Logger
	// Tick is how often events are sent. Default 1 s.
	Tick time.Duration
}

// ErrLiveConfig is returned by Run when Timeline, its Config or Poster is
// missing.
var ErrLiveConfig = errors.New("simulator: Live needs a Timeline with a Config and a Poster")

func (l *Live) speed() float64 {
	if l.Speed <= 1 {
		return 1
	}
	return l.Speed
}

// StartAt returns where the simulated clock starts for a Run that starts
// at the wall-clock time wall (see Live). It is never after wall.
func (l *Live) StartAt(wall time.Time) time.Time {
	if l.speed() == 1 || l.Timeline == nil || l.Timeline.Config == nil {
		return wall
	}
	if l.Timeline.AlwaysOpen {
		return wall.Add(-8 * time.Hour)
	}
	loc := l.Timeline.Config.Location()
	w := wall.In(loc)
	start := time.Date(w.Year(), w.Month(), w.Day(), 8, 0, 0, 0, loc)
	if start.After(wall) {
		return wall
	}
	return start
}

// Run sends events until ctx is done (then it returns nil) or the Poster
// fails for good (a *PostError, e.g. a wrong API key).
func (l *Live) Run(ctx context.Context) error {
	if l.Timeline == nil || l.Timeline.Config == nil || l.Poster == nil {
		return ErrLiveConfig
	}
	now := l.Now
	if now == nil {
		now = time.Now
	}
	tick := l.Tick
	if tick <= 0 {
		tick = time.Second
	}
	log := slog.New(slog.DiscardHandler)
	if l.Logger != nil {
		log = l.Logger.With("component", "simulator.live")
	}
	speed := l.speed()
	wall0 := now()
	start := l.StartAt(wall0)
	first := start
	if !l.From.IsZero() && l.From.Before(wall0) {
		first = l.From
		start = maxTime(start, l.From)
	}
	cur := newCursor(l.Timeline.generator(), first)
	last, caughtUp := first, !start.Before(wall0)
	posted := 0
	log.Info("live events started", "from", first, "sim_start", start, "speed", speed)

	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	for {
		wall := now()
		sim := start.Add(time.Duration(speed * float64(wall.Sub(wall0))))
		if sim.After(wall) {
			sim = wall
		}
		if sim.After(last) {
			evs := cur.until(sim)
			if len(evs) > 0 {
				if err := l.Poster.Post(ctx, evs); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return fmt.Errorf("live: %w", err)
				}
				posted += len(evs)
			}
			if sim.Truncate(time.Hour) != last.Truncate(time.Hour) {
				log.Info("live events", "sim_time", sim, "posted", posted)
			}
			last = sim
		}
		if !caughtUp && !sim.Before(wall) {
			caughtUp = true
			log.Info("simulated clock caught up with the wall clock", "posted", posted)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// cursor walks a Timeline's events forward in time, one day in memory.
type cursor struct {
	g      *generator
	s      *stream
	d      day
	evs    []ingest.Event
	i      int
	dayEnd time.Time
}

// newCursor starts at the first event with TS >= start.
func newCursor(g *generator, start time.Time) *cursor {
	d := g.dayOf(start)
	c := &cursor{g: g, s: g.newStream(d)}
	c.load(d)
	for c.i < len(c.evs) && c.evs[c.i].TS.Before(start) {
		c.i++
	}
	return c
}

func (c *cursor) load(d day) {
	c.d, c.evs, c.i = d, c.s.day(d), 0
	c.dayEnd = d.add(1).start(c.g.loc)
}

// until returns the events with TS before t that it has not returned yet.
func (c *cursor) until(t time.Time) []ingest.Event {
	var out []ingest.Event
	for {
		for c.i < len(c.evs) && c.evs[c.i].TS.Before(t) {
			out = append(out, c.evs[c.i])
			c.i++
		}
		if c.i < len(c.evs) || t.Before(c.dayEnd) {
			return out
		}
		c.load(c.d.add(1))
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
