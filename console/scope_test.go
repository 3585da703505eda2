package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics/supervision"
)

// districtAPIKey is an event producer limited to the district hall.
const districtAPIKey = "district-queue-key"

// scopeConfig is testConfig with a district hall under the city hall and an
// API key limited to it.
func scopeConfig() string {
	sum := sha256.Sum256([]byte(districtAPIKey))
	cfg := strings.Replace(testConfig, "halls:\n", `halls:
  - id: district-xincheng
    name: 新城区政务服务中心
    tier: district
    parent: city-main
    windows:
      - id: X01
        department: 市场监管局
        items: [SC-001]
        camera: rtsp://127.0.0.1:8554/window/X01
`, 1)
	return strings.Replace(cfg, "  api_keys:\n", fmt.Sprintf(`  api_keys:
    - name: district-queue
      key_sha256: %q
      scope: [district-xincheng]
`, hex.EncodeToString(sum[:])), 1)
}

// newScopeTestServer is a test server over scopeConfig with, besides the
// users of newTestServer, one user per role limited to the district:
// x-<role>, password district-<role>.
func newScopeTestServer(t *testing.T) *testServer {
	t.Helper()
	return newTestServerConfig(t, scopeConfig(), func(usersFile string) {
		for _, r := range Roles {
			require.NoError(t, AddScopedUser(usersFile, "x-"+string(r), r, "district-"+string(r), []string{"district-xincheng"}))
		}
	})
}

func (ts *testServer) loginAs(t *testing.T, user, password string) string {
	t.Helper()
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/auth/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, user, password), nil)
	require.Equal(t, http.StatusOK, status, "login %s: %s", user, body)
	var resp struct {
		Token string `json:"token"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	return resp.Token
}

// districtEvents is one served case at the district's window X01.
const districtEvents = `[
 {"event_id":"x1","type":"ticket_issued","ts":"2026-11-23T10:00:00+08:00","hall":"district-xincheng","ticket":"X001","item":"SC-001"},
 {"event_id":"x2","type":"called","ts":"2026-11-23T10:05:00+08:00","hall":"district-xincheng","window":"X01","ticket":"X001"},
 {"event_id":"x3","type":"service_started","ts":"2026-11-23T10:05:30+08:00","hall":"district-xincheng","window":"X01","ticket":"X001"},
 {"event_id":"x4","type":"case_accepted","ts":"2026-11-23T10:12:00+08:00","hall":"district-xincheng","window":"X01","ticket":"X001","case_id":"XC-1","item":"SC-001"},
 {"event_id":"x5","type":"service_ended","ts":"2026-11-23T10:13:00+08:00","hall":"district-xincheng","window":"X01","ticket":"X001","case_id":"XC-1"}]`

// TestScopedLists: what a district-scoped user sees of lists, streams and
// analytics is its district's, and its own district's resources answer as
// they do to an unscoped user.
func TestScopedLists(t *testing.T) {
	ts := newScopeTestServer(t)
	for _, batch := range []string{caseEvents, districtEvents} {
		status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", batch, map[string]string{"X-API-Key": apiKey})
		require.Equal(t, http.StatusAccepted, status, string(body))
	}
	ts.drained(t)
	require.NoError(t, ts.store.InsertAlerts(context.Background(), []supervision.Alert{
		{ID: "al-city", Kind: "long_wait", Severity: "yellow", Hall: "city-main", Window: "A01", Message: "等待超时", MessageEN: "long wait", RaisedAt: ts.clock.t},
		{ID: "al-district", Kind: "long_wait", Severity: "yellow", Hall: "district-xincheng", Window: "X01", Message: "等待超时", MessageEN: "long wait", RaisedAt: ts.clock.t},
	}))
	city := ts.login(t, RoleInspector)
	district := ts.loginAs(t, "x-inspector", "district-inspector")
	get := func(token, path string) (int, []byte) {
		status, body, _ := ts.do(t, http.MethodGet, path, token, "", nil)
		return status, body
	}
	ids := func(body []byte, list, field string) []string {
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(mustField(t, body, list), &rows), string(body))
		out := []string{}
		for _, e := range rows {
			out = append(out, fmt.Sprint(e[field]))
		}
		return out
	}

	t.Run("me", func(t *testing.T) {
		_, body := get(district, "/api/v1/auth/me")
		require.JSONEq(t, `["district-xincheng"]`, string(mustField(t, body, "scope")))
		_, body = get(city, "/api/v1/auth/me")
		require.JSONEq(t, `[]`, string(mustField(t, body, "scope")))
	})
	t.Run("halls and windows", func(t *testing.T) {
		_, body := get(city, "/api/v1/halls")
		require.Equal(t, []string{"district-xincheng", "city-main"}, ids(body, "halls", "id"))
		_, body = get(district, "/api/v1/halls")
		require.Equal(t, []string{"district-xincheng"}, ids(body, "halls", "id"))
		_, body = get(city, "/api/v1/windows")
		require.Equal(t, []string{"X01", "A01"}, ids(body, "windows", "id"))
		_, body = get(district, "/api/v1/windows")
		require.Equal(t, []string{"X01"}, ids(body, "windows", "id"))
	})
	t.Run("windows stream", func(t *testing.T) {
		status, body := get(district, "/api/v1/windows/stream?snapshot=1")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, string(body), `"id":"X01"`)
		require.NotContains(t, string(body), `"id":"A01"`)
	})
	t.Run("alerts", func(t *testing.T) {
		_, body := get(city, "/api/v1/alerts")
		require.ElementsMatch(t, []string{"al-city", "al-district"}, ids(body, "alerts", "id"))
		_, body = get(district, "/api/v1/alerts")
		require.Equal(t, []string{"al-district"}, ids(body, "alerts", "id"))
		status, body := get(district, "/api/v1/alerts/stream?snapshot=1")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, string(body), "id: al-district")
		require.NotContains(t, string(body), "al-city")
		status, body, _ = ts.do(t, http.MethodPost, "/api/v1/alerts/al-city/ack", district, `{"comment":"seen"}`, nil)
		require.Equal(t, http.StatusForbidden, status, string(body))
		status, body, _ = ts.do(t, http.MethodPost, "/api/v1/alerts/al-district/ack", district, `{"comment":"seen"}`, nil)
		require.Equal(t, http.StatusOK, status, string(body))
	})
	t.Run("live", func(t *testing.T) {
		hdr := map[string]string{"Content-Type": "application/sdp"}
		status, body, _ := ts.do(t, http.MethodPost, "/api/v1/live/A01/whep", district, "v=0\r\n", hdr)
		require.Equal(t, http.StatusForbidden, status, string(body))
		require.Contains(t, errorMessage(t, body), `window "A01" is outside your scope`)
		status, body, _ = ts.do(t, http.MethodPost, "/api/v1/live/X01/whep", district, "v=0\r\n", hdr)
		require.Equal(t, http.StatusCreated, status, string(body))
	})
	t.Run("kpi", func(t *testing.T) {
		manager := ts.loginAs(t, "x-manager", "district-manager")
		cityManager := ts.login(t, RoleManager)
		const q = "/api/v1/analytics/kpi?level=hall&from=2026-11-23&to=2026-11-24"
		_, body := get(cityManager, q)
		require.ElementsMatch(t, []string{"city-main", "district-xincheng"}, ids(body, "rows", "hall"))
		status, body := get(manager, q)
		require.Equal(t, http.StatusOK, status, string(body))
		require.Equal(t, []string{"district-xincheng"}, ids(body, "rows", "hall"))
		status, body = get(manager, q+"&hall=district-xincheng")
		require.Equal(t, http.StatusOK, status, string(body))
		require.Equal(t, []string{"district-xincheng"}, ids(body, "rows", "hall"))
		status, body = get(manager, q+"&hall=city-main")
		require.Equal(t, http.StatusForbidden, status, string(body))
		require.Contains(t, errorMessage(t, body), `hall "city-main" is outside your scope`)
		// The network total is the district's alone: one served visit.
		_, body = get(manager, "/api/v1/analytics/kpi?level=network&from=2026-11-23&to=2026-11-24")
		require.Equal(t, []string{"1"}, ids(body, "rows", "served"), string(body))
		_, body = get(cityManager, "/api/v1/analytics/kpi?level=network&from=2026-11-23&to=2026-11-24")
		require.Equal(t, []string{"2"}, ids(body, "rows", "served"), string(body))
		_, body = get(cityManager, "/api/v1/analytics/quality?from=2026-11-23&to=2026-11-24")
		require.Contains(t, ids(body, "rows", "hall"), "city-main")
		_, body = get(manager, "/api/v1/analytics/quality?from=2026-11-23&to=2026-11-24")
		halls := ids(body, "rows", "hall")
		require.NotEmpty(t, halls)
		for _, h := range halls {
			require.Equal(t, "district-xincheng", h)
		}
		_, body = get(manager, "/api/v1/analytics/distribution?from=2026-11-23&to=2026-11-24&metric=wait&bucket_seconds=60")
		var dist struct{ Buckets []struct{ Count int } }
		require.NoError(t, json.Unmarshal(body, &dist), string(body))
		n := 0
		for _, b := range dist.Buckets {
			n += b.Count
		}
		require.Equal(t, 1, n, "the district's one wait: %s", body)
	})
	t.Run("cases", func(t *testing.T) {
		auditor := ts.loginAs(t, "x-auditor", "district-auditor")
		status, body := get(auditor, "/api/v1/cases/XC-1")
		require.Equal(t, http.StatusOK, status, string(body))
		status, body = get(auditor, "/api/v1/cases/CM-1")
		require.Equal(t, http.StatusForbidden, status, string(body))
		require.Contains(t, errorMessage(t, body), `case "CM-1" was handled outside your scope`)
		status, body = get(auditor, "/api/v1/cases/XC-1/clip?reason=review")
		require.Equal(t, http.StatusNotFound, status, "no footage, but in scope: %s", body)
		status, body = get(auditor, "/api/v1/cases/CM-1/clip?reason=review")
		require.Equal(t, http.StatusForbidden, status, string(body))
	})
}

func mustField(t *testing.T, body []byte, field string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &m), string(body))
	v, ok := m[field]
	require.True(t, ok, "no %q in %s", field, body)
	return v
}

// TestScopeOfUnknownHalls: a scope naming only halls the configuration no
// longer has covers nothing (it fails closed), rather than the whole city.
func TestScopeOfUnknownHalls(t *testing.T) {
	ts := newTestServerConfig(t, scopeConfig(), func(usersFile string) {
		require.NoError(t, AddScopedUser(usersFile, "lost", RoleInspector, "lost-inspector", []string{"district-gone"}))
	})
	token := ts.loginAs(t, "lost", "lost-inspector")
	status, body, _ := ts.do(t, http.MethodGet, "/api/v1/windows", token, "", nil)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"windows":[]}`, string(body))
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/halls", token, "", nil)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"halls":[]}`, string(body))
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/alerts", token, "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	status, body, _ = ts.do(t, http.MethodPost, "/api/v1/live/X01/whep", token, "v=0\r\n", map[string]string{"Content-Type": "application/sdp"})
	require.Equal(t, http.StatusForbidden, status, string(body))
}

// TestScopedAPIKey: a key limited to the district has its city events
// rejected one by one, and the rest of the batch accepted.
func TestScopedAPIKey(t *testing.T) {
	ts := newScopeTestServer(t)
	batch := `[{"event_id":"k1","type":"window_opened","ts":"2026-11-25T08:30:00+08:00","hall":"city-main","window":"A01"},
	 {"event_id":"k2","type":"window_opened","ts":"2026-11-25T08:30:00+08:00","hall":"district-xincheng","window":"X01"}]`
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", batch, map[string]string{"X-API-Key": districtAPIKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	var resp struct {
		Accepted, Rejected int
		Results            []eventResult
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Equal(t, 1, resp.Accepted)
	require.Equal(t, 1, resp.Rejected)
	require.Equal(t, "rejected", resp.Results[0].Status)
	require.Equal(t, `hall "city-main" is outside the scope of API key "district-queue"`, resp.Results[0].Error)
	require.Equal(t, "accepted", resp.Results[1].Status)
	// The unscoped key posts for every hall.
	status, body, _ = ts.do(t, http.MethodPost, "/api/v1/events", "", batch, map[string]string{"X-API-Key": apiKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	require.Contains(t, string(body), `"accepted":2`)
}
