package console

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fuzzRoutes are the GET routes whose query parameters (and path id,
// {id}) FuzzQueryParams sends, with the role that may call each. The
// event streams are left out: without snapshot=1 they never end.
var fuzzRoutes = []struct {
	path string
	role Role
}{
	{"/api/v1/analytics/kpi", RoleManager},
	{"/api/v1/analytics/windows", RoleManager},
	{"/api/v1/analytics/distribution", RoleManager},
	{"/api/v1/analytics/quality", RoleManager},
	{"/api/v1/alerts", RoleInspector},
	{"/api/v1/audit", RoleAuditor},
	{"/api/v1/cases", RoleAuditor},
	{"/api/v1/cases/{id}", RoleAuditor},
	{"/api/v1/cases/{id}/recordings", RoleAuditor},
	{"/api/v1/cases/{id}/clip", RoleAuditor},
	{"/api/v1/windows", RoleInspector},
	{"/api/v1/halls", RoleInspector},
	{"/api/v1/public/items", ""},
	{"/api/v1/public/items/{id}", ""},
	{"/api/v1/public/cases/{id}", ""},
	{"/api/v1/public/site", ""},
}

// FuzzQueryParams sends arbitrary query strings and path ids to the GET
// routes of a real server (ClickHouse behind it, signed in with the
// route's role): every answer is below 500, and an error is the API's
// JSON with a text.
func FuzzQueryParams(f *testing.F) {
	ts := newTestServer(f)
	tokens := map[Role]string{}
	for _, r := range Roles {
		tokens[r] = ts.login(f, r)
	}
	// Each server sees one client: let the public lookups through.
	ts.publicLimit.perMinute = 1e9
	for i, q := range []string{
		"from=2026-11-01&to=2026-11-30&level=department&compare=1&sort=served&order=desc",
		"bucket=day&hall=city-main", "metric=handle&format=csv", "late_minutes=30",
		"state=open&severity=red&limit=5", "action=login&format=csv&from=2026-11-01T00:00:00Z",
		"limit=0", "reason=review", "from=9999-99-99&to=x", "limit=-1&bucket=year&level=window&window=A01",
		"q=企业&department=市场监管局", "from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z&bucket=hour",
	} {
		f.Add(uint8(i), q, "CM-1")
	}
	f.Add(uint8(7), "", "A\x00B")
	f.Add(uint8(13), "", "SC-001")
	f.Fuzz(func(t *testing.T, route uint8, query, id string) {
		r := fuzzRoutes[int(route)%len(fuzzRoutes)]
		target := strings.ReplaceAll(r.path, "{id}", url.PathEscape(id))
		u, err := url.Parse(target)
		if err != nil {
			return
		}
		u.RawQuery = query
		req, err := http.NewRequest(http.MethodGet, u.String(), nil)
		if err != nil {
			return
		}
		if r.role != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[r.role])
		}
		rec := httptest.NewRecorder()
		ts.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("GET %s: %d %s", u, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 {
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("GET %s: %d without a JSON error: %q", u, rec.Code, rec.Body.String())
			}
		}
	})
}
