package simulator

import (
	"slices"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// Timeline generates a realistic, deterministic event history of the halls
// in Config: the same Seed gives the same events (and event ids), so a
// backfill and a later live run agree and re-sending is a no-op.
//
// Each hall-day is simulated on its own, from a random source seeded with
// Seed, the hall and the date, so any time range can be generated without
// generating everything before it. A day is a discrete-event simulation of
// a multi-server queue: tickets arrive as a time-of-day Poisson process
// (a burst at opening, a morning peak 9:00–10:30, a lunch dip, a smaller
// afternoon peak); a free window calls the longest-waiting ticket whose
// item it handles; handling times are lognormal per item (median 4–15 min);
// some applicants do not show up when called, some leave when their
// patience runs out, and those still waiting at closing leave unserved.
// Most services accept a case, completed later in working days (from
// Config.Calendar, in Config.Location()): about 90% within the item's
// time limit, the rest past it. A case accepted on day D is on time when it
// is completed by the end of the time_limit_days-th working day after D.
//
// Halls open on working days 08:30–17:30 local time; tickets are issued
// until 17:00; from 12:00 to 13:30 every window of a department but its
// first pauses for lunch (window_paused, then window_opened again). The
// planned volume is about 60 tickets per city window, 38 per district
// window and 20 per community window on a normal day, capped at 85% of
// what the window can handle; Mondays are busier, Fridays quieter.
//
// Event ids look like "sim-<seed tag>-<hall code>-<yyyymmdd>-<n>", case ids
// like "CM-20261125-0123" (hall code, date, sequence), tickets like "A031"
// (a letter per department, a daily sequence), staff like "E1003" (one per
// window, numbered in file order). The ids depend on the hall ids and the
// order of halls and windows in the file: editing the config changes them.
//
// Events is safe for concurrent use; the Config must not change meanwhile.
type Timeline struct {
	// Config gives the halls, windows, items, calendar and time zone.
	Config *config.Config
	// Seed picks one history among many; the same seed, the same events.
	Seed int64
	// AlwaysOpen makes every hour an opening hour at a steady daytime rate
	// (for demos run at night); default false = real opening hours.
	// Every day is then open from its start for 23:45 (services end before
	// the next day starts), windows still pause for lunch at 12:00, and
	// cases are still completed on working days, 09:00–17:00. A day starts
	// at midnight, or see AlwaysOpenFrom.
	AlwaysOpen bool
	// AlwaysOpenFrom, with AlwaysOpen, is when the hall went over to
	// around-the-clock hours: the days before its date keep the real
	// opening hours, and from this moment on each simulated day runs from
	// this time of day (with every window free and nobody waiting) to the
	// same time the next day, so the hall's only closed quarter of an hour
	// comes a day after it (not at every midnight). One timeline then
	// serves a demo's backfilled history, which looks like a real hall's,
	// and its live run at any hour, with no visit cut in two between them.
	// Zero: every day is open around the clock from midnight.
	AlwaysOpenFrom time.Time
}

// Events returns every event with from <= TS < to, sorted by TS (ties by
// event id).
func (t *Timeline) Events(from, to time.Time) []ingest.Event {
	if t == nil || t.Config == nil || !from.Before(to) {
		return nil
	}
	g := t.generator()
	first, last := g.dayOf(from), g.dayOf(to.Add(-time.Nanosecond))
	s := g.newStream(first)
	var days [][]ingest.Event
	total := 0
	for d := first; !last.before(d); d = d.add(1) {
		evs := inRange(s.day(d), from, to)
		days = append(days, evs)
		total += len(evs)
	}
	if total == 0 {
		return nil
	}
	out := make([]ingest.Event, 0, total)
	for _, evs := range days {
		out = append(out, evs...)
	}
	return out
}

// inRange returns the events of sorted evs with from <= TS < to.
func inRange(evs []ingest.Event, from, to time.Time) []ingest.Event {
	i, _ := slices.BinarySearchFunc(evs, from, func(ev ingest.Event, t time.Time) int { return ev.TS.Compare(t) })
	j, _ := slices.BinarySearchFunc(evs, to, func(ev ingest.Event, t time.Time) int { return ev.TS.Compare(t) })
	return evs[i:j]
}
