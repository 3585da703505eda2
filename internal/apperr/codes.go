package apperr

import (
	"fmt"
	"slices"
)

// Code is the stable name of an error that a person using the console can
// meet, with its kind (hence its HTTP status) and the names of its
// parameters. The error writer answers {"error": text, "code": name,
// "params": {...}}; the console shows the translation "err.<name>" of
// web/src/i18n.js filled with the parameters, or the text for an error
// without a code. console's tests fail when a code lacks a translation in
// either language, when a translation names a parameter its code does not
// declare, or when a call passes one it does not.
//
// A code's Go name is its name in CamelCase (case_not_found is
// CaseNotFound): the tests find the calls by it.
type Code struct {
	name   string
	kind   error
	params []string
}

// registry holds every code, in declaration order.
var registry []*Code

func newCode(name string, kind error, params ...string) *Code {
	c := &Code{name: name, kind: kind, params: params}
	registry = append(registry, c)
	return c
}

// Codes lists every code.
func Codes() []*Code { return slices.Clone(registry) }

// Name is the code as the API answers it.
func (c *Code) Name() string { return c.name }

// Kind is the code's kind (nil for Internal and MethodNotAllowed, which
// the HTTP edge answers itself).
func (c *Code) Kind() error { return c.kind }

// Params names the parameters the code's errors carry.
func (c *Code) Params() []string { return slices.Clone(c.params) }

// New makes an error of the code: its text is the formatted message (which
// may wrap errors with %w), params fill the console's translation.
func (c *Code) New(params P, format string, args ...any) error {
	return &Error{Code: c, Params: params, err: fmt.Errorf(format, args...)}
}

// The codes, by what they are about. Keep the names stable: API clients
// and the console's translations depend on them.
var (
	// Internal is the answer to an error of no kind (its text is logged).
	Internal = newCode("internal", nil)
	// NoEndpoint: no route has this path; MethodNotAllowed: it has others.
	NoEndpoint       = newCode("no_endpoint", NotFound, "method", "path")
	MethodNotAllowed = newCode("method_not_allowed", nil, "method", "path")
	// ServiceUnavailable: a store or service behind the API did not
	// answer; the request may be retried.
	ServiceUnavailable = newCode("service_unavailable", Unavailable)
	// AuditUnavailable: an access that must be audited is refused because
	// the audit row could not be written.
	AuditUnavailable = newCode("audit_unavailable", Unavailable)
	// BadBody: the request body is not the JSON the endpoint takes.
	BadBody = newCode("bad_body", Invalid)
	// BodyTooLarge: the body is over max_bytes.
	BodyTooLarge = newCode("body_too_large", TooLarge, "max_bytes")

	// Signing in and sessions.
	LoginFailed         = newCode("login_failed", Unauthorized)
	CredentialsRequired = newCode("credentials_required", Invalid)
	LoginRequired       = newCode("login_required", Unauthorized)
	SessionExpired      = newCode("session_expired", Unauthorized)
	SessionInvalid      = newCode("session_invalid", Unauthorized)
	BadAuthHeader       = newCode("bad_auth_header", Unauthorized)
	APIKeyUnknown       = newCode("api_key_unknown", Unauthorized)
	APIKeyRequired      = newCode("api_key_required", Unauthorized)
	RoleForbidden       = newCode("role_forbidden", Forbidden, "role", "method", "path")
	// CredentialsTooLong: refused before hashing.
	CredentialsTooLong = newCode("credentials_too_long", Invalid, "max_username", "max_password")
	// LoginThrottled: too many failed sign-ins of this user or from this
	// address; seconds is the Retry-After.
	LoginThrottled = newCode("login_throttled", TooMany, "seconds")
	// RevocationNotSaved: a logout the server could not save (the
	// session is refused until the server restarts).
	RevocationNotSaved = newCode("revocation_not_saved", Unavailable)
	// LoginBusy: too many sign-ins waiting for a password check at once.
	LoginBusy = newCode("login_busy", Unavailable)
	// A user or API key limited to part of the hall tree (scope) asked for
	// a hall, window, case or alert outside it.
	HallOutOfScope   = newCode("hall_out_of_scope", Forbidden, "hall")
	WindowOutOfScope = newCode("window_out_of_scope", Forbidden, "window")
	CaseOutOfScope   = newCode("case_out_of_scope", Forbidden, "case")
	AlertOutOfScope  = newCode("alert_out_of_scope", Forbidden, "alert")

	// Query parameters. param is the parameter's name, value what was sent.
	BadParam = newCode("bad_param", Invalid, "param", "value")
	// BadID: an id in the URL path that breaks the id grammar (package
	// ident); a case id has BadCaseID.
	BadID          = newCode("bad_id", Invalid, "param", "max")
	BadTime        = newCode("bad_time", Invalid, "param", "value")
	BadRange       = newCode("bad_range", Invalid)
	RangeTooLong   = newCode("range_too_long", Invalid)
	BadLimit       = newCode("bad_limit", Invalid, "value", "max")
	UnknownHall    = newCode("unknown_hall", Invalid, "hall")
	UnknownWindow  = newCode("unknown_window", Invalid, "window")
	UnknownItem    = newCode("unknown_item", Invalid, "item")
	TooManyBuckets = newCode("too_many_buckets", Invalid, "max")
	// BadQuery: an analytics query the store refuses, for a reason the
	// text gives (the other codes name the common ones).
	BadQuery = newCode("bad_query", Invalid)

	// Cases, their footage and legal holds.
	CaseNotFound       = newCode("case_not_found", NotFound, "case")
	BadCaseID          = newCode("bad_case_id", Invalid, "max")
	TooManyLookups     = newCode("too_many_lookups", TooMany)
	NoInterval         = newCode("no_interval", NotFound, "case")
	NoIntervalMatch    = newCode("no_interval_match", NotFound, "case", "window", "interval", "count")
	NoFootage          = newCode("no_footage", NotFound, "case", "intervals")
	ReasonRequired     = newCode("reason_required", Invalid)
	ReasonTooLong      = newCode("reason_too_long", Invalid, "max")
	HoldReasonRequired = newCode("hold_reason_required", Invalid)
	HoldActive         = newCode("hold_active", Conflict, "case", "by", "at")
	NoActiveHold       = newCode("no_active_hold", NotFound, "case")
	ItemNotFound       = newCode("item_not_found", NotFound, "item")

	// StreamUserLimit: the user has MaxStreamsPerUser event streams open.
	StreamUserLimit = newCode("stream_user_limit", TooMany, "max")

	// Alerts.
	AlertNotFound   = newCode("alert_not_found", NotFound, "alert")
	AlertAcked      = newCode("alert_acked", Conflict, "alert", "by", "at")
	CommentRequired = newCode("comment_required", Invalid)
	CommentTooLong  = newCode("comment_too_long", Invalid, "max")

	// Live video.
	WindowNotFound = newCode("window_not_found", NotFound, "window")
	LiveOff        = newCode("live_off", Unavailable)
	// OfferNotSDP (415) and TrickleICE (405) are answered by the live
	// handlers themselves: no kind has their status.
	OfferNotSDP   = newCode("offer_not_sdp", nil)
	OfferTooLarge = newCode("offer_too_large", TooLarge, "max_bytes")
	OfferEmpty    = newCode("offer_empty", Invalid)
	// OfferInvalid: not SDP, or SDP that WebRTC refuses; OfferNoVideo: no
	// video m-line that receives; OfferNoCodec: none of the window's codec.
	OfferInvalid       = newCode("offer_invalid", Invalid)
	OfferNoVideo       = newCode("offer_no_video", Invalid)
	OfferNoCodec       = newCode("offer_no_codec", Invalid, "codec")
	LiveSessionUnknown = newCode("live_session_unknown", NotFound, "session", "window")
	TrickleICE         = newCode("trickle_ice", nil)
	LiveNotFound       = newCode("live_not_found", NotFound, "window")
	CameraOffline      = newCode("camera_offline", Unavailable, "window")
	NoVideo            = newCode("no_video", Unavailable, "window")
	ViewerLimit        = newCode("viewer_limit", Conflict, "window", "max")
	// LiveUserLimit: the user has webrtc.max_sessions_per_user open.
	LiveUserLimit = newCode("live_user_limit", TooMany, "max")
	LiveClosing   = newCode("live_closing", Unavailable)

	// Event intake.
	IntakeFull = newCode("intake_full", Unavailable)
)

// Browser protections (CSRF, login CSRF).
var (
	// CrossSiteRefused: a state-changing request from a page of another
	// site (Sec-Fetch-Site or Origin).
	CrossSiteRefused = newCode("cross_site_refused", Forbidden)
	// CSRFTokenMissing, CSRFTokenInvalid: a state-changing request signed
	// in by the session cookie without the session's X-CSRF-Token.
	CSRFTokenMissing = newCode("csrf_token_missing", Forbidden)
	CSRFTokenInvalid = newCode("csrf_token_invalid", Forbidden)
	// LoginNotJSON (415) is answered by the sign-in handler itself: a
	// sign-in must be application/json, which another site's form cannot
	// send.
	LoginNotJSON = newCode("login_not_json", nil)
)
