package console

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPathIDGrammar: every id in a URL path is held to the one grammar: a
// NUL, invalid UTF-8 or a 100 KB id gets a short 400 of our own that does
// not repeat it, and a well-formed unknown case a 404 without internals.
func TestPathIDGrammar(t *testing.T) {
	ts := newTestServer(t)
	manager, auditor, inspector := ts.login(t, RoleManager), ts.login(t, RoleAuditor), ts.login(t, RoleInspector)
	huge := strings.Repeat("C", 100<<10)
	tests := []struct {
		name, method, path, token, body string
		hdr                             map[string]string
		status                          int
		code                            string
	}{
		{"NUL in a case id", "GET", "/api/v1/cases/A%00B", manager, "", nil, 400, "bad_case_id"},
		{"invalid UTF-8 in a case id", "GET", "/api/v1/cases/A%FFB", manager, "", nil, 400, "bad_case_id"},
		{"100 KB case id", "GET", "/api/v1/cases/" + huge, manager, "", nil, 400, "bad_case_id"},
		{"space in a case id", "GET", "/api/v1/cases/A%20B", manager, "", nil, 400, "bad_case_id"},
		{"bad case id, clip", "GET", "/api/v1/cases/A%00B/clip?reason=x", auditor, "", nil, 400, "bad_case_id"},
		{"bad case id, hold", "POST", "/api/v1/cases/A%00B/hold", auditor, `{"reason":"x"}`, nil, 400, "bad_case_id"},
		{"bad public case id", "GET", "/api/v1/public/cases/A%00B", "", "", nil, 400, "bad_case_id"},
		{"bad window", "POST", "/api/v1/live/" + huge + "/whep", inspector, "v=0\r\n", map[string]string{"Content-Type": "application/sdp"}, 400, "bad_id"},
		{"bad alert id", "POST", "/api/v1/alerts/A%00B/ack", inspector, `{"comment":"x"}`, nil, 400, "bad_id"},
		{"bad item code", "GET", "/api/v1/public/items/A%FFB", "", "", nil, 400, "bad_id"},
		{"unknown case", "GET", "/api/v1/cases/NO-SUCH-1", manager, "", nil, 404, "case_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := ts.do(t, tt.method, tt.path, tt.token, tt.body, tt.hdr)
			require.Equal(t, tt.status, status, string(body))
			var e struct{ Error, Code string }
			require.NoError(t, json.Unmarshal(body, &e))
			require.Equal(t, tt.code, e.Code, string(body))
			require.Less(t, len(body), 400, "short, and the id is not echoed")
			require.NotContains(t, e.Error, "analytics")
			require.NotContains(t, string(body), "\\u0000")
		})
	}
	_, body, _ := ts.do(t, "GET", "/api/v1/cases/NO-SUCH-1", manager, "", nil)
	require.Equal(t, "case NO-SUCH-1: no such case", errorMessage(t, body))
}

// TestEventIDGrammarAndTime: POST /events refuses ids with a NUL or
// invalid UTF-8 (which JSON decoding would turn into U+FFFD) and times
// outside the window around now, each event with a true message, keeping
// the good ones; a huge event id is not echoed.
func TestEventIDGrammarAndTime(t *testing.T) {
	ts := newTestServer(t)
	now := ts.clock.t.UTC()
	good := `{"event_id":"ok-1","type":"case_completed","ts":"` + now.Format("2006-01-02T15:04:05Z") + `","hall":"city-main","case_id":"CM-9"}`
	batch := "[" + good + `,
	 {"event_id":"nul","type":"case_completed","ts":"` + now.Format("2006-01-02T15:04:05Z") + `","hall":"city-main","case_id":"A\u0000B"},
	 {"event_id":"utf8","type":"case_completed","ts":"` + now.Format("2006-01-02T15:04:05Z") + `","hall":"city-main","case_id":"A` + "\xff" + `B"},
	 {"event_id":"old","type":"window_opened","ts":"1970-01-01T00:00:00Z","hall":"city-main","window":"A01"},
	 {"event_id":"year1","type":"window_opened","ts":"0001-01-01T00:00:00Z","hall":"city-main","window":"A01"},
	 {"event_id":"` + strings.Repeat("E", 100<<10) + `","type":"window_opened","ts":"` + now.Format("2006-01-02T15:04:05Z") + `","hall":"city-main","window":"A01"}]`
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", batch, map[string]string{"X-API-Key": apiKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	require.Less(t, len(body), 2000, "the 100 KB id is not echoed")
	var resp struct {
		Accepted int `json:"accepted"`
		Results  []eventResult
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Equal(t, 1, resp.Accepted)
	want := []string{"", "case_id: only letters, digits", "case_id: not valid UTF-8", "ts: 1970-01-01T00:00:00Z is too old: more than 1826 days before",
		"ts: 0001-01-01T00:00:00Z (year 1) is not an event time", "event_id: longer than 128 bytes"}
	for i, w := range want {
		if w == "" {
			require.Equal(t, "accepted", resp.Results[i].Status)
			continue
		}
		require.Equal(t, "rejected", resp.Results[i].Status, i)
		require.Contains(t, resp.Results[i].Error, w, i)
	}
	require.Empty(t, resp.Results[5].EventID)
}

// TestEventsPersonalData: POST /events rejects an event with an
// applicant's name or ID number and keeps the others; the timeline of
// the kept case shows no personal data.
func TestEventsPersonalData(t *testing.T) {
	ts := newTestServer(t)
	ts2 := ts.clock.t.UTC().Format("2006-01-02T15:04:05Z")
	batch := `[{"event_id":"pd-1","type":"case_completed","ts":"` + ts2 + `","hall":"city-main","case_id":"CM-77"},
	 {"event_id":"pd-2","type":"case_completed","ts":"` + ts2 + `","hall":"city-main","case_id":"CM-78","applicant_name":"张三"},
	 {"event_id":"pd-3","type":"case_completed","ts":"` + ts2 + `","hall":"city-main","case_id":"11010519491231002X"}]`
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", batch, map[string]string{"X-API-Key": apiKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	var resp struct {
		Accepted int
		Results  []eventResult
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Equal(t, 1, resp.Accepted)
	require.Equal(t, "accepted", resp.Results[0].Status)
	require.Contains(t, resp.Results[1].Error, "applicant_name: applicants' personal data is not accepted")
	require.Contains(t, resp.Results[2].Error, "case_id: looks like a resident ID number")
	ts.drained(t)
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/cases/CM-78", ts.login(t, RoleManager), "", nil)
	require.Equal(t, http.StatusNotFound, status, "nothing of the rejected event is stored: %s", body)
	require.NotContains(t, string(body), "张三")
}
