// Package tracker follows a hall's queue and cases event by event: which
// tickets wait, which window serves whom, which cases are open and when they
// are due. When a visit, a window's open span or a case changes state for
// good, it emits a fact row with the durations computed in Go (ClickHouse
// 18.16 has no window functions to pair events). Two trackers run in serve:
// one behind the event spool, whose facts go to ClickHouse, and one on the
// live path, which the supervision engine and the live wall read.
package tracker

import "time"

// Outcome is how a visit ended.
type Outcome string

const (
	// Served: called, service started and ended.
	Served Outcome = "served"
	// NoShow: called (perhaps re-called) but service never started before
	// the window called another ticket, paused, closed, or the day ended.
	NoShow Outcome = "no_show"
	// Abandoned: never called before the day ended.
	Abandoned Outcome = "abandoned"
)

// Visit is one ticket from issue to its end: one fact row in the visits
// table. Times are UTC. A ticket is identified by hall, local date and
// ticket number (queue systems restart numbering each day).
type Visit struct {
	Hall       string
	Tier       string // city | district | community, from the hall
	Window     string // the window that called it last; "" if never called
	Department string // the window's department, or the item's if never called
	Item       string
	Staff      string // from the last call or the service start
	Ticket     string
	CaseID     string // the case accepted or rejected during the service, if any
	Outcome    Outcome

	Issued  time.Time // ticket_issued (if it was missed: the ticket's first event)
	Called  time.Time // the last call; zero if never called
	Started time.Time // service_started; zero unless served
	// Ended is service_ended; zero unless served. A service whose end was
	// never sent ends when its window calls or starts another ticket,
	// closes, or at the end of the day.
	Ended time.Time
	Calls int // how many times it was called

	// WaitSeconds = Called − Issued, for served and no-show visits.
	WaitSeconds uint32
	// HandleSeconds = Ended − Called, for served visits (DESIGN.md: handling
	// is finish − call).
	HandleSeconds uint32
	// MetTarget: called within the item's target wait (served and no-show).
	MetTarget bool
}

// Span is a stretch of time a window was open for service (opened, not
// paused, not closed), cut at whole UTC hours so that hour-aligned ranges
// sum exactly. One fact row in the window_spans table.
type Span struct {
	Hall, Tier, Window, Department string
	Start, End                     time.Time // UTC, End > Start, same UTC hour
	// Inferred: the window sent no window_opened for this time; it is
	// taken as open because it was serving (see Tracker.inferOpen).
	Inferred bool
}

// CaseState is a case's state after an event: a row of the cases table
// (ReplacingMergeTree by case_id, the highest Version wins).
type CaseState struct {
	CaseID     string
	Hall       string
	Tier       string
	Window     string // the accepting window
	Department string // the item's department
	Item       string
	State      string // accepted | completed | rejected

	Accepted  time.Time // zero for a case rejected at the window
	Deadline  time.Time // end of the time_limit_days-th working day after acceptance
	Completed time.Time // completed or rejected at; zero while open
	OnTime    bool      // completed no later than Deadline
	// Version orders the rows of one case: the event time in milliseconds.
	Version uint64
}

// Rating is a 好差评 rating (1 very dissatisfied … 5 very satisfied) with the
// visit's dimensions filled in from the tracker's state.
type Rating struct {
	EventID                        string
	Hall, Tier, Window, Department string
	Item, Staff, Ticket, CaseID    string
	TS                             time.Time
	Rating                         uint8
}

// Facts is what applying events produced.
type Facts struct {
	Visits  []Visit
	Spans   []Span
	Cases   []CaseState
	Ratings []Rating
	Quality []Quality
}

// Len is the number of fact rows.
func (f *Facts) Len() int {
	return len(f.Visits) + len(f.Spans) + len(f.Cases) + len(f.Ratings) + len(f.Quality)
}

// QualityKind names what an event shows to be missing or out of place in
// a queue system's stream.
type QualityKind string

const (
	// EndWithoutStart: service_ended of a service whose service_started
	// never came.
	EndWithoutStart QualityKind = "end_without_start"
	// CallWithoutTicket: a ticket called (or served) whose ticket_issued
	// never came; counted once per visit.
	CallWithoutTicket QualityKind = "call_without_ticket"
	// CompletedWithoutAcceptance: case_completed of a case whose
	// case_accepted was never seen (its on-time state is unknown).
	CompletedWithoutAcceptance QualityKind = "completed_without_acceptance"
	// OutOfOrder: an event older than one its window (or, for an event
	// without a window, its hall) sent before it.
	OutOfOrder QualityKind = "out_of_order"
)

// Quality is one data-quality signal, at the time of the event that shows
// it: an operator integrating a queue system sees what it is not sending.
type Quality struct {
	Hall, Window string // Window "" for an event without one
	Kind         QualityKind
	TS           time.Time
}
