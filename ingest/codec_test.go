package ingest

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	evs := []Event{
		{EventID: "e1", Type: TicketIssued, TS: time.Date(2026, 11, 25, 1, 2, 3, 456789000, time.UTC), Hall: "h", Ticket: "A001", Item: "SC-001"},
		{EventID: "e2", Type: Rating, TS: time.Date(2026, 11, 25, 1, 9, 0, 0, time.UTC), Hall: "h", Window: "A01", Staff: "E1", Rating: 5, CaseID: "办件-1"},
	}
	rec := AppendRecord(nil, evs)
	got, err := DecodeRecord(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, evs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, evs)
	}
	for cut := 0; cut < len(rec); cut++ {
		if _, err := DecodeRecord(rec[:cut], nil); err == nil {
			t.Fatalf("a record cut at %d of %d bytes decoded without error", cut, len(rec))
		}
	}
}

func TestRecordEvents(t *testing.T) {
	evs := make([]Event, 37)
	for i := range evs {
		evs[i] = Event{EventID: "e", Type: Called, TS: time.Unix(1764000000, 0), Hall: "h"}
	}
	rec := AppendRecord(nil, evs)
	if n := RecordEvents(rec); n != len(evs) {
		t.Fatalf("RecordEvents = %d, want %d", n, len(evs))
	}
	// A count the record's bytes cannot hold is refused by both, before
	// DecodeRecord allocates room for it.
	huge := append([]byte{codecVersion}, 0xff, 0xff, 0xff, 0xff, 0x0f)
	huge = append(huge, make([]byte, 64)...)
	if n := RecordEvents(huge); n != 0 {
		t.Fatalf("RecordEvents of a record claiming 4G events in 64 bytes = %d, want 0", n)
	}
	if _, err := DecodeRecord(huge, nil); err == nil {
		t.Fatal("a record claiming 4G events in 64 bytes decoded")
	}
	if n := RecordEvents([]byte{9, 1}); n != 0 {
		t.Fatalf("RecordEvents of another version = %d, want 0", n)
	}
}

func BenchmarkRecordRoundTrip(b *testing.B) {
	evs := make([]Event, 100)
	for i := range evs {
		evs[i] = Event{EventID: "sim-1-CM-20261125-00042", Type: ServiceEnded, TS: time.Now(), Hall: "city-main", Window: "A07", Ticket: "A031", Item: "SC-001", Staff: "E1003"}
	}
	var buf []byte
	var out []Event
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], evs)
		var err error
		if out, err = DecodeRecord(buf, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

// FuzzDecodeRecord: any bytes either decode or fail with an error; what
// decodes encodes back to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, []Event{{EventID: "e1", Type: Called, TS: time.Unix(1764000000, 5), Hall: "h", Window: "A01", Ticket: "A001"}}))
	f.Add([]byte{codecVersion, 0})
	f.Fuzz(func(t *testing.T, rec []byte) {
		evs, err := DecodeRecord(rec, nil)
		if err != nil {
			return
		}
		if again := AppendRecord(nil, evs); !bytes.Equal(again, rec) {
			// Varints have one shortest form; a longer one decodes too.
			if back, err := DecodeRecord(again, nil); err != nil || !reflect.DeepEqual(back, evs) {
				t.Fatalf("re-encoded record does not decode to the same events: %v", err)
			}
		}
	})
}
