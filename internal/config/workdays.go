package config

import "time"

// WorkCalendar answers which days are worked: Monday to Friday, except
// the holidays, plus the adjusted working days (调休). Time limits (限时办结)
// are counted in its working days, in the halls' time zone.
type WorkCalendar struct {
	loc                *time.Location
	holidays, workdays map[string]bool
}

// WorkCalendar builds the calendar of c (dates were validated by Load).
func (c *Config) WorkCalendar() *WorkCalendar {
	w := &WorkCalendar{loc: c.Location(), holidays: map[string]bool{}, workdays: map[string]bool{}}
	for _, d := range c.Calendar.Holidays {
		w.holidays[d] = true
	}
	for _, d := range c.Calendar.Workdays {
		w.workdays[d] = true
	}
	return w
}

// IsWorkday reports whether the local day of t is worked.
func (w *WorkCalendar) IsWorkday(t time.Time) bool {
	t = t.In(w.loc)
	key := t.Format(time.DateOnly)
	switch {
	case w.workdays[key]:
		return true
	case w.holidays[key]:
		return false
	}
	return t.Weekday() != time.Saturday && t.Weekday() != time.Sunday
}

// Deadline is the end (local midnight after) of the n-th working day after
// the day of accepted: a case accepted on a Friday with a 3-day limit is
// due by the end of the next Wednesday, holidays and 调休 counted.
func (w *WorkCalendar) Deadline(accepted time.Time, n int) time.Time {
	t := accepted.In(w.loc)
	d := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, w.loc) // noon: immune to DST edges
	for i := 0; n > 0 && i < 3660; i++ {
		d = d.AddDate(0, 0, 1)
		if w.IsWorkday(d) {
			n--
		}
	}
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, w.loc)
}

// WorkdaysBetween counts the working days after from's day up to and
// including to's day (0 when to is on or before from's day).
func (w *WorkCalendar) WorkdaysBetween(from, to time.Time) int {
	f, t := from.In(w.loc), to.In(w.loc)
	d := time.Date(f.Year(), f.Month(), f.Day(), 12, 0, 0, 0, w.loc)
	end := time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, w.loc)
	n := 0
	for i := 0; d.Before(end) && i < 3660; i++ {
		d = d.AddDate(0, 0, 1)
		if w.IsWorkday(d) {
			n++
		}
	}
	return n
}
