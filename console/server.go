// Package console serves Sunlight's HTTP API and web console with gin: sign
// in, roles and the route × role table, the REST endpoints, and the one
// error writer that maps error kinds to status codes.
package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
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
)

// store is what the console needs from the analytics database.
type store interface {
	Ping(ctx context.Context) error
	WriteAudit(ctx context.Context, e analytics.AuditEntry) error
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
	// ClipPadding widens a case's service intervals in its clip. Default 5s.
	ClipPadding time.Duration

	log      *slog.Logger
	users    *Users
	sessions *sessions
	keys     *apiKeys
	catalog  *config.Catalog
	engine   *gin.Engine
	metrics  *serverMetrics
	live     liveSessions
	clips    *caseclip.Service
	calendar *config.WorkCalendar
	alerts   *alertHub
	// windowFeed pushes the windows' state to the live walls.
	windowFeed *windowFeed
	// publicLimit bounds public case lookups per client address.
	publicLimit rateLimit
	closing     chan struct{} // closed by Close: ends the event streams

	ln      net.Listener
	httpSrv *http.Server
	wg      sync.WaitGroup // the serving goroutine
}

// Initialize loads users and the session key, builds the routes and starts
// listening on Config.Listen.
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
	s.sessions = &sessions{key: key, ttl: s.Config.Auth.SessionTTL, now: s.Now, revoked: map[string]time.Time{}}
	s.keys = newAPIKeys(s.Config.Auth.APIKeys)
	s.catalog = s.Config.Catalog()
	s.calendar = s.Config.WorkCalendar()
	s.clips = &caseclip.Service{Store: s.Store, Padding: s.ClipPadding}
	s.metrics = newServerMetrics(s.Registry)
	s.live.m = map[string]liveSession{}
	s.alerts = newAlertHub()
	s.windowFeed = newWindowFeed(s.windowViews)
	s.publicLimit.perMinute = 30
	s.closing = make(chan struct{})
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	s.loadOpenAlerts(lctx)
	lcancel()
	s.engine = s.buildEngine()

	ln, err := net.Listen("tcp", s.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (config key listen): %w", s.Config.Listen, err)
	}
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s.engine, ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	s.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Handler is the server's HTTP handler (for tests that skip the network).
func (s *Server) Handler() http.Handler { return s.engine }

// Close stops accepting requests, lets running ones finish for a few
// seconds, and returns when the serving goroutine has ended.
func (s *Server) Close() {
	if s.httpSrv == nil {
		return
	}
	close(s.closing)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.httpSrv.Shutdown(ctx); err != nil {
		_ = s.httpSrv.Close()
	}
	s.wg.Wait()
}

func (s *Server) buildEngine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(s.recoverer(), s.metrics.middleware())
	e.NoRoute(func(c *gin.Context) {
		writeError(c, s.log, apperr.NoEndpoint.New(apperr.P{"method": c.Request.Method, "path": c.Request.URL.Path},
			"no such endpoint: %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusMethodNotAllowed, errorBody(apperr.MethodNotAllowed.New(apperr.P{"method": c.Request.Method, "path": c.Request.URL.Path},
			"method %s is not allowed on %s", c.Request.Method, c.Request.URL.Path)))
	})
	for _, r := range s.routes() {
		e.Handle(r.method, r.path, s.authorize(r.access), r.handler)
	}
	return e
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
