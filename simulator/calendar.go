package simulator

import (
	"time"

	"github.com/sunlight-gov/sunlight/internal/config"
)

// day is a civil date in the halls' time zone.
type day struct {
	y int
	m time.Month
	d int
}

func (d day) add(n int) day {
	t := time.Date(d.y, d.m, d.d+n, 0, 0, 0, 0, time.UTC)
	return day{t.Year(), t.Month(), t.Day()}
}
func (d day) key() int              { return d.y*10000 + int(d.m)*100 + d.d }
func (d day) before(e day) bool     { return d.key() < e.key() }
func (d day) weekday() time.Weekday { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC).Weekday() }
func (d day) start(loc *time.Location) time.Time {
	return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, loc)
}
func (d day) String() string { return d.start(time.UTC).Format(time.DateOnly) }

// calendar answers working-day questions about simulation days with the
// configuration's calendar (holidays and 调休), so that the simulator and
// the platform count time limits the same way.
type calendar struct {
	wc  *config.WorkCalendar
	loc *time.Location
}

func newCalendar(c *config.Config) calendar {
	return calendar{wc: c.WorkCalendar(), loc: c.Location()}
}

// noon is a moment inside day d, away from any DST edge.
func (c calendar) noon(d day) time.Time { return d.start(c.loc).Add(12 * time.Hour) }

func (c calendar) isWorkday(d day) bool { return c.wc.IsWorkday(c.noon(d)) }

// addWorkdays returns the n-th working day after d (d itself for n <= 0).
func (c calendar) addWorkdays(d day, n int) day {
	if n <= 0 {
		return d
	}
	// Deadline is the local midnight ending the n-th working day.
	end := c.wc.Deadline(c.noon(d), n).Add(-time.Hour)
	return day{end.Year(), end.Month(), end.Day()}
}
