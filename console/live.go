package console

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// liveVideo is the WHEP side of streaming, as the console uses it.
type liveVideo interface {
	NewSession(ctx context.Context, window, offerSDP string) (id, answerSDP string, err error)
	CloseSession(id string) error
	SessionStream(id string) (string, bool)
}

// CameraStatus is what the console shows about a window's camera.
type CameraStatus struct {
	State      string    `json:"state"` // connecting | online | offline
	Since      time.Time `json:"since"`
	LastError  string    `json:"last_error,omitempty"`
	Codec      string    `json:"codec,omitempty"`
	Width      int       `json:"width,omitempty"`
	Height     int       `json:"height,omitempty"`
	Transport  string    `json:"transport,omitempty"`
	Reconnects int       `json:"reconnects"`
	Viewers    int       `json:"viewers"`
}

// cameraStates reports the cameras' states.
type cameraStates interface {
	CameraStatus(window string) (CameraStatus, bool)
}

// maxOfferBytes bounds a WHEP offer: real offers are a few kilobytes.
const maxOfferBytes = 64 << 10

// liveSession remembers who opened a WHEP session, for the audit row
// written when it ends.
type liveSession struct {
	user   string
	role   Role
	client string
	start  time.Time
}

// liveSessions maps session id to its opener, and counts the offers each
// user has being answered; guarded by its mutex.
type liveSessions struct {
	mu      sync.Mutex
	m       map[string]liveSession
	pending map[string]int // user -> offers in NewSession
}

// take counts one more session of user, unless user has max already.
func (l *liveSessions) take(user string, max int) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.pending[user]
	for _, ls := range l.m {
		if ls.user == user {
			n++
		}
	}
	if n >= max {
		return n, false
	}
	if l.pending == nil {
		l.pending = map[string]int{}
	}
	l.pending[user]++
	return n, true
}

// settle ends take's reservation: the session is added (id != "") or not.
func (l *liveSessions) settle(user, id string, ls liveSession) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending[user]--; l.pending[user] <= 0 {
		delete(l.pending, user)
	}
	if id != "" {
		l.m[id] = ls
	}
}

// handleWHEPOffer starts a live session (WHEP, RFC 9725): the body is the
// viewer's complete SDP offer; the answer comes back with 201 and the
// session's URL in Location.
func (s *Server) handleWHEPOffer(c *gin.Context) {
	window := c.Param("window")
	if _, ok := s.Config.FindWindow(window); !ok {
		writeError(c, s.log, apperr.WindowNotFound.New(apperr.P{"window": window}, "unknown window %q", window))
		return
	}
	if err := caller(c).scope.checkWindow(s.Config, window); err != nil {
		writeError(c, s.log, err)
		return
	}
	if s.Live == nil {
		writeError(c, s.log, apperr.LiveOff.New(nil, "live video is not running on this server"))
		return
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/sdp" {
		c.AbortWithStatusJSON(http.StatusUnsupportedMediaType, errorBody(apperr.OfferNotSDP.New(nil, "Content-Type must be application/sdp (a WHEP offer)")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxOfferBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c, s.log, apperr.OfferTooLarge.New(apperr.P{"max_bytes": maxOfferBytes}, "SDP offer larger than %d bytes", maxOfferBytes))
			return
		}
		writeError(c, s.log, apperr.BadBody.New(nil, "read offer: %v", err))
		return
	}
	if strings.TrimSpace(string(body)) == "" {
		writeError(c, s.log, apperr.OfferEmpty.New(nil, "empty body: send the SDP offer"))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	p := caller(c)
	limit := s.Config.WebRTC.MaxSessionsPerUser
	if n, ok := s.live.take(p.name, limit); !ok {
		writeError(c, s.log, apperr.LiveUserLimit.New(apperr.P{"max": limit},
			"you have %d live sessions open, the limit: close one first", n))
		return
	}
	id, answer, err := s.Live.NewSession(ctx, window, string(body))
	if err != nil {
		s.live.settle(p.name, "", liveSession{})
		writeError(c, s.log, err)
		return
	}
	s.live.settle(p.name, id, liveSession{user: p.name, role: p.role, client: c.ClientIP(), start: s.Now()})
	if _, ok := s.Live.SessionStream(id); !ok {
		// It ended before it was registered: its end was not counted.
		s.LiveSessionEnded(id, window, "ended at once")
	}
	s.audit(c, analytics.AuditEntry{Actor: p.name, Role: string(p.role), Action: "live_start", Target: window, Detail: "session " + id})
	c.Header("Location", "/api/v1/live/"+window+"/whep/"+id)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusCreated, "application/sdp", []byte(answer))
}

// handleWHEPDelete ends a live session.
func (s *Server) handleWHEPDelete(c *gin.Context) {
	window, id := c.Param("window"), c.Param("session")
	if err := caller(c).scope.checkWindow(s.Config, window); err != nil {
		writeError(c, s.log, err)
		return
	}
	if s.Live == nil {
		writeError(c, s.log, apperr.LiveOff.New(nil, "live video is not running on this server"))
		return
	}
	if w, ok := s.Live.SessionStream(id); !ok || w != window {
		writeError(c, s.log, apperr.LiveSessionUnknown.New(apperr.P{"session": id, "window": window}, "no live session %q on window %q", id, window))
		return
	}
	if err := s.Live.CloseSession(id); err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ended"})
}

// handleWHEPPatch answers trickle ICE: the server answers only complete
// offers, so a client must gather its candidates before the POST.
func (s *Server) handleWHEPPatch(c *gin.Context) {
	c.Header("Allow", "DELETE")
	c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorBody(apperr.TrickleICE.New(nil, "trickle ICE is not supported: gather candidates before the POST and send a complete offer")))
}

// LiveSessionEnded writes the audit row of a live session that ended, for
// whatever reason (DELETE, ICE failure, the viewer left, shutdown). It is
// the streaming server's OnSessionEnd callback.
func (s *Server) LiveSessionEnded(id, window, reason string) {
	s.live.mu.Lock()
	ls, ok := s.live.m[id]
	delete(s.live.m, id)
	s.live.mu.Unlock()
	if !ok {
		return
	}
	e := analytics.AuditEntry{
		TS: s.Now(), Actor: ls.user, Role: string(ls.role), Action: "live_end", Target: window,
		Detail: "session " + id + ": " + reason + " after " + s.Now().Sub(ls.start).Round(time.Second).String(), Client: ls.client,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Store.WriteAudit(ctx, e); err != nil {
		s.log.Warn("audit write failed", "action", e.Action, "actor", e.Actor, "err", err)
	}
}
