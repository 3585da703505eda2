package ingest

import (
	"fmt"
	"time"

	"github.com/sunlight-gov/sunlight/internal/ident"
)

// Catalog answers what the configuration knows, so that an event naming an
// unknown hall, window or item is rejected at the door.
type Catalog interface {
	// WindowHall returns the hall a window belongs to.
	WindowHall(window string) (hall string, ok bool)
	HasHall(hall string) bool
	HasItem(code string) bool
}

// required lists, per type, the fields beyond event_id, type, ts and hall
// that an event of that type must carry.
var required = map[EventType][]string{
	TicketIssued:   {"ticket", "item"},
	Called:         {"ticket", "window"},
	ServiceStarted: {"ticket", "window"},
	ServiceEnded:   {"ticket", "window"},
	CaseAccepted:   {"case_id", "window", "item"},
	CaseCompleted:  {"case_id"},
	CaseRejected:   {"case_id"},
	Rating:         {"window", "rating"},
	WindowOpened:   {"window"},
	WindowClosed:   {"window"},
	WindowPaused:   {"window"},
}

// Types lists the event types in a stable order (for messages and docs).
var Types = []EventType{TicketIssued, Called, ServiceStarted, ServiceEnded,
	CaseAccepted, CaseCompleted, CaseRejected, Rating, WindowOpened, WindowClosed, WindowPaused}

// fieldNames are the string fields Validate checks, in Event order;
// fieldIndex finds one by name.
var (
	fieldNames = [...]string{"event_id", "hall", "window", "case_id", "ticket", "item", "staff"}
	fieldIndex = map[string]int{"event_id": 0, "hall": 1, "window": 2, "case_id": 3, "ticket": 4, "item": 5, "staff": 6}
)

// Limits bound an event's time around the server's: MaxAge in the past (a
// queue system replaying its history), MaxAhead in the future (clock skew).
type Limits struct {
	MaxAge, MaxAhead time.Duration
}

// DefaultLimits are the configuration's defaults (intake.max_event_age_days
// and intake.max_event_ahead_minutes).
var DefaultLimits = Limits{MaxAge: 1826 * 24 * time.Hour, MaxAhead: 10 * time.Minute}

// Validate is ValidateWithin under DefaultLimits.
func Validate(ev Event, cat Catalog, now time.Time) error {
	return ValidateWithin(ev, cat, now, DefaultLimits)
}

// ValidateWithin checks one event against its type's required fields, the
// id grammar (package ident), the catalog, and its time against lim
// around now.
func ValidateWithin(ev Event, cat Catalog, now time.Time, lim Limits) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if ev.EventID == "" {
		bad("event_id: missing")
	}
	if ev.Type == "" {
		bad("type: missing")
	}
	if ev.TS.IsZero() {
		bad("ts: missing")
	} else if ev.TS.After(now.Add(lim.MaxAhead)) {
		bad("ts: %s is in the future: more than %s ahead of the server's clock (%s)", ev.TS.Format(time.RFC3339), lim.MaxAhead, now.UTC().Format(time.RFC3339))
	} else if ev.TS.Before(now.Add(-lim.MaxAge)) {
		bad("ts: %s is too old: more than %d days before the server's clock (%s)", ev.TS.Format(time.RFC3339), int(lim.MaxAge/(24*time.Hour)), now.UTC().Format(time.RFC3339))
	}
	if ev.Hall == "" {
		bad("hall: missing")
	}
	fields := [...]string{ev.EventID, ev.Hall, ev.Window, ev.CaseID, ev.Ticket, ev.Item, ev.Staff}
	for i, v := range fields {
		if v != "" {
			if err := ident.Check(v); err != nil {
				bad("%s: %v", fieldNames[i], err)
			}
		}
	}
	if ev.Type != "" {
		need, known := required[ev.Type]
		if !known {
			bad("type: unknown type %q (one of %v)", ev.Type, Types)
		}
		for _, f := range need {
			if f == "rating" {
				if ev.Rating == 0 {
					bad("rating: missing (1 to 5) for a %s event", ev.Type)
				}
				continue
			}
			if fields[fieldIndex[f]] == "" {
				bad("%s: missing for a %s event", f, ev.Type)
			}
		}
	}
	if ev.Rating != 0 && (ev.Rating < 1 || ev.Rating > 5) {
		bad("rating: %d is not from 1 to 5", ev.Rating)
	}
	if cat != nil {
		if ev.Hall != "" && !cat.HasHall(ev.Hall) {
			bad("hall: unknown hall %q", ev.Hall)
		}
		if ev.Window != "" {
			if hall, ok := cat.WindowHall(ev.Window); !ok {
				bad("window: unknown window %q", ev.Window)
			} else if ev.Hall != "" && hall != ev.Hall {
				bad("window: %q belongs to hall %q, not %q", ev.Window, hall, ev.Hall)
			}
		}
		if ev.Item != "" && !cat.HasItem(ev.Item) {
			bad("item: unknown item code %q", ev.Item)
		}
	}
	return joinErrors(errs)
}
