package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// contentSecurityPolicy is the CSP of every answer. The console is built
// by vite into files of its own origin: no inline script, no eval, no
// third-party origin. Style attributes are allowed (style-src-attr): the
// charts' tooltips are HTML with style attributes; a <style> element or a
// stylesheet from elsewhere is not. Images may be data: URLs (the favicon,
// the charts' exports); video comes from the API (clips) or from a WebRTC
// MediaStream, which no CSP directive governs. Browsers report violations
// to POST /api/v1/csp-report (report-uri, and report-to for the Reporting
// API).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self'; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; " +
	"report-uri /api/v1/csp-report; report-to csp"

// hstsMaxAge is the Strict-Transport-Security of answers over TLS: a year,
// without includeSubDomains (the city's other sites under the same domain
// are not ours to pin).
const hstsMaxAge = "max-age=31536000"

// securityHeaders sets the browser protections on every answer, pages and
// API alike, before the handler runs (so errors, 404s and streams have
// them too): the CSP with frame-ancestors 'none' (and X-Frame-Options for
// browsers without it), nosniff, no referrer, a separate browsing context
// group, HSTS when the request came over TLS, and no-store on the API
// (answers hold personal and supervision data that no shared or browser
// cache may keep). The console's assets set their own caching.
func (s *Server) securityHeaders() gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Reporting-Endpoints", `csp="/api/v1/csp-report"`)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if c.Request.TLS != nil {
			h.Set("Strict-Transport-Security", hstsMaxAge)
		}
		if p := c.Request.URL.Path; strings.HasPrefix(p, "/api/") || p == "/metrics" || p == "/healthz" {
			h.Set("Cache-Control", "no-store")
		}
		c.Next()
	}
}

// csrfHeader carries the session's CSRF token on every state-changing
// request that a browser makes with the session cookie.
const csrfHeader = "X-CSRF-Token"

// csrfToken is the synchronizer token of a session: an HMAC of the
// session's nonce under the session key, so it needs no table, dies with
// the session, and cannot be derived from the cookie without the key. The
// console gets it from the sign-in answer and from GET /api/v1/auth/me,
// which another origin cannot read.
func (s *sessions) csrfToken(c sessionClaims) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte("csrf\x00" + c.Nonce))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// stateChanging reports a method that may change something: the ones a
// CSRF check covers. GET and HEAD change nothing on this server.
func stateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// Errors of the browser protections.
var (
	errCrossSite = apperr.CrossSiteRefused.New(nil, "request refused: it came from another site (Origin or Sec-Fetch-Site)")
	errNoCSRF    = apperr.CSRFTokenMissing.New(nil, "request refused: a request signed in by the session cookie must carry the session's X-CSRF-Token header (reload the page)")
	errBadCSRF   = apperr.CSRFTokenInvalid.New(nil, "request refused: the X-CSRF-Token header does not belong to this session (reload the page)")
)

// checkCookieRequest guards a state-changing request that is signed in by
// the session cookie (which a browser adds to a request another site
// makes): it must come from our own pages (fetch metadata, or the Origin
// where a browser sends no fetch metadata) and carry the session's CSRF
// token. Callers with a Bearer token or an API key are not checked: a
// browser never adds those by itself.
func (s *Server) checkCookieRequest(c *gin.Context, claims sessionClaims) error {
	if crossSite(c.Request) {
		return errCrossSite
	}
	got := c.GetHeader(csrfHeader)
	if got == "" {
		return errNoCSRF
	}
	if !hmac.Equal([]byte(got), []byte(s.sessions.csrfToken(claims))) {
		return errBadCSRF
	}
	return nil
}

// crossSite reports a browser request made by a page of another origin.
// Sec-Fetch-Site is set by the browser and cannot be forged by a page:
// only same-origin (our pages) and none (the user's own navigation) pass.
// A browser without fetch metadata still sends Origin on a cross-origin
// POST: its host must be the one the request was sent to (the Host the
// browser used, or the one a reverse proxy says it forwarded). A request
// with neither header is not a browser's cross-site request.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "":
	case "same-origin", "none":
		return false
	default: // same-site, cross-site
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true // "null" (a sandboxed frame, a file) or garbage
	}
	if strings.EqualFold(u.Host, r.Host) {
		return false
	}
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" && strings.EqualFold(u.Host, strings.TrimSpace(strings.Split(fh, ",")[0])) {
		return false
	}
	return true
}

// isJSON reports a request whose body is declared application/json: the
// one type a page of another origin cannot send without a CORS preflight
// (which this server never grants).
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
