package ingest

import (
	"time"
)

// EventType names what happened at a window; the set is fixed by the
// interface contract (CONTRACT.md, "Events").
type EventType string

// The event types the hall's queue and approval systems send.
const (
	TicketIssued   EventType = "ticket_issued"
	Called         EventType = "called"
	ServiceStarted EventType = "service_started"
	ServiceEnded   EventType = "service_ended"
	CaseAccepted   EventType = "case_accepted"
	CaseCompleted  EventType = "case_completed"
	CaseRejected   EventType = "case_rejected"
	Rating         EventType = "rating"
	WindowOpened   EventType = "window_opened"
	WindowClosed   EventType = "window_closed"
	WindowPaused   EventType = "window_paused"
)

// Event is one queue or case event as accepted from a producer. Fields a
// type does not use are empty. Applicants' personal data has no field here
// on purpose: supervision does not need it.
type Event struct {
	EventID string    `json:"event_id"`
	Type    EventType `json:"type"`
	TS      time.Time `json:"ts"`
	Hall    string    `json:"hall"`
	Window  string    `json:"window,omitempty"`
	CaseID  string    `json:"case_id,omitempty"`
	Ticket  string    `json:"ticket,omitempty"`
	Item    string    `json:"item,omitempty"`
	Staff   string    `json:"staff,omitempty"`
	Rating  int       `json:"rating,omitempty"`
}
