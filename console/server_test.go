package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/analytics/supervision"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/spool"
)

func TestMain(m *testing.M) {
	chtest.Main(m)
}

const testConfig = `listen: 127.0.0.1:0
data_dir: ./data
auth:
  users_file: ./users.yaml
  api_keys:
    - name: queue-system
      key_sha256: "79976adc394ed8f7463eb3ddd06382f7ed1e9626ba8ecb171acc00b12f63f0e9"
halls:
  - id: city-main
    name: 市政务服务中心主大厅
    tier: city
    windows:
      - id: A01
        department: 市场监管局
        items: [SC-001]
        camera: rtsp://127.0.0.1:8554/window/A01
items:
  - code: SC-001
    name: 企业设立登记
    department: 市场监管局
    time_limit_days: 3
`

const apiKey = "demo-queue-key"

// testServer is a console on a free port with one user per role (the
// password is the role name twice) over a fresh ClickHouse database.
type testServer struct {
	*Server
	url   string
	store *analytics.Store
	clock *fakeClock
	spool *spool.Spool
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// extraConfig (top-level keys) is appended to testConfig.
func newTestServer(t testing.TB, extraConfig ...string) *testServer {
	t.Helper()
	return newTestServerConfig(t, testConfig+strings.Join(extraConfig, ""), nil)
}

// newTestServerConfig is newTestServer over the given configuration;
// users, when not nil, adds more users to the users file.
func newTestServerConfig(t testing.TB, cfgText string, users func(usersFile string)) *testServer {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "sunlight.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfgText), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	for _, r := range Roles {
		require.NoError(t, AddUser(cfg.Auth.UsersFile, string(r), r, string(r)+string(r)))
	}
	if users != nil {
		users(cfg.Auth.UsersFile)
	}
	store := chtest.Store(t)
	clock := &fakeClock{t: time.Now()}
	// The real intake: a spool drained by an event writer into ClickHouse.
	sp, err := spool.Open(spool.Config{Dir: filepath.Join(dir, "spool")})
	require.NoError(t, err)
	w := &analytics.EventWriter{Spool: sp, Store: store, Tracker: tracker.New(cfg), Location: cfg.Location(), Interval: -1}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; sp.Close() })
	srv := &Server{Config: cfg, Store: store, Now: clock.now, Live: fakeLive{}, Intake: &ingest.Intake{Spool: sp}}
	require.NoError(t, srv.Initialize())
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, url: "http://" + srv.Addr(), store: store, clock: clock, spool: sp}
}

// drained waits until the event writer has stored every accepted event.
func (ts *testServer) drained(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return ts.spool.Stats().PendingRecords == 0 }, 20*time.Second, 10*time.Millisecond,
		"the event writer did not drain the spool")
}

// login signs in as the user named after role and returns the token.
func (ts *testServer) login(t testing.TB, role Role) string {
	t.Helper()
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/auth/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, role, string(role)+string(role)), nil)
	require.Equal(t, http.StatusOK, status, "login %s: %s", role, body)
	var resp struct {
		Token string `json:"token"`
		Role  Role   `json:"role"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Equal(t, role, resp.Role)
	return resp.Token
}

func (ts *testServer) do(t testing.TB, method, path, token, body string, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data, resp.Header
}

// errorMessage checks that a body is {"error": "..."} and returns the text.
func errorMessage(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "error bodies are JSON: %s", body)
	require.NotEmpty(t, e.Error, "error body names the problem: %s", body)
	return e.Error
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t)
	status, body, _ := ts.do(t, http.MethodGet, "/healthz", "", "", nil)
	require.Equal(t, http.StatusOK, status, string(body))
	require.JSONEq(t, `{"status":"ok"}`, string(body))
}

func TestUnknownRouteAndMethod(t *testing.T) {
	ts := newTestServer(t)
	status, body, _ := ts.do(t, http.MethodGet, "/api/v1/nope", "", "", nil)
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, errorMessage(t, body), "no such endpoint")
	status, body, _ = ts.do(t, http.MethodDelete, "/api/v1/auth/login", "", "", nil)
	require.Equal(t, http.StatusMethodNotAllowed, status)
	require.Contains(t, errorMessage(t, body), "not allowed")
}

func TestLogin(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"ok", `{"username":"manager","password":"managermanager"}`, 200, ""},
		{"wrong password", `{"username":"manager","password":"nope-nope"}`, 401, "wrong username or password"},
		{"unknown user", `{"username":"ghost","password":"managermanager"}`, 401, "wrong username or password"},
		{"missing password", `{"username":"manager"}`, 400, "username and password are required"},
		{"not json", `username=manager`, 400, "body must be JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, hdr := ts.do(t, http.MethodPost, "/api/v1/auth/login", "", tt.body, nil)
			require.Equal(t, tt.status, status, string(body))
			if tt.want != "" {
				require.Contains(t, errorMessage(t, body), tt.want)
				return
			}
			var resp map[string]string
			require.NoError(t, json.Unmarshal(body, &resp))
			require.True(t, strings.HasPrefix(resp["token"], tokenPrefix))
			require.Equal(t, "manager", resp["role"])
			exp, err := time.Parse(time.RFC3339, resp["expires"])
			require.NoError(t, err)
			require.WithinDuration(t, ts.clock.t.Add(12*time.Hour), exp, time.Second)
			cookie := hdr.Get("Set-Cookie")
			require.Contains(t, cookie, sessionCookie+"="+resp["token"])
			require.Contains(t, cookie, "HttpOnly")
			require.Contains(t, cookie, "SameSite=Strict")
		})
	}
}

func TestSessionCookieExpiryAndLogout(t *testing.T) {
	ts := newTestServer(t)
	token := ts.login(t, RoleInspector)

	cookie := map[string]string{"Cookie": sessionCookie + "=" + token}
	status, body, _ := ts.do(t, http.MethodGet, "/api/v1/auth/me", "", "", cookie)
	require.Equal(t, http.StatusOK, status, "the cookie alone signs in: %s", body)
	require.Contains(t, string(body), `"inspector"`)

	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/auth/me", token[:len(token)-2]+"xx", "", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, errorMessage(t, body), "invalid session token")

	ts.clock.t = ts.clock.t.Add(12*time.Hour + time.Second)
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/auth/me", token, "", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, errorMessage(t, body), "session expired")

	token = ts.login(t, RoleInspector)
	status, _, _ = ts.do(t, http.MethodPost, "/api/v1/auth/logout", token, "", nil)
	require.Equal(t, http.StatusOK, status)
	status, body, _ = ts.do(t, http.MethodGet, "/api/v1/auth/me", token, "", nil)
	require.Equal(t, http.StatusUnauthorized, status, "a token is dead after logout")
	require.Contains(t, errorMessage(t, body), "session expired")
}

// sampleRequests holds a request per route that its allowed callers can
// make successfully. The route × role test fails for a route missing here,
// so a new route cannot skip the table.
var sampleRequests = map[string]struct {
	who  string // the expected access rule, pinned here so a change to the table is a visible change to this test
	body string
	ok   int
	path string            // the concrete path, where the route has parameters
	hdr  map[string]string // extra headers
	// before runs before each call (say, to put a case on hold so that
	// releasing it can succeed for every allowed caller). It gets the
	// path, where "{n}" was replaced by a number unique to the call.
	before func(t *testing.T, ts *testServer, path string)
}{
	"GET /live-test": {"anyone", "", 200, "", nil, nil},
	"GET /":          {"anyone", "", 200, "", nil, nil},
	// Hashed names change with every build: a made-up one is a 404 for
	// everyone, signed in or not.
	"GET /assets/*filepath":              {"anyone", "", 404, "/assets/none-0000.js", nil, nil},
	"GET /healthz":                       {"anyone", "", 200, "", nil, nil},
	"POST /api/v1/auth/login":            {"anyone", `{"username":"admin","password":"adminadmin"}`, 200, "", nil, nil},
	"POST /api/v1/auth/logout":           {"admin,inspector,manager,auditor", "", 200, "", nil, nil},
	"GET /api/v1/auth/me":                {"admin,inspector,manager,auditor", "", 200, "", nil, nil},
	"GET /metrics":                       {"admin", "", 200, "", nil, nil},
	"GET /api/v1/halls":                  {"inspector,manager,admin", "", 200, "", nil, nil},
	"GET /api/v1/windows":                {"inspector,manager,admin", "", 200, "", nil, nil},
	"GET /api/v1/windows/stream":         {"inspector,manager,admin", "", 200, "/api/v1/windows/stream?snapshot=1", nil, nil},
	"POST /api/v1/events":                {"producers", `[{"event_id":"rr-1","type":"window_opened","ts":"2026-11-25T08:30:00+08:00","hall":"city-main","window":"A01"}]`, 202, "", nil, nil},
	"GET /api/v1/audit":                  {"auditor,admin", "", 200, "/api/v1/audit?action=login&format=csv", nil, nil},
	"GET /api/v1/audit/export":           {"auditor,admin", "", 200, "", nil, nil},
	"GET /api/v1/audit/verify":           {"auditor,admin", "", 200, "", nil, nil},
	"GET /api/v1/public/cases/:case_id":  {"anyone", "", 200, "/api/v1/public/cases/CM-1", nil, nil},
	"GET /api/v1/public/items":           {"anyone", "", 200, "", nil, nil},
	"GET /api/v1/public/items/:code":     {"anyone", "", 200, "/api/v1/public/items/SC-001", nil, nil},
	"GET /api/v1/public/site":            {"anyone", "", 200, "", nil, nil},
	"POST /api/v1/csp-report":            {"anyone", `{"csp-report":{"effective-directive":"script-src-elem","blocked-uri":"inline"}}`, 204, "", map[string]string{"Content-Type": "application/csp-report"}, nil},
	"GET /api/v1/analytics/kpi":          {"manager,admin", "", 200, "/api/v1/analytics/kpi?level=department&compare=1&sort=served&order=desc&hall=city-main", nil, nil},
	"GET /api/v1/analytics/windows":      {"manager,admin", "", 200, "/api/v1/analytics/windows?bucket=day&window=A01", nil, nil},
	"GET /api/v1/analytics/distribution": {"manager,admin", "", 200, "/api/v1/analytics/distribution?metric=handle&format=csv&hall=city-main", nil, nil},
	"GET /api/v1/analytics/quality":      {"manager,admin", "", 200, "/api/v1/analytics/quality?late_minutes=30&hall=city-main", nil, nil},
	"GET /api/v1/cases":                  {"auditor,admin", "", 200, "/api/v1/cases?limit=5", nil, nil},
	"GET /api/v1/alerts":                 {"inspector,manager,admin", "", 200, "/api/v1/alerts?state=open&hall=city-main", nil, nil},
	"GET /api/v1/alerts/stream":          {"inspector,manager,admin", "", 200, "/api/v1/alerts/stream?snapshot=1&window=A01", nil, nil},
	"POST /api/v1/alerts/:id/ack": {"inspector,admin", `{"comment":"called the window lead"}`, 200, "/api/v1/alerts/rr-alert-{n}/ack", nil,
		func(t *testing.T, ts *testServer, path string) {
			id := strings.Split(path, "/")[4]
			require.NoError(t, ts.store.InsertAlerts(context.Background(), []supervision.Alert{{ID: id, Kind: "long_wait",
				Severity: "yellow", Hall: "city-main", Window: "A01", Message: "等待超时", MessageEN: "long wait", RaisedAt: ts.clock.t}}))
		}},
	"POST /api/v1/live/:window/whep": {"inspector,admin", "v=0\r\n", 201, "/api/v1/live/A01/whep",
		map[string]string{"Content-Type": "application/sdp"}, nil},
	"PATCH /api/v1/live/:window/whep/:session":  {"inspector,admin", "", 405, "/api/v1/live/A01/whep/sess-1", nil, nil},
	"DELETE /api/v1/live/:window/whep/:session": {"inspector,admin", "", 200, "/api/v1/live/A01/whep/sess-1", nil, nil},
	"GET /api/v1/cases/:case_id":                {"auditor,manager,admin", "", 200, "/api/v1/cases/CM-1", nil, nil},
	"GET /api/v1/cases/:case_id/recordings":     {"auditor,admin", "", 200, "/api/v1/cases/CM-1/recordings?reason=review", nil, nil},
	// No camera records in these tests: the auditor's clip request gets
	// as far as "no footage".
	"GET /api/v1/cases/:case_id/clip":   {"auditor", "", 404, "/api/v1/cases/CM-1/clip?reason=review", nil, nil},
	"GET /api/v1/cases/:case_id/export": {"auditor", "", 404, "/api/v1/cases/CM-1/export?reason=review", nil, nil},
	"POST /api/v1/cases/:case_id/hold": {"auditor,admin", `{"reason":"complaint 12345"}`, 201, "/api/v1/cases/CM-1/hold", nil,
		func(t *testing.T, ts *testServer, _ string) {
			_ = ts.store.ReleaseHold(context.Background(), "CM-1", "test")
		}},
	"DELETE /api/v1/cases/:case_id/hold": {"auditor,admin", "", 200, "/api/v1/cases/CM-1/hold", nil,
		func(t *testing.T, ts *testServer, _ string) {
			_ = ts.store.PlaceHold(context.Background(), "CM-1", "test", "setup")
		}},
}

// asUnscoped in scopedAnswers: a district-scoped caller gets what an
// unscoped one does (a public route, or a list it sees only part of).
const asUnscoped = 0

// scopedAnswers is the scope column of the route × role × scope table:
// what a caller of an allowed role limited to district-xincheng gets for
// the sample request, which names the city hall's window A01, case CM-1
// or alerts. Every route needs an entry.
var scopedAnswers = map[string]int{
	"GET /":                                     asUnscoped,
	"GET /assets/*filepath":                     asUnscoped,
	"GET /healthz":                              asUnscoped,
	"GET /live-test":                            asUnscoped,
	"POST /api/v1/auth/login":                   asUnscoped,
	"POST /api/v1/auth/logout":                  asUnscoped,
	"GET /api/v1/auth/me":                       asUnscoped,
	"GET /metrics":                              asUnscoped,
	"GET /api/v1/halls":                         asUnscoped, // the district only (TestScopedLists)
	"GET /api/v1/windows":                       asUnscoped, // X01 only
	"GET /api/v1/windows/stream":                asUnscoped, // X01 only
	"POST /api/v1/live/:window/whep":            403,
	"PATCH /api/v1/live/:window/whep/:session":  asUnscoped, // 405: trickle ICE, for anyone
	"DELETE /api/v1/live/:window/whep/:session": 403,
	"POST /api/v1/events":                       400, // its one event is of the city hall
	"GET /api/v1/analytics/kpi":                 403,
	"GET /api/v1/analytics/windows":             403,
	"GET /api/v1/analytics/distribution":        403,
	"GET /api/v1/analytics/quality":             403,
	"GET /api/v1/alerts":                        403,
	"GET /api/v1/alerts/stream":                 403,
	"POST /api/v1/alerts/:id/ack":               403,
	"GET /api/v1/public/cases/:case_id":         asUnscoped,
	"GET /api/v1/public/items":                  asUnscoped,
	"GET /api/v1/public/items/:code":            asUnscoped,
	"GET /api/v1/public/site":                   asUnscoped,
	"GET /api/v1/audit":                         asUnscoped, // the audit trail is not scoped
	"GET /api/v1/audit/export":                  asUnscoped,
	"GET /api/v1/audit/verify":                  asUnscoped,
	"POST /api/v1/csp-report":                   asUnscoped,
	"GET /api/v1/cases/:case_id/export":         403,
	"GET /api/v1/cases":                         asUnscoped, // the district's cases only
	"GET /api/v1/cases/:case_id":                403,
	"GET /api/v1/cases/:case_id/recordings":     403,
	"GET /api/v1/cases/:case_id/clip":           403,
	"POST /api/v1/cases/:case_id/hold":          403,
	"DELETE /api/v1/cases/:case_id/hold":        403,
}

// caseEvents is one served case: ticket, call, service, acceptance.
const caseEvents = `[
 {"event_id":"c1","type":"ticket_issued","ts":"2026-11-23T09:00:00+08:00","hall":"city-main","ticket":"A001","item":"SC-001"},
 {"event_id":"c2","type":"called","ts":"2026-11-23T09:05:00+08:00","hall":"city-main","window":"A01","ticket":"A001"},
 {"event_id":"c3","type":"service_started","ts":"2026-11-23T09:05:30+08:00","hall":"city-main","window":"A01","ticket":"A001"},
 {"event_id":"c4","type":"case_accepted","ts":"2026-11-23T09:12:00+08:00","hall":"city-main","window":"A01","ticket":"A001","case_id":"CM-1","item":"SC-001"},
 {"event_id":"c5","type":"service_ended","ts":"2026-11-23T09:13:00+08:00","hall":"city-main","window":"A01","ticket":"A001","case_id":"CM-1"}]`

// describe renders an access rule the way sampleRequests writes it.
func (a access) describe() string {
	switch {
	case a.anyone:
		return "anyone"
	case a.apiKey && len(a.roles) == 0:
		return "producers"
	}
	var parts []string
	if a.apiKey {
		parts = append(parts, "producers")
	}
	for _, r := range a.roles {
		parts = append(parts, string(r))
	}
	return strings.Join(parts, ",")
}

// TestRouteRoleTable calls every route as nobody, a producer, and a
// signed-in user of each role, each both without a scope and limited to
// the district hall (scopeConfig), whose sample requests name the city
// hall's window, case and alerts: the route × role × scope table.
func TestRouteRoleTable(t *testing.T) {
	ts := newScopeTestServer(t)
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", caseEvents, map[string]string{"X-API-Key": apiKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	ts.drained(t)
	tokens := map[Role]string{}
	for _, r := range Roles {
		tokens[r] = ts.login(t, r)
	}
	type caller struct {
		name   string
		role   Role
		key    bool
		scoped bool
	}
	callers := []caller{{name: "nobody"}, {name: "producer", key: true}, {name: "district producer", key: true, scoped: true}}
	for _, r := range Roles {
		callers = append(callers, caller{name: string(r), role: r}, caller{name: "district " + string(r), role: r, scoped: true})
	}
	scopedTokens := map[Role]string{}
	calls := 0
	for _, rt := range ts.routes() {
		id := rt.method + " " + rt.path
		sample, ok := sampleRequests[id]
		if !ok {
			t.Errorf("route %s has no sample request in sampleRequests: add one (and its access rule)", id)
			continue
		}
		if got := rt.access.describe(); got != sample.who {
			t.Errorf("route %s is open to %q, the policy says %q", id, got, sample.who)
		}
		if !rt.access.anyone && !rt.access.apiKey && len(rt.access.roles) == 0 {
			t.Errorf("route %s has no access rule: it would refuse everyone", id)
		}
		scopedOK, ok := scopedAnswers[id]
		if !ok {
			t.Errorf("route %s has no entry in scopedAnswers: say what a district-scoped caller gets", id)
			continue
		}
		if scopedOK == asUnscoped {
			scopedOK = sample.ok
		}
		for _, c := range callers {
			t.Run(id+" as "+c.name, func(t *testing.T) {
				hdr := map[string]string{}
				for k, v := range sample.hdr {
					hdr[k] = v
				}
				path := rt.path
				if sample.path != "" {
					path = sample.path
				}
				calls++
				path = strings.ReplaceAll(path, "{n}", strconv.Itoa(calls))
				token := ""
				allowed := rt.access.anyone
				switch {
				case c.key:
					hdr["X-API-Key"] = apiKey
					if c.scoped {
						hdr["X-API-Key"] = districtAPIKey
					}
					allowed = allowed || rt.access.apiKey
				case c.role != "" && c.scoped:
					// One token per scoped role (argon2 makes each sign-in
					// dear), a fresh one for the logout it would spoil.
					token = scopedTokens[c.role]
					if token == "" || rt.path == "/api/v1/auth/logout" {
						token = ts.loginAs(t, "x-"+string(c.role), "district-"+string(c.role))
					}
					if rt.path != "/api/v1/auth/logout" {
						scopedTokens[c.role] = token
					}
					for _, r := range rt.access.roles {
						allowed = allowed || r == c.role
					}
				case c.role != "":
					token = ts.login(t, c.role) // a fresh token: logout must not spoil the others
					for _, r := range rt.access.roles {
						allowed = allowed || r == c.role
					}
				}
				if sample.before != nil {
					sample.before(t, ts, path)
				}
				status, body, _ := ts.do(t, rt.method, path, token, sample.body, hdr)
				switch {
				case allowed && c.scoped && !rt.access.anyone:
					require.Equal(t, scopedOK, status, "allowed role, district scope: %s", body)
					if status == http.StatusForbidden {
						var e struct{ Code string }
						require.NoError(t, json.Unmarshal(body, &e))
						require.True(t, strings.HasSuffix(e.Code, "_out_of_scope"), "403 for the scope: %s", body)
					}
				case allowed:
					require.Equal(t, sample.ok, status, "allowed caller: %s", body)
				case c.role == "" && !c.key, c.key && len(rt.access.roles) > 0:
					require.Equal(t, http.StatusUnauthorized, status, "no user credentials: %s", body)
					errorMessage(t, body)
				case c.key:
					require.Equal(t, http.StatusUnauthorized, status, "%s", body)
				default:
					require.Equal(t, http.StatusForbidden, status, "wrong role: %s", body)
					require.Contains(t, errorMessage(t, body), "role "+string(c.role)+" may not")
				}
			})
		}
	}
}

func TestWrongAPIKey(t *testing.T) {
	ts := newTestServer(t)
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", "[]", map[string]string{"X-API-Key": "guess"})
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, errorMessage(t, body), "unknown API key")
	status, body, _ = ts.do(t, http.MethodPost, "/api/v1/events", "", "[]", nil)
	require.Equal(t, http.StatusUnauthorized, status)
	require.Contains(t, errorMessage(t, body), "X-API-Key")
}

func TestLoginIsAudited(t *testing.T) {
	ts := newTestServer(t)
	ts.login(t, RoleAuditor)
	ts.do(t, http.MethodPost, "/api/v1/auth/login", "", `{"username":"auditor","password":"bad-password"}`, nil)
	entries, err := ts.store.ListAudit(context.Background(), analytics.AuditFilter{From: ts.clock.t.Add(-time.Hour), To: ts.clock.t.Add(time.Hour), Limit: 10})
	require.NoError(t, err)
	actions := map[string]int{}
	for _, e := range entries {
		require.Equal(t, "auditor", e.Actor)
		actions[e.Action]++
	}
	require.Equal(t, map[string]int{"login": 1, "login_failed": 1}, actions)
}

func TestEventsEndpoint(t *testing.T) {
	ts := newTestServer(t)
	key := map[string]string{"X-API-Key": apiKey}
	batch := `[{"event_id":"e1","type":"ticket_issued","ts":"2026-11-25T09:00:00+08:00","hall":"city-main","ticket":"A001","item":"SC-001"},
	           {"event_id":"e2","type":"called","ts":"2026-11-25T09:05:00+08:00","hall":"city-main","window":"A01"},
	           {"event_id":"e3","type":"called","ts":"2026-11-25T09:05:00+08:00","hall":"city-main","window":"A01","ticket":"A001"}]`
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", batch, key)
	require.Equal(t, http.StatusAccepted, status, string(body))
	var resp struct {
		Accepted, Rejected int
		Results            []eventResult
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.Equal(t, 2, resp.Accepted)
	require.Equal(t, 1, resp.Rejected)
	require.Equal(t, "accepted", resp.Results[0].Status)
	require.Equal(t, "rejected", resp.Results[1].Status)
	require.Contains(t, resp.Results[1].Error, "ticket: missing for a called event")
	ts.drained(t)

	// Sending it again twice is a no-op: accepted, stored once.
	for range 2 {
		status, body, _ = ts.do(t, http.MethodPost, "/api/v1/events", "", batch, key)
		require.Equal(t, http.StatusAccepted, status, string(body))
		require.NoError(t, json.Unmarshal(body, &resp))
		require.Equal(t, 2, resp.Accepted)
	}
	ts.drained(t)
	var n uint64
	require.NoError(t, ts.store.Conn().QueryRow(context.Background(), "SELECT count() FROM events").Scan(&n))
	require.Equal(t, uint64(2), n)

	bad := []struct{ name, body, want string }{
		{"malformed json", `[{"event_id":`, "not a valid JSON array"},
		{"all rejected", `[{"event_id":"x","type":"teleport","ts":"2026-11-25T09:00:00Z","hall":"city-main"}]`, `unknown type "teleport"`},
		{"empty", ``, "holds no events"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", tt.body, key)
			require.Equal(t, http.StatusBadRequest, status)
			require.Contains(t, errorMessage(t, body), tt.want)
		})
	}
	t.Run("oversized body", func(t *testing.T) {
		ts.MaxEventBody = 1024
		status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", "["+strings.Repeat(" ", 2048)+"]", key)
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
		require.Contains(t, errorMessage(t, body), "larger than 1024 bytes")
	})
}

// fakeLive stands in for the WHEP server in the route tests: the real one
// is exercised end to end in cmd/sunlight's live tests.
type fakeLive struct{}

func (fakeLive) NewSession(_ context.Context, window, offer string) (string, string, error) {
	return "sess-1", "v=0\r\n", nil
}
func (fakeLive) CloseSession(id string) error { return nil }
func (fakeLive) SessionStream(id string) (string, bool) {
	return "A01", id == "sess-1"
}
