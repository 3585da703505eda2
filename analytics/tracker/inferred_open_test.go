package tracker

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
)

// serve adds a whole visit at A01: issue, call, start and end.
func (s *script) serve(ticket, issued, called, ended string) {
	s.add(ingest.TicketIssued, issued, ingest.Event{Ticket: ticket, Item: "SC-001"})
	s.add(ingest.Called, called, ingest.Event{Window: "A01", Ticket: ticket})
	s.add(ingest.ServiceStarted, called, ingest.Event{Window: "A01", Ticket: ticket})
	s.add(ingest.ServiceEnded, ended, ingest.Event{Window: "A01", Ticket: ticket})
}

func TestInferredOpenTime(t *testing.T) {
	// Spans as "start-end" local, " inferred" after an inferred one.
	runScripts(t, func(t *testing.T, f Facts) []string {
		var got []string
		for _, sp := range f.Spans {
			require.Equal(t, "A01", sp.Window)
			g := fmt.Sprintf("%s-%s", sp.Start.In(shanghai).Format("15:04"), sp.End.In(shanghai).Format("15:04"))
			if sp.Inferred {
				g += " inferred"
			}
			got = append(got, g)
		}
		return got
	}, []scriptCase{
		{"three visits, short gaps: one stretch from the first call to the last end", func(s *script) {
			s.serve("A001", "2026-11-26 09:00:00", "2026-11-26 09:05:00", "2026-11-26 09:15:00")
			s.serve("A002", "2026-11-26 09:01:00", "2026-11-26 09:20:00", "2026-11-26 09:30:00")
			s.serve("A003", "2026-11-26 09:02:00", "2026-11-26 09:40:00", "2026-11-26 09:50:00")
		}, []string{"09:05-09:15 inferred", "09:15-09:30 inferred", "09:30-09:50 inferred"}},
		{"a gap over 30 minutes is not open time", func(s *script) {
			s.serve("A001", "2026-11-26 09:00:00", "2026-11-26 09:05:00", "2026-11-26 09:15:00")
			s.serve("A002", "2026-11-26 09:01:00", "2026-11-26 09:46:00", "2026-11-26 09:50:00")
		}, []string{"09:05-09:15 inferred", "09:46-09:50 inferred"}},
		{"cut at whole UTC hours", func(s *script) {
			s.serve("A001", "2026-11-26 09:40:00", "2026-11-26 09:50:00", "2026-11-26 10:10:00")
		}, []string{"09:50-10:00 inferred", "10:00-10:10 inferred"}},
		{"an opened window infers nothing", func(s *script) {
			s.add(ingest.WindowOpened, "2026-11-26 09:00:00", ingest.Event{Window: "A01"})
			s.serve("A001", "2026-11-26 09:00:00", "2026-11-26 09:05:00", "2026-11-26 09:15:00")
			s.add(ingest.WindowClosed, "2026-11-26 09:30:00", ingest.Event{Window: "A01"})
		}, []string{"09:00-09:30"}},
		{"service finished after a pause counts only after the pause", func(s *script) {
			s.add(ingest.WindowOpened, "2026-11-26 09:00:00", ingest.Event{Window: "A01"})
			s.serve("A001", "2026-11-26 09:00:00", "2026-11-26 09:05:00", "2026-11-26 09:05:00")
			s.add(ingest.TicketIssued, "2026-11-26 09:06:00", ingest.Event{Ticket: "A002", Item: "SC-001"})
			s.add(ingest.Called, "2026-11-26 09:10:00", ingest.Event{Window: "A01", Ticket: "A002"})
			s.add(ingest.ServiceStarted, "2026-11-26 09:11:00", ingest.Event{Window: "A01", Ticket: "A002"})
			s.add(ingest.WindowPaused, "2026-11-26 09:20:00", ingest.Event{Window: "A01"})
			s.add(ingest.ServiceEnded, "2026-11-26 09:25:00", ingest.Event{Window: "A01", Ticket: "A002"})
		}, []string{"09:00-09:20", "09:20-09:25 inferred"}},
		{"a visit already inside the inferred stretch adds nothing", func(s *script) {
			s.serve("A001", "2026-11-26 09:00:00", "2026-11-26 09:05:00", "2026-11-26 09:30:00")
			// A02's ticket served at A01 with times inside the stretch
			// (a late, out-of-order report).
			s.serve("A002", "2026-11-26 09:01:00", "2026-11-26 09:10:00", "2026-11-26 09:20:00")
		}, []string{"09:05-09:30 inferred"}},
	})
}

// scriptCase is a script of events and what a test's view of the facts
// they make should be.
type scriptCase struct {
	name   string
	script func(s *script)
	want   []string
}

// runScripts applies each case's script to a new tracker and compares
// the view of its facts with want.
func runScripts(t *testing.T, view func(t *testing.T, f Facts) []string, cases []scriptCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s script
			tc.script(&s)
			require.Equal(t, tc.want, view(t, apply(New(testConfig()), s.evs)))
		})
	}
}
