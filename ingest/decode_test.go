package ingest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type fakeCatalog struct{}

func (fakeCatalog) WindowHall(w string) (string, bool) {
	switch w {
	case "A01", "A02":
		return "city-main", true
	case "B01":
		return "district-hx", true
	}
	return "", false
}
func (fakeCatalog) HasHall(h string) bool { return h == "city-main" || h == "district-hx" }
func (fakeCatalog) HasItem(c string) bool { return c == "SC-001" }

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestDecodeArrayAndNDJSON(t *testing.T) {
	arr := `[{"event_id":"e1","type":"called","ts":"2026-11-25T09:30:00.123+08:00","hall":"city-main","window":"A01","ticket":"A031"},
	         {"event_id":"e2","type":"rating","ts":"2026-11-25T09:40:00Z","hall":"city-main","window":"A01","rating":5}]`
	nd := `{"event_id":"e1","type":"called","ts":"2026-11-25T09:30:00.123+08:00","hall":"city-main","window":"A01","ticket":"A031"}

{"event_id":"e2","type":"rating","ts":"2026-11-25T09:40:00Z","hall":"city-main","window":"A01","rating":5}
`
	for name, body := range map[string]string{"array": arr, "ndjson": nd} {
		t.Run(name, func(t *testing.T) {
			items, err := DecodeBatch([]byte(body))
			require.NoError(t, err)
			require.Len(t, items, 2)
			require.NoError(t, items[0].Err)
			require.Equal(t, time.Date(2026, 11, 25, 1, 30, 0, 123e6, time.UTC), items[0].Event.TS, "times are stored in UTC")
			require.Equal(t, "A031", items[0].Event.Ticket)
			require.Equal(t, 5, items[1].Event.Rating)
			require.Equal(t, 1, items[1].Index)
			for _, it := range items {
				require.NoError(t, Validate(it.Event, fakeCatalog{}, now))
			}
		})
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"empty", "  ", "holds no events"},
		{"empty array", "[]", "holds no events"},
		{"broken array", `[{"event_id":"e1"`, "not a valid JSON array"},
		{"broken ndjson line", "{\"event_id\":\"e1\"}\n{oops}\n", "line 2 is not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch([]byte(tt.body))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestPerEventProblems(t *testing.T) {
	base := `"event_id":"e1","hall":"city-main","window":"A01","ticket":"A1","ts":"2026-11-25T09:30:00Z"`
	tests := []struct{ name, event, want string }{
		{"unknown type", `{` + base + `,"type":"teleported"}`, `type: unknown type "teleported"`},
		{"missing type", `{` + base + `}`, "type: missing"},
		{"missing ticket", `{"event_id":"e1","type":"called","hall":"city-main","window":"A01","ts":"2026-11-25T09:30:00Z"}`, "ticket: missing for a called event"},
		{"missing case id", `{` + base + `,"type":"case_completed"}`, "case_id: missing for a case_completed event"},
		{"bad time", `{"event_id":"e1","type":"called","hall":"city-main","window":"A01","ticket":"A1","ts":"25/11/2026 09:30"}`, `ts: "25/11/2026 09:30" is not an RFC 3339 time`},
		{"time without zone", `{"event_id":"e1","type":"called","hall":"city-main","window":"A01","ticket":"A1","ts":"2026-11-25T09:30:00"}`, "is not an RFC 3339 time"},
		{"future time", `{"event_id":"e1","type":"called","hall":"city-main","window":"A01","ticket":"A1","ts":"2027-01-01T00:00:00Z"}`, "is in the future"},
		{"number as string field", `{` + base + `,"type":"called","staff":1021}`, "staff: must be a string"},
		{"rating out of range", `{` + base + `,"type":"rating","rating":9}`, "rating: 9 is not from 1 to 5"},
		{"rating missing", `{` + base + `,"type":"rating"}`, "rating: missing"},
		{"rating not a number", `{` + base + `,"type":"rating","rating":"good"}`, "rating: must be a whole number"},
		{"unknown hall", `{"event_id":"e1","type":"window_opened","hall":"moon","window":"A01","ts":"2026-11-25T09:30:00Z"}`, `hall: unknown hall "moon"`},
		{"unknown window", `{"event_id":"e1","type":"window_opened","hall":"city-main","window":"Z9","ts":"2026-11-25T09:30:00Z"}`, `window: unknown window "Z9"`},
		{"window of other hall", `{"event_id":"e1","type":"window_opened","hall":"city-main","window":"B01","ts":"2026-11-25T09:30:00Z"}`, `window: "B01" belongs to hall "district-hx"`},
		{"unknown item", `{"event_id":"e1","type":"ticket_issued","hall":"city-main","ticket":"A1","item":"XX-1","ts":"2026-11-25T09:30:00Z"}`, `item: unknown item code "XX-1"`},
		{"not an object", `42`, "not a JSON object"},
		{"1970", `{"event_id":"e1","type":"called","hall":"city-main","window":"A01","ticket":"A1","ts":"1970-01-01T00:00:00Z"}`,
			"ts: 1970-01-01T00:00:00Z is too old: more than 1826 days before the server's clock (2026-11-25T12:00:00Z)"},
		{"year 1", `{"event_id":"e1","type":"called","hall":"city-main","window":"A01","ticket":"A1","ts":"0001-01-01T00:00:00Z"}`,
			"ts: 0001-01-01T00:00:00Z (year 1) is not an event time"},
		{"NUL in case id", `{` + base + `,"type":"case_completed","case_id":"A\u0000B"}`, "case_id: only letters, digits"},
		{"invalid UTF-8 in case id", `{` + base + `,"type":"case_completed","case_id":"A` + "\xff" + `B"}`, "case_id: not valid UTF-8"},
		{"space in ticket", `{` + base[:len(base)-len(`"ticket":"A1","ts":"2026-11-25T09:30:00Z"`)] + `"ticket":"A 1","ts":"2026-11-25T09:30:00Z","type":"called"}`, "ticket: only letters, digits"},
		{"100 KB case id", `{` + base + `,"type":"case_completed","case_id":"` + strings.Repeat("C", 100<<10) + `"}`, "case_id: longer than 128 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `[{"event_id":"ok","type":"window_opened","hall":"city-main","window":"A02","ts":"2026-11-25T08:30:00Z"},` + tt.event + `]`
			items, err := DecodeBatch([]byte(body))
			require.NoError(t, err)
			require.Len(t, items, 2)
			require.NoError(t, items[0].Err)
			require.NoError(t, Validate(items[0].Event, fakeCatalog{}, now), "the good event of the batch is kept")
			err = items[1].Err
			if err == nil {
				err = Validate(items[1].Event, fakeCatalog{}, now)
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`[{"event_id":"e1","type":"called","ts":"2026-11-25T09:30:00Z","hall":"city-main","window":"A01","ticket":"A1"}]`))
	f.Add([]byte("{\"event_id\":\"e1\"}\n{\"rating\":3}\n"))
	f.Add([]byte(`[1,"x",null,{}]`))
	f.Add([]byte(`[{"event_id":" e2 ","type":"rating","ts":"2026-11-25T09:30:00.5+08:00","hall":"h","window":"A01","rating":4,"extra":null}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		// What the fast path reads, the slow path reads the same.
		if fast, ok := fastDecode(bytes.TrimSpace(body)); ok {
			slow, err := slowDecode(bytes.TrimSpace(body))
			require.NoError(t, err, "the fast path accepted a body the slow path refuses")
			require.Equal(t, slow, fast, "fast and slow paths disagree")
		}
		items, err := DecodeBatch(body)
		if err != nil {
			require.Empty(t, items)
			return
		}
		require.NotEmpty(t, items)
		for i, it := range items {
			require.Equal(t, i, it.Index)
			if it.Err == nil {
				_ = Validate(it.Event, fakeCatalog{}, now)
				if !it.Event.TS.IsZero() {
					require.Equal(t, time.UTC, it.Event.TS.Location())
				}
			}
		}
	})
}

// BenchmarkDecodeValidate is the intake's per-event CPU cost before the
// spool: decoding a 1,000-event JSON array and validating every event.
func BenchmarkDecodeValidate(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 1000 {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"event_id":"sim-1-CM-20261125-%05d","type":"service_ended","ts":"2026-11-25T09:30:00.123+08:00","hall":"city-main","window":"A07","ticket":"A031","item":"SC-001","staff":"E1021"}`, i)
	}
	sb.WriteString("]")
	body := []byte(sb.String())
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := DecodeBatch(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, it := range items {
			if it.Err != nil {
				b.Fatal(it.Err)
			}
			if err := Validate(it.Event, nil, now); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/event")
}

// TestValidateWithinLimits: the time window is the configuration's.
func TestValidateWithinLimits(t *testing.T) {
	ev := Event{EventID: "e1", Type: WindowOpened, Hall: "city-main", Window: "A01"}
	lim := Limits{MaxAge: 48 * time.Hour, MaxAhead: time.Minute}
	for _, tt := range []struct {
		name string
		ts   time.Time
		want string
	}{
		{"inside", now.Add(-47 * time.Hour), ""},
		{"too old", now.Add(-49 * time.Hour), "too old: more than 2 days before"},
		{"ahead within skew", now.Add(59 * time.Second), ""},
		{"too far ahead", now.Add(2 * time.Minute), "in the future: more than 1m0s ahead"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ev.TS = tt.ts
			err := ValidateWithin(ev, fakeCatalog{}, now, lim)
			if tt.want == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tt.want)
			}
		})
	}
}

// TestPersonalDataRejected: an event that carries an applicant's name, ID
// or phone number (by its key, or an ID number by its value, in any field)
// is rejected with a message naming the field; the rest of the batch is
// kept, and case numbers that only look numeric pass.
func TestPersonalDataRejected(t *testing.T) {
	base := `"event_id":"p1","type":"called","hall":"city-main","window":"A01","ticket":"A1","ts":"2026-11-25T09:30:00Z"`
	tests := []struct{ name, event, want string }{
		{"applicant_name", `{` + base + `,"applicant_name":"张三"}`, "applicant_name: applicants' personal data is not accepted"},
		{"Name", `{` + base + `,"Name":"Li Si"}`, "Name: applicants' personal data"},
		{"身份证号 key", `{` + base + `,"身份证号":"x"}`, "身份证号: applicants' personal data"},
		{"phone", `{` + base + `,"phone":"13800138000"}`, "phone: applicants' personal data"},
		{"id number in case_id", `{"event_id":"p1","type":"case_completed","hall":"city-main","case_id":"11010519491231002X","ts":"2026-11-25T09:30:00Z"}`,
			"case_id: looks like a resident ID number"},
		{"id number, lower x, in a free key", `{` + base + `,"remark":"11010519491231002x"}`, "remark: looks like a resident ID number"},
		{"old 15-digit id in ticket", `{"event_id":"p1","type":"called","hall":"city-main","window":"A01","ticket":"110105491231002","ts":"2026-11-25T09:30:00Z"}`,
			"ticket: looks like a resident ID number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `[{"event_id":"ok","type":"window_opened","hall":"city-main","window":"A02","ts":"2026-11-25T08:30:00Z"},` + tt.event + `]`
			items, err := DecodeBatch([]byte(body))
			require.NoError(t, err)
			require.Len(t, items, 2)
			require.NoError(t, items[0].Err, "the other event is kept")
			require.ErrorContains(t, items[1].Err, tt.want)
		})
	}
	for _, ok := range []string{
		"202611250000012345", // 18 digits, no valid birth date
		"110105194912310021", // a valid date, the wrong check digit
		"HH-2026-000123",
	} {
		items, err := DecodeBatch([]byte(`[{"event_id":"c1","type":"case_completed","hall":"city-main","ts":"2026-11-25T09:30:00Z","case_id":"` + ok + `"}]`))
		require.NoError(t, err)
		require.NoError(t, items[0].Err, ok)
		require.Equal(t, ok, items[0].Event.CaseID)
	}
}
