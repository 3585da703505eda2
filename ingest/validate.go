package ingest

import (
	"fmt"
	"time"
	"unicode/utf8"
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

// maxField bounds every string field: ids, not documents.
const maxField = 128

// Validate checks one event against its type's required fields and the
// catalog. now bounds how far in the future a timestamp may be (clock skew).
func Validate(ev Event, cat Catalog, now time.Time) error {
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
	} else if ev.TS.After(now.Add(10 * time.Minute)) {
		bad("ts: %s is in the future", ev.TS.Format(time.RFC3339))
	}
	if ev.Hall == "" {
		bad("hall: missing")
	}
	fields := [...]string{ev.EventID, ev.Hall, ev.Window, ev.CaseID, ev.Ticket, ev.Item, ev.Staff}
	for i, v := range fields {
		if len(v) > maxField {
			bad("%s: longer than %d bytes", fieldNames[i], maxField)
		} else if !utf8.ValidString(v) {
			bad("%s: not valid UTF-8", fieldNames[i])
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
