package console

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// rawDo sends a request with exactly the headers given (no default
// Content-Type), for the tests of what a browser of another site sends.
func rawDo(t *testing.T, method, url, body string, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
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

// errorCode checks that a body is the API's error JSON and returns its code.
func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	errorMessage(t, body)
	var e struct {
		Code string `json:"code"`
	}
	require.NoError(t, json.Unmarshal(body, &e))
	return e.Code
}

// browserSession signs in as role the way the console does and returns the
// session cookie (as a Cookie header) and the session's CSRF token.
func (ts *testServer) browserSession(t *testing.T, role Role) (cookie, csrf string) {
	t.Helper()
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/auth/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, role, string(role)+string(role)),
		map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ts.url})
	require.Equal(t, http.StatusOK, status, string(body))
	var resp struct {
		Token string `json:"token"`
		CSRF  string `json:"csrf_token"`
	}
	require.NoError(t, json.Unmarshal(body, &resp))
	require.NotEmpty(t, resp.CSRF, "the sign-in answer carries the CSRF token")
	return sessionCookie + "=" + resp.Token, resp.CSRF
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestServer(t)
	inspector := ts.login(t, RoleInspector)
	tests := []struct {
		name, path, token string
		status            int
		api               bool
	}{
		{"console page", "/", "", 200, false},
		{"live test page", "/live-test", "", 200, false},
		{"missing asset", "/assets/none-0000.js", "", 404, false},
		{"health", "/healthz", "", 200, true},
		{"public API", "/api/v1/public/site", "", 200, true},
		{"signed-in API", "/api/v1/windows", inspector, 200, true},
		{"server-sent events", "/api/v1/alerts/stream?snapshot=1", inspector, 200, true},
		{"refused", "/api/v1/windows", "", 401, true},
		{"no such endpoint", "/api/v1/nope", "", 404, true},
		{"metrics", "/metrics", "", 401, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, hdr := ts.do(t, http.MethodGet, tt.path, tt.token, "", nil)
			require.Equal(t, tt.status, status, string(body))
			csp := hdr.Get("Content-Security-Policy")
			require.Contains(t, csp, "frame-ancestors 'none'")
			require.Contains(t, csp, "default-src 'self'")
			require.Contains(t, csp, "object-src 'none'")
			scriptSrc := directive(csp, "script-src")
			require.NotEmpty(t, scriptSrc)
			require.NotContains(t, scriptSrc, "'unsafe-inline'")
			require.NotContains(t, scriptSrc, "'unsafe-eval'")
			require.NotContains(t, directive(csp, "style-src"), "'unsafe-inline'", "no <style> elements of unknown origin")
			require.Equal(t, "nosniff", hdr.Get("X-Content-Type-Options"))
			require.Equal(t, "no-referrer", hdr.Get("Referrer-Policy"))
			require.Equal(t, "DENY", hdr.Get("X-Frame-Options"))
			require.Empty(t, hdr.Get("Strict-Transport-Security"), "no HSTS over plain HTTP")
			if tt.api {
				require.Equal(t, "no-store", hdr.Get("Cache-Control"), "API answers are not stored by any cache")
			} else {
				require.NotContains(t, hdr.Get("Cache-Control"), "no-store", "the console's pages and assets keep their caching")
			}
		})
	}
	t.Run("live test page allows its own inline blocks by hash", func(t *testing.T) {
		_, page, hdr := ts.do(t, http.MethodGet, "/live-test", "", "", nil)
		csp := hdr.Get("Content-Security-Policy")
		blocks := inlineBlock.FindAllSubmatch(page, -1)
		require.Len(t, blocks, 2, "the page has one inline script and one style")
		require.Equal(t, pageCSP(page), csp)
		require.Contains(t, directive(csp, "script-src"), "'sha256-")
		require.Contains(t, directive(csp, "style-src"), "'sha256-")
	})
}

// directive returns the sources of one CSP directive ("" when absent).
func directive(csp, name string) string {
	for _, d := range strings.Split(csp, ";") {
		d = strings.TrimSpace(d)
		if d == name || strings.HasPrefix(d, name+" ") {
			return d
		}
	}
	return ""
}

// TestCSRF: a state-changing request signed in by the session cookie alone
// (what a page of another site can make a browser send) is refused before
// it does anything; the console's own requests, with the session's token,
// and API clients with a Bearer token pass.
func TestCSRF(t *testing.T) {
	ts := newTestServer(t)
	status, body, _ := ts.do(t, http.MethodPost, "/api/v1/events", "", caseEvents, map[string]string{"X-API-Key": apiKey})
	require.Equal(t, http.StatusAccepted, status, string(body))
	ts.drained(t)
	cookie, csrf := ts.browserSession(t, RoleAuditor)
	_, otherCSRF := ts.browserSession(t, RoleAuditor)
	require.NotEqual(t, csrf, otherCSRF, "each session has its own token")
	bearer := ts.login(t, RoleAuditor)

	hold := ts.url + "/api/v1/cases/CM-1/hold"
	reason := `{"reason":"complaint 2026-17"}`
	held := func() bool {
		h, ok, err := ts.store.HoldOf(context.Background(), "CM-1")
		require.NoError(t, err)
		return ok && h.ReleasedAt.IsZero()
	}
	refused := []struct {
		name string
		hdr  map[string]string
		code string
	}{
		// The probe of issue 17: a form of another site posting text/plain
		// with the browser's cookie used to answer 201.
		{"other origin, text/plain, cookie only", map[string]string{"Cookie": cookie, "Origin": "http://evil.example", "Content-Type": "text/plain"}, "cross_site_refused"},
		{"other origin with a stolen token", map[string]string{"Cookie": cookie, "Origin": "http://evil.example", "Content-Type": "application/json", csrfHeader: csrf}, "cross_site_refused"},
		{"cross-site fetch metadata", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json", csrfHeader: csrf}, "cross_site_refused"},
		{"sibling subdomain", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-site", "Content-Type": "application/json", csrfHeader: csrf}, "cross_site_refused"},
		{"sandboxed frame (Origin null)", map[string]string{"Cookie": cookie, "Origin": "null", "Content-Type": "application/json", csrfHeader: csrf}, "cross_site_refused"},
		{"no token", map[string]string{"Cookie": cookie, "Content-Type": "application/json"}, "csrf_token_missing"},
		{"no token, same origin", map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, "csrf_token_missing"},
		{"another session's token", map[string]string{"Cookie": cookie, "Content-Type": "application/json", csrfHeader: otherCSRF}, "csrf_token_invalid"},
		{"a made-up token", map[string]string{"Cookie": cookie, "Content-Type": "application/json", csrfHeader: strings.Repeat("A", len(csrf))}, "csrf_token_invalid"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := rawDo(t, http.MethodPost, hold, reason, tt.hdr)
			require.Equal(t, http.StatusForbidden, status, string(body))
			require.Equal(t, tt.code, errorCode(t, body))
			require.False(t, held(), "a refused request does nothing")
		})
	}

	t.Run("the console's own request", func(t *testing.T) {
		same := map[string]string{"Cookie": cookie, "Sec-Fetch-Site": "same-origin", "Origin": ts.url, "Content-Type": "application/json", csrfHeader: csrf}
		status, body, _ := rawDo(t, http.MethodPost, hold, reason, same)
		require.Equal(t, http.StatusCreated, status, string(body))
		require.True(t, held())
		status, body, _ = rawDo(t, http.MethodDelete, hold, "", same)
		require.Equal(t, http.StatusOK, status, string(body))
		require.False(t, held())
	})
	t.Run("behind a proxy that rewrites Host", func(t *testing.T) {
		hdr := map[string]string{"Cookie": cookie, "Origin": "https://sunlight.city.example", "X-Forwarded-Host": "sunlight.city.example",
			"Content-Type": "application/json", csrfHeader: csrf}
		status, body, _ := rawDo(t, http.MethodPost, hold, reason, hdr)
		require.Equal(t, http.StatusCreated, status, string(body))
		status, body, _ = rawDo(t, http.MethodDelete, hold, "", hdr)
		require.Equal(t, http.StatusOK, status, string(body))
	})
	t.Run("a Bearer token needs no CSRF token", func(t *testing.T) {
		status, body, _ := ts.do(t, http.MethodPost, "/api/v1/cases/CM-1/hold", bearer, reason, nil)
		require.Equal(t, http.StatusCreated, status, string(body))
		status, body, _ = ts.do(t, http.MethodDelete, "/api/v1/cases/CM-1/hold", bearer, "", nil)
		require.Equal(t, http.StatusOK, status, string(body))
	})
	t.Run("reading needs no token", func(t *testing.T) {
		status, body, _ := rawDo(t, http.MethodGet, ts.url+"/api/v1/cases/CM-1", "", map[string]string{"Cookie": cookie})
		require.Equal(t, http.StatusOK, status, string(body))
	})
	t.Run("auth/me gives the session's token", func(t *testing.T) {
		status, body, _ := rawDo(t, http.MethodGet, ts.url+"/api/v1/auth/me", "", map[string]string{"Cookie": cookie})
		require.Equal(t, http.StatusOK, status, string(body))
		var me struct {
			CSRF string `json:"csrf_token"`
		}
		require.NoError(t, json.Unmarshal(body, &me))
		require.Equal(t, csrf, me.CSRF)
	})

	// Every state-changing route that a signed-in user may call refuses
	// the cookie without the token, whatever it is (the route table is the
	// list, so a new route is covered).
	for _, rt := range ts.routes() {
		if !stateChanging(rt.method) || len(rt.access.roles) == 0 {
			continue
		}
		t.Run("cookie only: "+rt.method+" "+rt.path, func(t *testing.T) {
			sample := sampleRequests[rt.method+" "+rt.path]
			path := rt.path
			if sample.path != "" {
				path = strings.ReplaceAll(sample.path, "{n}", "csrf")
			}
			ck, tok := ts.browserSession(t, rt.access.roles[0])
			hdr := map[string]string{"Cookie": ck, "Content-Type": "application/json"}
			for k, v := range sample.hdr {
				hdr[k] = v
			}
			status, body, _ := rawDo(t, rt.method, ts.url+path, sample.body, hdr)
			require.Equal(t, http.StatusForbidden, status, string(body))
			require.Equal(t, "csrf_token_missing", errorCode(t, body))
			// The token is what was missing: the same request with it is
			// not refused for CSRF (whatever the handler then answers).
			hdr[csrfHeader] = tok
			status, body, _ = rawDo(t, rt.method, ts.url+path, sample.body, hdr)
			require.NotEqual(t, http.StatusForbidden, status, string(body))
		})
	}
}

// TestLoginCSRF: the sign-in takes JSON only, from our own pages (a form of
// another site could otherwise sign the browser in to the attacker's
// account).
func TestLoginCSRF(t *testing.T) {
	ts := newTestServer(t)
	login := ts.url + "/api/v1/auth/login"
	creds := `{"username":"manager","password":"managermanager"}`
	tests := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		code   string
	}{
		{"text/plain (a cross-site form or no-cors fetch)", map[string]string{"Content-Type": "text/plain"}, creds, 415, "login_not_json"},
		{"form encoded", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "username=manager&password=managermanager", 415, "login_not_json"},
		{"multipart", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, creds, 415, "login_not_json"},
		{"no content type", nil, creds, 415, "login_not_json"},
		{"JSON from another origin", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, creds, 403, "cross_site_refused"},
		{"JSON, cross-site fetch metadata", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, creds, 403, "cross_site_refused"},
		{"JSON from our page", map[string]string{"Content-Type": "application/json; charset=utf-8", "Sec-Fetch-Site": "same-origin", "Origin": ts.url}, creds, 200, ""},
		{"JSON from an API client", map[string]string{"Content-Type": "application/json"}, creds, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, hdr := rawDo(t, http.MethodPost, login, tt.body, tt.hdr)
			require.Equal(t, tt.status, status, string(body))
			if tt.code != "" {
				require.Equal(t, tt.code, errorCode(t, body))
				require.Empty(t, hdr.Values("Set-Cookie"), "a refused sign-in sets no cookie")
				return
			}
			require.Contains(t, hdr.Get("Set-Cookie"), sessionCookie+"=")
			require.NotContains(t, hdr.Get("Set-Cookie"), "Secure", "plain HTTP: a Secure cookie would never come back")
		})
	}
}

// TestCSPReport: the browsers' violation reports, in either format, are
// counted by directive (an unknown one as "other"); what is not a report
// is a 400, an oversized one a 413, and neither counts.
func TestCSPReport(t *testing.T) {
	ts := newTestServer(t)
	count := func(d string) float64 { return testutil.ToFloat64(ts.metrics.cspViolations.WithLabelValues(d)) }
	report := ts.url + "/api/v1/csp-report"
	tests := []struct {
		name, ctype, body string
		status            int
		counts            map[string]float64
	}{
		{"report-uri form", "application/csp-report", `{"csp-report":{"document-uri":"http://x/","violated-directive":"script-src-elem","effective-directive":"script-src-elem","blocked-uri":"inline"}}`,
			204, map[string]float64{"script-src-elem": 1}},
		{"Reporting API array", "application/reports+json", `[{"type":"csp-violation","body":{"effectiveDirective":"style-src-attr","blockedURL":"inline","documentURL":"http://x/"}},
			{"type":"deprecation","body":{}},{"type":"csp-violation","body":{"effectiveDirective":"img-src","blockedURL":"http://evil.example/p.gif"}}]`,
			204, map[string]float64{"style-src-attr": 1, "img-src": 1}},
		{"made-up directive", "application/csp-report", `{"csp-report":{"effective-directive":"x-` + strings.Repeat("a", 100) + `"}}`, 204, map[string]float64{"other": 1}},
		{"not a report", "application/csp-report", `hello`, 400, nil},
		{"oversized", "application/csp-report", `{"csp-report":{"blocked-uri":"` + strings.Repeat("a", 20<<10) + `"}}`, 413, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]float64{}
			for _, d := range append(cspDirectives, "other") {
				before[d] = count(d)
			}
			status, body, _ := rawDo(t, http.MethodPost, report, tt.body, map[string]string{"Content-Type": tt.ctype})
			require.Equal(t, tt.status, status, string(body))
			if status != http.StatusNoContent {
				errorMessage(t, body)
			}
			for d, b := range before {
				require.Equal(t, b+tt.counts[d], count(d), "directive %s", d)
			}
		})
	}
	_, _, hdr := ts.do(t, http.MethodGet, "/", "", "", nil)
	require.Contains(t, hdr.Get("Content-Security-Policy"), "report-uri /api/v1/csp-report")
	require.Equal(t, `csp="/api/v1/csp-report"`, hdr.Get("Reporting-Endpoints"))
}
