package console

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/console/ui"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// access says who may call a route. The zero value lets nobody in, so a
// route added without a rule fails closed (and fails the route × role test).
type access struct {
	anyone bool   // no credentials needed
	apiKey bool   // event producers with X-API-Key
	roles  []Role // signed-in users with one of these roles
}

var (
	public    = access{anyone: true}
	producers = access{apiKey: true}
)

func rolesOf(r ...Role) access { return access{roles: r} }

// route is one row of the route × role table: every API route is
// registered from this table and nowhere else.
type route struct {
	method  string
	path    string
	access  access
	handler gin.HandlerFunc
}

// principal is who is calling: a signed-in user or an event producer.
type principal struct {
	name   string
	role   Role // empty for producers
	claims sessionClaims
	apiKey bool
	cookie bool      // signed in by the session cookie (not a Bearer token)
	scope  hallScope // the halls it may see; nil: the whole city
}

const principalKey = "sunlight.principal"

// caller returns the principal that authorize stored; routes open to anyone
// get the zero principal.
func caller(c *gin.Context) principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(principal)
	return pr
}

// sessionCookie is the HttpOnly cookie that carries the session token for
// the browser console; API clients may send the token as a Bearer header.
const sessionCookie = "sunlight_session"

// authorize enforces one route's access rule: 401 when the caller is not
// identified, 403 when identified but not allowed.
func (s *Server) authorize(a access) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a.anyone {
			c.Next()
			return
		}
		if a.apiKey {
			key := c.GetHeader("X-API-Key")
			if name, ok := s.keys.lookup(key); ok {
				c.Set(principalKey, principal{name: name, apiKey: true, scope: scopeOf(s.Config, s.keys.scope(name))})
				c.Next()
				return
			}
			if key != "" {
				writeError(c, s.log, apperr.APIKeyUnknown.New(nil, "unknown API key"))
				return
			}
		}
		p, err := s.userFromRequest(c)
		if err != nil {
			if a.apiKey && len(a.roles) == 0 {
				err = apperr.APIKeyRequired.New(nil, "this endpoint needs an event producer's X-API-Key header")
			}
			writeError(c, s.log, err)
			return
		}
		if !slices.Contains(a.roles, p.role) {
			writeError(c, s.log, apperr.RoleForbidden.New(apperr.P{"role": p.role, "method": c.Request.Method, "path": c.FullPath()},
				"role %s may not %s %s", p.role, c.Request.Method, c.FullPath()))
			return
		}
		if p.cookie && stateChanging(c.Request.Method) {
			if err := s.checkCookieRequest(c, p.claims); err != nil {
				writeError(c, s.log, err)
				return
			}
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// userFromRequest reads the session token from the Authorization header or
// the session cookie and checks that its user still exists with that role.
func (s *Server) userFromRequest(c *gin.Context) (principal, error) {
	token, cookie := "", false
	if h := c.GetHeader("Authorization"); h != "" {
		t, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return principal{}, apperr.BadAuthHeader.New(nil, "Authorization header must be \"Bearer <token>\"")
		}
		token = strings.TrimSpace(t)
	} else if ck, err := c.Cookie(sessionCookie); err == nil {
		token, cookie = ck, true
	}
	if token == "" {
		return principal{}, apperr.LoginRequired.New(nil, "sign in first: no session token")
	}
	claims, err := s.sessions.verify(token)
	if err != nil {
		return principal{}, err
	}
	u, ok := s.users.lookup(claims.Username)
	if !ok || u.Role != claims.Role {
		return principal{}, apperr.SessionInvalid.New(nil, "the account of this session no longer exists or changed role: sign in again")
	}
	return principal{name: u.Username, role: u.Role, claims: claims, cookie: cookie, scope: scopeOf(s.Config, u.Scope)}, nil
}

// routes is the route × role table of the API.
func (s *Server) routes() []route {
	staff := rolesOf(RoleInspector, RoleManager, RoleAdmin)
	watchers := rolesOf(RoleInspector, RoleAdmin)
	managers := rolesOf(RoleManager, RoleAdmin)
	// The console's pages hold no data (the API calls they make are
	// authorized as usual); its own routes live after the # of the URL.
	console := gin.WrapH(ui.Handler(nil))
	return []route{
		{http.MethodGet, "/", public, console},
		{http.MethodGet, "/assets/*filepath", public, console},
		{http.MethodGet, "/healthz", public, s.handleHealthz},
		{http.MethodGet, "/live-test", public, s.handleLiveTest},
		{http.MethodPost, "/api/v1/auth/login", public, s.handleLogin},
		{http.MethodPost, "/api/v1/auth/logout", rolesOf(Roles...), s.handleLogout},
		{http.MethodGet, "/api/v1/auth/me", rolesOf(Roles...), s.handleMe},
		{http.MethodGet, "/metrics", rolesOf(RoleAdmin), s.handleMetrics},
		{http.MethodGet, "/api/v1/halls", staff, s.handleHalls},
		{http.MethodGet, "/api/v1/windows", staff, s.handleWindows},
		{http.MethodGet, "/api/v1/windows/stream", staff, s.handleWindowStream},
		{http.MethodPost, "/api/v1/live/:window/whep", watchers, s.handleWHEPOffer},
		{http.MethodPatch, "/api/v1/live/:window/whep/:session", watchers, s.handleWHEPPatch},
		{http.MethodDelete, "/api/v1/live/:window/whep/:session", watchers, s.handleWHEPDelete},
		{http.MethodPost, "/api/v1/events", producers, s.handleEvents},
		{http.MethodGet, "/api/v1/analytics/kpi", managers, s.handleKPI},
		{http.MethodGet, "/api/v1/analytics/windows", managers, s.handleWindowKPI},
		{http.MethodGet, "/api/v1/analytics/distribution", managers, s.handleDistribution},
		{http.MethodGet, "/api/v1/analytics/quality", managers, s.handleQuality},
		{http.MethodGet, "/api/v1/alerts", staff, s.handleAlerts},
		{http.MethodGet, "/api/v1/alerts/stream", staff, s.handleAlertStream},
		{http.MethodPost, "/api/v1/alerts/:id/ack", rolesOf(RoleInspector, RoleAdmin), s.handleAckAlert},
		{http.MethodGet, "/api/v1/public/cases/:case_id", public, s.handlePublicCase},
		{http.MethodGet, "/api/v1/public/items", public, s.handlePublicItems},
		{http.MethodGet, "/api/v1/public/site", public, s.handleSite},
		{http.MethodPost, "/api/v1/csp-report", public, s.handleCSPReport},
		{http.MethodGet, "/api/v1/public/items/:code", public, s.handlePublicItem},
		{http.MethodGet, "/api/v1/audit", rolesOf(RoleAuditor, RoleAdmin), s.handleAudit},
		{http.MethodGet, "/api/v1/audit/export", rolesOf(RoleAuditor, RoleAdmin), s.handleAuditExport},
		{http.MethodGet, "/api/v1/audit/verify", rolesOf(RoleAuditor, RoleAdmin), s.handleAuditVerify},
		{http.MethodGet, "/api/v1/cases", rolesOf(RoleAuditor, RoleAdmin), s.handleRecordedCases},
		{http.MethodGet, "/api/v1/cases/:case_id", rolesOf(RoleAuditor, RoleManager, RoleAdmin), s.handleCase},
		{http.MethodGet, "/api/v1/cases/:case_id/recordings", rolesOf(RoleAuditor, RoleAdmin), s.handleCaseRecordings},
		{http.MethodGet, "/api/v1/cases/:case_id/clip", rolesOf(RoleAuditor), s.handleCaseClip},
		{http.MethodGet, "/api/v1/cases/:case_id/export", rolesOf(RoleAuditor), s.handleCaseExport},
		{http.MethodPost, "/api/v1/cases/:case_id/hold", rolesOf(RoleAuditor, RoleAdmin), s.handlePlaceHold},
		{http.MethodDelete, "/api/v1/cases/:case_id/hold", rolesOf(RoleAuditor, RoleAdmin), s.handleReleaseHold},
	}
}
