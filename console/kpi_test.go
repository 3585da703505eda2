package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/supervision"
)

// TestAnalyticsEndpoints checks the HTTP side of the KPIs over real facts
// (the KPI arithmetic itself is pinned by analytics' fixture test): the
// served case of caseEvents, JSON and CSV, and a 400 naming the problem for
// each bad parameter.
func TestAnalyticsEndpoints(t *testing.T) {
	ts := newTestServer(t)
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", caseEvents, map[string]string{"X-API-Key": apiKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	ts.drained(t)
	token := ts.login(t, RoleManager)

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/analytics/kpi?level=window&from=2026-11-23&to=2026-11-24", token, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var resp struct {
		Level string           `json:"level"`
		Rows  []map[string]any `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Len(t, resp.Rows, 1, string(body))
	row := resp.Rows[0]
	require.Equal(t, "city-main/A01", row["key"])
	require.EqualValues(t, 1, row["served"])
	require.EqualValues(t, 300, row["wait_p50_s"], "called 09:05 for a ticket of 09:00")
	require.EqualValues(t, 480, row["handle_p50_s"], "ended 09:13, called 09:05")
	require.EqualValues(t, 1, row["service_level"], "within the 15-minute target")

	status, body, hdr := ts.do(t, http.MethodGet, "/api/v1/analytics/kpi?level=department&from=2026-11-23&to=2026-11-24&format=csv", token, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Equal(t, "text/csv; charset=utf-8", hdr.Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(body), "\ufeff")), "\n")
	require.Len(t, lines, 2, string(body))
	require.True(t, strings.HasPrefix(lines[0], "department,tickets,called,served,"), lines[0])
	require.True(t, strings.HasPrefix(lines[1], "市场监管局,1,1,1,"), lines[1])

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/analytics/distribution?metric=wait&from=2026-11-23&to=2026-11-24", token, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), `{"from_s":300,"to_s":600,"count":1}`)

	// caseEvents sends no window_opened: A01's open time is inferred from
	// its service.
	require.EqualValues(t, row["open_seconds"], row["open_inferred_seconds"])
	require.Positive(t, row["open_seconds"])

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/analytics/quality?from=2026-11-23&to=2026-11-24", token, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var quality struct {
		LateAfter int                    `json:"late_after_minutes"`
		Rows      []analytics.QualityRow `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(body, &quality))
	require.Equal(t, 60, quality.LateAfter)
	require.NotEmpty(t, quality.Rows, string(body))
	var events uint64
	for _, r := range quality.Rows {
		events += r.Events
	}
	require.EqualValues(t, strings.Count(caseEvents, "event_id"), events, "every event of the day is counted once")

	bad := []struct{ path, want string }{
		{"/api/v1/analytics/kpi?level=galaxy", `level: "galaxy" is not one of`},
		{"/api/v1/analytics/kpi?from=2026-11-25&to=2026-11-24", "from must be before to"},
		{"/api/v1/analytics/kpi?from=yesterday", `from: "yesterday" is neither an RFC 3339 time nor a date`},
		{"/api/v1/analytics/kpi?sort=speed", `unknown sort key "speed"`},
		{"/api/v1/analytics/kpi?hall=atlantis", `hall: unknown hall "atlantis"`},
		{"/api/v1/analytics/kpi?compare=maybe", `compare: "maybe" is not 1 or 0`},
		{"/api/v1/analytics/kpi?from=2020-01-01&to=2026-01-01", "range"},
		{"/api/v1/analytics/windows?bucket=week", `bucket: "week" is not hour, day or all`},
		{"/api/v1/analytics/windows?bucket=hour&from=2026-11-01&to=2026-11-25", "more than 62 buckets"},
		{"/api/v1/analytics/distribution?metric=mood", `metric "mood" is not wait or handle`},
		{"/api/v1/analytics/quality?late_minutes=soon", `late_minutes: "soon" is not a number of minutes`},
		{"/api/v1/analytics/quality?hall=atlantis", `hall: unknown hall "atlantis"`},
	}
	for _, b := range bad {
		status, body, _ := ts.do(t, http.MethodGet, b.path, token, "", nil)
		require.Equal(t, http.StatusBadRequest, status, "%s: %s", b.path, body)
		require.Contains(t, errorMessage(t, body), b.want, b.path)
	}
}

// TestPublicCase: progress by case number without sign-in, and nothing of
// the window, staff or ticket.
func TestPublicCase(t *testing.T) {
	ts := newTestServer(t)
	ts.clock.t = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", caseEvents, map[string]string{"X-API-Key": apiKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	ts.drained(t)

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/public/cases/CM-1", "", "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	var got map[string]any
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, "accepted", got["state"])
	require.Equal(t, "办理中", got["state_text"])
	// Accepted Monday 2026-11-23 with a limit of 3 working days: due by
	// the end of Thursday; on Tuesday, Tuesday is used, two are left.
	require.Equal(t, "2026-11-26", got["deadline"])
	require.EqualValues(t, 1, got["workdays_used"])
	require.EqualValues(t, 2, got["workdays_left"])
	require.Equal(t, "企业设立登记", got["item"].(map[string]any)["name"])
	for _, private := range []string{"A01", "A001", "window", "staff", "ticket"} {
		require.NotContains(t, string(body), private, "the public view shows no %s", private)
	}

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/public/cases/CM-404", "", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, errorMessage(t, body), "no such case")
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/public/cases/"+strings.Repeat("9", 129), "", "", nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, errorMessage(t, body), "case id: longer than 128 bytes")

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/public/items?q=企业", "", "", nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"code":"SC-001"`)
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/public/items/XX-9", "", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, errorMessage(t, body), `item "XX-9": no such item`)
}

// TestAlertStreamAndAck: an open alert comes first on the stream, a new one
// is pushed as it is published, an acknowledgement (with its required
// comment) is pushed too and cannot be repeated.
func TestAlertStreamAndAck(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	old := supervision.Alert{ID: "case_overdue:CM-9", Kind: supervision.KindCaseOverdue, Severity: supervision.Red, Hall: "city-main",
		Window: "A01", CaseID: "CM-9", Message: "办件 CM-9 已超期", MessageEN: "case CM-9 overdue", RaisedAt: ts.clock.t.Add(-time.Hour)}
	require.NoError(t, ts.store.InsertAlerts(ctx, []supervision.Alert{old}))
	token := ts.login(t, RoleInspector)

	events := ts.readSSE(t, token, "/api/v1/alerts/stream")
	next := func() (string, map[string]any) {
		select {
		case e := <-events:
			var v map[string]any
			require.NoError(t, json.Unmarshal([]byte(e.data), &v))
			return e.event, v
		case <-time.After(10 * time.Second):
			t.Fatal("no event on the alert stream")
		}
		return "", nil
	}
	kind, v := next()
	require.Equal(t, "alert", kind)
	require.Equal(t, old.ID, v["id"], "the open alert comes first")

	fresh := supervision.Alert{ID: "long_wait:red:city-main:20261125:A031", Kind: supervision.KindLongWait, Severity: supervision.Red,
		Hall: "city-main", Ticket: "A031", Message: "A031 等待超时", MessageEN: "A031 waited too long", RaisedAt: ts.clock.t}
	require.NoError(t, ts.store.InsertAlerts(ctx, []supervision.Alert{fresh}))
	ts.PublishAlerts([]supervision.Alert{fresh})
	kind, v = next()
	require.Equal(t, "alert", kind)
	require.Equal(t, fresh.ID, v["id"])
	require.Equal(t, "red", v["severity"])

	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/alerts/"+old.ID+"/ack", token, `{"comment":"  "}`, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, errorMessage(t, body), "comment: required")
	status, body, _ = ts.do(t, http.MethodPost, "/api/v1/alerts/"+old.ID+"/ack", token, `{"comment":"已电话督办"}`, nil)
	require.Equal(t, http.StatusOK, status, string(body))
	kind, v = next()
	require.Equal(t, "ack", kind)
	require.Equal(t, old.ID, v["id"])
	require.Equal(t, "inspector", v["acked_by"])
	require.Equal(t, "已电话督办", v["ack_comment"])
	status, body, _ = ts.do(t, http.MethodPost, "/api/v1/alerts/"+old.ID+"/ack", token, `{"comment":"again"}`, nil)
	require.Equal(t, http.StatusConflict, status)
	require.Contains(t, errorMessage(t, body), "already acknowledged by inspector")

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/alerts?state=open&severity=red", token, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.Contains(t, string(body), fresh.ID)
	require.NotContains(t, string(body), old.ID, "acknowledged: no longer open")
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/alerts?severity=orange", token, "", nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, errorMessage(t, body), `severity: "orange" is not yellow or red`)
}

// TestAuditFilters: the audit log by user and action, and as CSV with the
// halls' time zone.
func TestAuditFilters(t *testing.T) {
	ts := newTestServer(t)
	ts.login(t, RoleManager)
	auditor := ts.login(t, RoleAuditor)
	var resp struct {
		Entries []struct{ Actor, Action string } `json:"entries"`
	}
	require.Eventually(t, func() bool {
		status, body, _ := ts.do(t, http.MethodGet, "/api/v1/audit?action=login", auditor, "", nil)
		return status == http.StatusOK && json.Unmarshal(body, &resp) == nil && len(resp.Entries) >= 2
	}, 10*time.Second, 50*time.Millisecond, "both logins are in the log")
	actors := map[string]bool{}
	for _, e := range resp.Entries {
		require.Equal(t, "login", e.Action)
		actors[e.Actor] = true
	}
	require.Len(t, actors, 2, "the manager's and the auditor's")

	status, body, _ := ts.do(t, http.MethodGet, "/api/v1/audit?action=login&actor="+string(RoleAuditor)+"&format=csv", auditor, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(body), "\ufeff")), "\n")
	require.Equal(t, "ts,actor,role,action,target,detail,client", lines[0])
	require.GreaterOrEqual(t, len(lines), 2, string(body))
	for _, l := range lines[1:] {
		require.Contains(t, l, "+08:00,"+string(RoleAuditor)+",auditor,login,", "the hall's zone, the auditor's logins only")
	}
}
