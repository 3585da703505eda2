// Package console serves Sunlight's HTTP API and web console with gin: sign
// in, roles and the route × role table, the REST endpoints, and the one
// error writer that maps error kinds to status codes.
package console

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/tracker"
	"github.com/sunlight-gov/sunlight/caseclip"
	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/internal/nodekey"
)

// store is what the console needs from the analytics database.
type store interface {
	Ping(ctx context.Context) error
	WriteAudit(ctx context.Context, e analytics.AuditEntry) error
	AppendAudit(ctx context.Context, e analytics.AuditEntry) (analytics.AuditRecord, error)
	ExportAudit(ctx context.Context, w io.Writer) (int, error)
	VerifyAudit(ctx context.Context, keys []ed25519.PublicKey) (analytics.AuditReport, error)
	ListAudit(ctx context.Context, f analytics.AuditFilter) ([]analytics.AuditEntry, error)
	CaseEvents(ctx context.Context, caseID string) ([]analytics.CaseEvent, error)
	CaseIntervals(ctx context.Context, caseID string) ([]analytics.ServiceInterval, error)
	SegmentsBetween(ctx context.Context, window string, from, to time.Time) ([]analytics.SegmentRow, error)
	PlaceHold(ctx context.Context, caseID, by, reason string) error
	ReleaseHold(ctx context.Context, caseID, by string) error
	HoldOf(ctx context.Context, caseID string) (analytics.Hold, bool, error)
	ListAlerts(ctx context.Context, f analytics.AlertFilter) ([]analytics.StoredAlert, error)
	AckAlert(ctx context.Context, id, by, comment string) (analytics.StoredAlert, error)
	Alert(ctx context.Context, id string) (analytics.StoredAlert, bool, error)
	CaseStates(ctx context.Context, ids []string) ([]tracker.CaseState, error)
	RecentRecordedCasesIn(ctx context.Context, since time.Time, limit int, halls []string) ([]analytics.RecordedCase, error)
	kpiStore
}

// Server is the HTTP API and console.
type Server struct {
	// Config is the validated configuration (required).
	Config *config.Config
	// Store is the analytics database (required).
	Store store
	// Logger; nil discards.
	Logger *slog.Logger
	// Registry receives the server's metrics; nil makes a private one.
	Registry *prometheus.Registry
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// MaxEventBody bounds a POST /api/v1/events body. Default 8 MiB.
	MaxEventBody int64
	// Intake makes accepted events durable; nil answers 503 to events.
	Intake eventIntake
	// Live serves WHEP sessions; nil answers 503 to live requests.
	Live liveVideo
	// Supervision reports the windows' live queue state; nil shows none.
	Supervision floorState
	// Cameras reports camera states for the windows view; nil shows none.
	Cameras cameraStates
	// MaxStreamsPerUser bounds the event streams (alerts, windows) one
	// user has open at once. Default 8.
	MaxStreamsPerUser int
	// ClipPadding widens a case's service intervals in its clip. Default 5s.
	ClipPadding time.Duration
	// NodeKey signs evidence exports; nil loads (or makes) the node key
	// under Config.DataDir (see nodekey). Give the store's AuditKey, so
	// that an export's audit row is in the chain of the key that signs it.
	NodeKey ed25519.PrivateKey

	log      *slog.Logger
	users    *Users
	sessions *sessions
	keys     *apiKeys
	login    loginState
	catalog  *config.Catalog
	engine   *gin.Engine
	metrics  *serverMetrics
	live     liveSessions
	streams  streamSlots
	clips    *caseclip.Service
	nodeKey  ed25519.PrivateKey
	calendar *config.WorkCalendar
	alerts   *alertHub
	// windowFeed pushes the windows' state to the live walls.
	windowFeed *windowFeed
	// publicLimit bounds public case lookups per client address.
	publicLimit rateLimit
	// cspLogLimit bounds the log lines of CSP violation reports.
	cspLogLimit rateLimit
	closing     chan struct{} // closed by Close: ends the event streams

	// certs is the HTTPS certificate (nil: plain HTTP).
	certs       *certStore
	ln          net.Listener
	httpSrv     *http.Server
	redirectLn  net.Listener // tls.redirect_listen; nil when not set
	redirectSrv *http.Server
	wg          sync.WaitGroup // the serving goroutines
}

// Initialize loads users, the session key and the TLS certificate, builds
// the routes and starts listening on Config.Listen (HTTPS when
// Config.TLS has a certificate, and the plain-HTTP redirect listener when
// it has one).
func (s *Server) Initialize() error {
	if s.Config == nil || s.Store == nil {
		return errors.New("console: Config and Store are required")
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.log = s.log.With("component", "console")
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.MaxStreamsPerUser <= 0 {
		s.MaxStreamsPerUser = defaultStreamsPerUser
	}
	if s.MaxEventBody == 0 {
		s.MaxEventBody = 8 << 20
	}
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
		s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	users, err := LoadUsers(s.Config.Auth.UsersFile)
	if err != nil {
		return err
	}
	if users.Len() == 0 {
		s.log.Warn("no users yet: add one with `sunlight user add`", "users_file", s.Config.Auth.UsersFile)
	}
	s.users = users
	for _, u := range users.list() {
		if msg := s.Config.CheckScope(u.Scope); msg != "" {
			s.log.Warn("user's scope names halls the configuration lacks: they cover nothing", "user", u.Username, "problem", msg)
		}
	}
	key, err := loadSessionKey(filepath.Join(s.Config.DataDir, "session.key"))
	if err != nil {
		return err
	}
	s.nodeKey = s.NodeKey
	if s.nodeKey == nil {
		if s.nodeKey, err = nodekey.LoadOrCreate(nodekey.Path(s.Config.DataDir)); err != nil {
			return err
		}
	}
	revokedPath := filepath.Join(s.Config.DataDir, "revoked-sessions.json")
	revoked, err := loadRevoked(revokedPath, s.Now())
	if err != nil {
		return err
	}
	s.sessions = &sessions{key: key, ttl: s.Config.Auth.SessionTTL, now: s.Now, revoked: revoked, revokedPath: revokedPath}
	s.keys = newAPIKeys(s.Config.Auth.APIKeys)
	s.login = newLoginState()
	s.catalog = s.Config.Catalog()
	s.calendar = s.Config.WorkCalendar()
	s.clips = &caseclip.Service{Store: s.Store, Padding: s.ClipPadding}
	s.metrics = newServerMetrics(s.Registry)
	s.live.m = map[string]liveSession{}
	s.alerts = newAlertHub()
	s.windowFeed = newWindowFeed(s.windowViews)
	s.publicLimit.perMinute = 30
	s.cspLogLimit.perMinute = 6
	s.closing = make(chan struct{})
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	s.loadOpenAlerts(lctx)
	lcancel()
	s.engine = s.buildEngine()
	if s.Config.TLS.Enabled() {
		s.certs = &certStore{certFile: s.Config.TLS.CertFile, keyFile: s.Config.TLS.KeyFile}
		if err := s.certs.load(); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", s.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (config key listen): %w", s.Config.Listen, err)
	}
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s.engine, ReadHeaderTimeout: 10 * time.Second}
	if s.certs != nil {
		s.httpSrv.TLSConfig = s.certs.tlsConfig()
		s.httpSrv.ErrorLog = log.New(serverErrorLog{s.log}, "", 0)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var err error
		if s.certs != nil {
			err = s.httpSrv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig.GetCertificate
		} else {
			err = s.httpSrv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", s.certs != nil)
	if s.Config.TLS.RedirectListen != "" {
		if err := s.startRedirect(s.Config.TLS.RedirectListen); err != nil {
			s.Close()
			return err
		}
	}
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Handler is the server's HTTP handler (for tests that skip the network).
func (s *Server) Handler() http.Handler { return s.engine }

// Close stops accepting requests, lets running ones finish for a few
// seconds, and returns when the serving goroutine has ended. A second
// call does nothing.
func (s *Server) Close() {
	if s.httpSrv == nil {
		return
	}
	select {
	case <-s.closing:
		return
	default:
	}
	close(s.closing)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.redirectSrv != nil {
		_ = s.redirectSrv.Close() // it holds no request worth waiting for
	}
	if err := s.httpSrv.Shutdown(ctx); err != nil {
		_ = s.httpSrv.Close()
	}
	s.wg.Wait()
}

func (s *Server) buildEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// X-Forwarded-For only from the configured proxies (validated at load).
	if err := e.SetTrustedProxies(s.Config.TrustedProxies); err != nil {
		s.log.Error("trusted_proxies", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.Use(s.recoverer(), s.metrics.middleware(), s.securityHeaders())
	e.NoRoute(func(c *gin.Context) {
		writeError(c, s.log, apperr.NoEndpoint.New(apperr.P{"method": c.Request.Method, "path": c.Request.URL.Path},
			"no such endpoint: %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorBody(apperr.MethodNotAllowed.New(apperr.P{"method": c.Request.Method, "path": c.Request.URL.Path},
			"method %s is not allowed on %s", c.Request.Method, c.Request.URL.Path)))
	})
	for _, r := range s.routes() {
		e.Handle(r.method, r.path, s.authorize(r.access), checkPathIDs, r.handler)
	}
	return e
}

// serverErrorLog takes the messages of net/http's server. A failed TLS
// handshake (a port scanner, plain HTTP on the HTTPS port, a browser that
// does not trust the certificate yet) is the client's business: debug. The
// rest (accept errors, say) are warnings.
type serverErrorLog struct{ log *slog.Logger }

func (w serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		w.log.Debug(msg)
	} else {
		w.log.Warn(msg)
	}
	return len(p), nil
}

// recoverer turns a handler panic into a logged 500 instead of a dropped
// connection.
func (s *Server) recoverer() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				writeError(c, s.log, fmt.Errorf("panic: %v", v))
			}
		}()
		c.Next()
	}
}
