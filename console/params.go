package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/ident"
)

// checkPathIDs holds every id in a URL path (a case, window, alert, item,
// live session) to the one id grammar of package ident, before any
// handler sees it: a bad one is answered 400, naming the parameter and
// never repeating the value (it may be 100 KB, or hold a NUL).
func checkPathIDs(c *gin.Context) {
	for _, p := range c.Params {
		if p.Key == "filepath" { // the console's static files
			continue
		}
		err := ident.Check(p.Value)
		if err == nil {
			continue
		}
		if p.Key == "case_id" {
			c.AbortWithStatusJSON(http.StatusBadRequest, errorBody(apperr.BadCaseID.New(apperr.P{"max": ident.MaxLen},
				"case id: %v (at most %d bytes)", err, ident.MaxLen)))
			return
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, errorBody(apperr.BadID.New(apperr.P{"param": p.Key, "max": ident.MaxLen},
			"%s: %v (at most %d bytes)", p.Key, err, ident.MaxLen)))
		return
	}
	c.Next()
}

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
