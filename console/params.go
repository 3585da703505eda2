package console

import (
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// queryRange reads ?from=&to= (RFC 3339, or a date YYYY-MM-DD meaning its
// local midnight in loc). Missing bounds default to [to-span, now+1m).
func queryRange(c *gin.Context, now time.Time, span time.Duration, loc *time.Location) (from, to time.Time, err error) {
	to = now.Add(time.Minute)
	parse := func(name string, def time.Time) (time.Time, error) {
		v := c.Query(name)
		if v == "" {
			return def, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
			return t, nil
		}
		return time.Time{}, apperr.BadTime.New(apperr.P{"param": name, "value": v}, "%s: %q is neither an RFC 3339 time nor a date YYYY-MM-DD", name, v)
	}
	if to, err = parse("to", to); err != nil {
		return
	}
	if from, err = parse("from", to.Add(-span)); err != nil {
		return
	}
	if !from.Before(to) {
		err = apperr.BadRange.New(nil, "from must be before to")
	}
	return
}

// queryLimit reads ?limit= as a number from 1 to most; def when absent.
func queryLimit(c *gin.Context, def, most int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		return 0, apperr.BadLimit.New(apperr.P{"value": v, "max": most}, "limit: %q is not a number from 1 to %d", v, most)
	}
	return n, nil
}
