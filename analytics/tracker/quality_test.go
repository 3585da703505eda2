package tracker

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
)

func TestQualitySignals(t *testing.T) {
	// Signals as "kind window hh:mm" (local).
	runScripts(t, func(t *testing.T, f Facts) []string {
		var got []string
		for _, q := range f.Quality {
			require.Equal(t, "city-main", q.Hall)
			got = append(got, fmt.Sprintf("%s %s %s", q.Kind, q.Window, q.TS.In(shanghai).Format("15:04")))
		}
		return got
	}, []scriptCase{
		{"a complete visit and case: none", func(s *script) {
			s.add(ingest.WindowOpened, "2026-11-26 08:30:00", ingest.Event{Window: "A01"})
			s.serve("A001", "2026-11-26 09:00:00", "2026-11-26 09:05:00", "2026-11-26 09:15:00")
			s.add(ingest.CaseAccepted, "2026-11-26 09:15:00", ingest.Event{Window: "A01", Ticket: "A001", Item: "SC-001", CaseID: "C1"})
			s.add(ingest.CaseCompleted, "2026-11-26 09:15:00", ingest.Event{Window: "A01", Item: "SC-001", CaseID: "C1"})
		}, nil},
		{"end without start, call without ticket", func(s *script) {
			s.add(ingest.Called, "2026-11-26 09:05:00", ingest.Event{Window: "A01", Ticket: "A001"})
			s.add(ingest.ServiceEnded, "2026-11-26 09:15:00", ingest.Event{Window: "A01", Ticket: "A001"})
		}, []string{"call_without_ticket A01 09:05", "end_without_start A01 09:15"}},
		{"a service end alone is both, once each", func(s *script) {
			s.add(ingest.ServiceEnded, "2026-11-26 09:15:00", ingest.Event{Window: "A01", Ticket: "A001"})
		}, []string{"call_without_ticket A01 09:15", "end_without_start A01 09:15"}},
		{"completed without acceptance; a rejection is not", func(s *script) {
			s.add(ingest.CaseCompleted, "2026-11-26 09:15:00", ingest.Event{Window: "A01", Item: "SC-001", CaseID: "C1"})
			s.add(ingest.CaseRejected, "2026-11-26 09:16:00", ingest.Event{Window: "A01", Item: "SC-001", CaseID: "C2"})
		}, []string{"completed_without_acceptance A01 09:15"}},
		{"out of order per window, and per hall for tickets", func(s *script) {
			s.add(ingest.WindowOpened, "2026-11-26 09:00:00", ingest.Event{Window: "A01"})
			s.add(ingest.WindowOpened, "2026-11-26 08:00:00", ingest.Event{Window: "A02"}) // A02's own first: in order
			s.add(ingest.WindowPaused, "2026-11-26 08:59:00", ingest.Event{Window: "A01"})
			s.add(ingest.TicketIssued, "2026-11-26 09:10:00", ingest.Event{Ticket: "A001", Item: "SC-001"})
			s.add(ingest.TicketIssued, "2026-11-26 09:09:59", ingest.Event{Ticket: "A002", Item: "SC-001"}) // within a second
			s.add(ingest.TicketIssued, "2026-11-26 09:05:00", ingest.Event{Ticket: "A003", Item: "SC-001"})
		}, []string{"out_of_order A01 08:59", "out_of_order  09:05"}},
	})
}
