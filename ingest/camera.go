package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// VideoSink receives a camera's video. streaming.Stream satisfies it.
//
// Both methods are called from one goroutine at a time (gortsplib's reader)
// and must not block: a slow sink stalls the RTSP session.
type VideoSink interface {
	// SetVideoTrack announces the track, at every (re)connect and again
	// whenever the camera changes its parameter sets in band.
	SetVideoTrack(t media.Track)
	// WriteVideo hands over one access unit. The sink may keep it.
	WriteVideo(u *media.Unit)
}

// AudioSink receives a camera's G.711 or Opus audio, passed through as is.
// With UDP transport WriteAudio may run concurrently with the VideoSink's
// methods.
type AudioSink interface {
	SetAudioTrack(t media.Track)
	WriteAudio(u *media.Unit)
}

// Transports a Camera accepts.
const (
	TransportAuto = "auto" // UDP first, TCP when UDP is refused or silent
	TransportUDP  = "udp"
	TransportTCP  = "tcp"
)

// Camera states.
const (
	CameraConnecting = "connecting" // before the first session's outcome
	CameraOnline     = "online"     // playing
	CameraOffline    = "offline"    // the last session failed; retrying
)

const (
	// cameraReadTimeout ends a session when nothing arrives for this long
	// (gortsplib's ReadTimeout, which also bounds dialling and each RTSP
	// request), and is the limit of the video watchdog.
	cameraReadTimeout = 5 * time.Second
	// cameraUDPProbe is how long auto transport waits for a first UDP
	// packet before gortsplib switches to TCP.
	cameraUDPProbe = 2 * time.Second
	// cameraStableSession is how long a session must last for the next
	// failure to start the backoff from its minimum again.
	cameraStableSession = 10 * time.Second
	// cameraReminder is how often a camera that stays offline is logged.
	cameraReminder = time.Minute
	// cameraDefaultHealthInterval is HealthInterval's default.
	cameraDefaultHealthInterval = 10 * time.Second
)

// CameraState is what a Camera is doing now.
type CameraState struct {
	// State is CameraConnecting, CameraOnline or CameraOffline.
	State string
	// Since is when State last changed.
	Since time.Time
	// LastError is why the camera last went offline ("" if it never did).
	// It is kept while the camera is online again.
	LastError string
	// Codec is the video codec of the last session ("H264" or "H265", as
	// media.H264 and media.H265), empty before the first.
	Codec string
	// Width and Height come from the SPS, 0 while unknown.
	Width, Height int
	// Reconnects counts sessions that came up after the first one.
	Reconnects int
	// Transport is the transport of the last session, "udp" or "tcp".
	Transport string
}

// Camera pulls one window's RTSP feed and keeps it up: it reconnects after
// any failure, forever, until Close.
type Camera struct {
	// Window id; it labels logs, health and metrics.
	ID string
	// rtsp:// or rtsps:// URL, credentials included if the camera needs
	// them (they are never logged). Required.
	URL string
	// TransportAuto (the default when empty), TransportUDP or TransportTCP.
	// Auto tries UDP, falls back to TCP at once when the camera refuses UDP
	// and after 2 s when no UDP packet arrives, and keeps using TCP on
	// later reconnects while that works.
	Transport string
	// Receives the video. Required.
	Sink VideoSink
	// Receives G.711 or Opus audio when the camera sends some. Optional:
	// nil means audio is not even set up.
	AudioSink AudioSink
	// Delays between reconnects. The zero value gives 250 ms doubling up
	// to 2 s, with jitter.
	Backoff Backoff
	// Logger. nil means discard.
	Logger *slog.Logger
	// Clock of the health windows. It defaults to time.Now.
	Now func() time.Time
	// Period of OnHealth. It defaults to 10 s.
	HealthInterval time.Duration
	// Called every HealthInterval with the last interval's stats, from a
	// goroutine of the camera's. Optional.
	OnHealth func(CameraHealth)

	logger *slog.Logger
	now    func() time.Time
	url    *base.URL
	stats  *cameraStats
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex  // guards state and preferTCP
	state     CameraState // see State
	preferTCP bool        // auto transport: TCP worked after UDP did not
}

// Initialize checks the configuration and starts the camera's goroutines.
// It returns at once; the connection is made in the background.
func (c *Camera) Initialize() error {
	if err := c.setDefaults(); err != nil {
		return err
	}
	c.stats = newCameraStats(c.now())
	c.state = CameraState{State: CameraConnecting, Since: c.now()}

	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.wg.Add(1)
	go c.run(ctx)
	if c.OnHealth != nil {
		c.wg.Add(1)
		go c.reportHealth(ctx)
	}
	return nil
}

func (c *Camera) setDefaults() error {
	c.logger = c.Logger
	if c.logger == nil {
		c.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.logger = c.logger.With("component", "camera", "window", c.ID)
	c.now = c.Now
	if c.now == nil {
		c.now = time.Now
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = cameraDefaultHealthInterval
	}
	switch c.Transport {
	case "":
		c.Transport = TransportAuto
	case TransportAuto, TransportUDP, TransportTCP:
	default:
		return fmt.Errorf("camera %s: %w: transport %q (want auto, udp or tcp)", c.ID, ErrCameraConfig, c.Transport)
	}
	if c.Sink == nil {
		return fmt.Errorf("camera %s: %w: no video sink", c.ID, ErrCameraConfig)
	}
	u, err := base.ParseURL(c.URL)
	if err != nil {
		// the parse error may quote the URL, credentials included: drop it
		return fmt.Errorf("camera %s: %w: URL does not parse", c.ID, ErrCameraConfig)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("camera %s: %w: URL scheme %q (want rtsp or rtsps)", c.ID, ErrCameraConfig, u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("camera %s: %w: URL has no host", c.ID, ErrCameraConfig)
	}
	c.url = u
	return nil
}

// Close stops the camera and waits for its goroutines.
func (c *Camera) Close() {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
}

// State returns what the camera is doing now.
func (c *Camera) State() CameraState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// run connects, plays until the session fails, waits and starts again.
func (c *Camera) run(ctx context.Context) {
	defer c.wg.Done()

	var (
		attempt      int  // failures since the backoff was last reset
		everOnline   bool // a session came up before: the next one is a reconnect
		lastReminder time.Time
	)
	for {
		res := c.session(ctx, everOnline)
		if ctx.Err() != nil {
			return
		}
		if res.online {
			everOnline = true
			if res.lasted > cameraStableSession {
				attempt = 0
			}
		}

		prev := c.setOffline(res.err)
		switch {
		case prev != CameraOffline:
			c.logger.Warn("camera offline", "error", res.err, "was", prev)
			lastReminder = c.now()
		case c.now().Sub(lastReminder) >= cameraReminder:
			st := c.State()
			c.logger.Warn("camera still offline", "error", res.err,
				"for", c.now().Sub(st.Since).Round(time.Second), "attempts", attempt+1)
			lastReminder = c.now()
		default:
			c.logger.Debug("reconnect failed", "error", res.err)
		}

		delay := c.Backoff.Delay(attempt)
		attempt++
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// setOffline records a failed session and returns the previous state.
func (c *Camera) setOffline(err error) string {
	msg := "session ended"
	if err != nil {
		msg = err.Error()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.state.State
	if prev != CameraOffline {
		c.state.State = CameraOffline
		c.state.Since = c.now()
	}
	c.state.LastError = msg
	return prev
}

// setOnline records a session that started playing.
func (c *Camera) setOnline(codec media.Codec, transport string, width, height int, reconnect bool) CameraState {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.State = CameraOnline
	c.state.Since = c.now()
	c.state.Codec = string(codec)
	c.state.Transport = transport
	c.state.Width, c.state.Height = width, height
	if reconnect {
		c.state.Reconnects++
	}
	return c.state
}

// setSize records a picture size parsed from an in-band SPS.
func (c *Camera) setSize(width, height int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state.Width, c.state.Height = width, height
}

// transportFor returns the transport the next session asks for: "" lets
// gortsplib choose (UDP, then TCP).
func (c *Camera) transportFor() string {
	if c.Transport != TransportAuto {
		return c.Transport
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.preferTCP {
		return TransportTCP
	}
	return ""
}

// learnTransport remembers, in auto mode, whether the next sessions should
// go straight to TCP: yes after TCP carried video, no once a session that
// tried it got none (the camera may have changed).
func (c *Camera) learnTransport(asked, got string, gotVideo bool) {
	if c.Transport != TransportAuto {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case gotVideo:
		c.preferTCP = got == TransportTCP
	case asked == TransportTCP:
		c.preferTCP = false
	}
}

// reportHealth calls OnHealth every HealthInterval.
func (c *Camera) reportHealth(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.HealthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.OnHealth(c.stats.snapshot(c.now(), c.ID, c.State().State))
		}
	}
}
