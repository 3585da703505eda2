package livebench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/streaming"

	"github.com/sunlight-gov/sunlight/internal/whepclient"
)

// Config is one load configuration. The zero value of every field but
// Cameras, ViewersPerCamera, CacheDir and Child works.
type Config struct {
	// Cameras is N, the number of simulated cameras (windows).
	Cameras int
	// ViewersPerCamera is M, the WHEP viewers of each camera.
	ViewersPerCamera int
	// The cameras' picture: default 640x360 at 15 fps, an IDR every 2 s,
	// about 1 Mbit/s (the simulator's bitrate).
	Width, Height int
	FPS           int
	GOP           time.Duration
	// Loop is the length of the clip each camera loops. Default 10 s.
	Loop time.Duration
	// CacheDir keeps the cameras' generated clips between runs. Required.
	CacheDir string
	// AlignedCameras puts the cameras in phase: their frames, and their
	// IDRs, all fall due at the same instants, the worst burst the server
	// can get. Default: their frame times spread evenly over the frame
	// period and their IDRs over the GOP, as independent cameras' would.
	AlignedCameras bool
	// JoinEvery spaces the viewers' joins. Default 50 ms.
	JoinEvery time.Duration
	// LateJoins more viewers join during the measurement window, spread
	// evenly over it, cameras in turn: each gets its GOP replay while the
	// others watch, as an outside viewer joining a busy server does.
	// Default: one per camera; negative: none.
	LateJoins int
	// Warmup runs the full load before the measurement. Default 3 s.
	Warmup time.Duration
	// Measure is the measurement window. Default 12 s.
	Measure time.Duration
	// Child returns a command that runs this binary again such that it
	// calls RunChild first. Required.
	Child func() *exec.Cmd
	// CPUProfile, when set, is the file that gets a CPU profile of this
	// process (the server) over the measurement window.
	CPUProfile string
	// UnbatchedSends makes the server send each packet with a system
	// call of its own (streaming.WebRTCServer.UnbatchedSends): the
	// before of the send batching, for side-by-side runs.
	UnbatchedSends bool
	// Logger receives the server's logs. nil means discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	switch {
	case c.Cameras < 1 || c.ViewersPerCamera < 1:
		return fmt.Errorf("livebench: %d cameras × %d viewers", c.Cameras, c.ViewersPerCamera)
	case c.CacheDir == "":
		return errors.New("livebench: CacheDir is required")
	case c.Child == nil:
		return errors.New("livebench: Child is required")
	}
	if c.Width == 0 && c.Height == 0 {
		c.Width, c.Height = 640, 360
	}
	if c.FPS == 0 {
		c.FPS = 15
	}
	if c.GOP == 0 {
		c.GOP = 2 * time.Second
	}
	if c.Loop == 0 {
		c.Loop = 10 * time.Second
	}
	if c.JoinEvery == 0 {
		c.JoinEvery = 50 * time.Millisecond
	}
	switch {
	case c.LateJoins == 0:
		c.LateJoins = c.Cameras
	case c.LateJoins < 0:
		c.LateJoins = 0
	}
	if c.Warmup == 0 {
		c.Warmup = 3 * time.Second
	}
	if c.Measure == 0 {
		c.Measure = 12 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Result is what one run measured. Durations are over the measurement
// window unless said otherwise.
type Result struct {
	// Viewers joined before the window; LateJoins more during it.
	Cameras, Viewers, LateJoins int
	// ViewerSeconds is the viewers' time in the window, each from its join.
	ViewerSeconds float64
	Aligned       bool // the cameras were in phase (Config.AlignedCameras)
	Window        time.Duration
	// CPU time (user and system) of the three processes.
	ServerCPU, ViewersCPU, CamerasCPU time.Duration
	// The viewers' report: latency (arrival − SEI send time: RTSP
	// ingest, relay and WebRTC together), time to the first IDR, frames.
	Report viewersReport
	// IngestLatency is the camera-to-stream share of Latency: the SEI
	// send time to the stream's WriteVideo, in the server.
	IngestLatency quantiles
	// RelayP50 (median over sessions) and RelayP99 (worst session) are
	// the server's own measure, from a frame's arrival in the stream to
	// its last packet written to the viewer, over each session's life.
	RelayP50, RelayP99 time.Duration
	// StreamDrops counts frames the server's readers dropped (lifetime).
	StreamDrops uint64
	// ServerGCs counts the server's garbage collections.
	ServerGCs uint64
	// Sends is what the server's send batching did over the window.
	Sends streaming.SendStats
}

// ServerCPUPerViewerSecond is the server's CPU per viewer per second of
// video, in ms: the cost of a camera-viewer, ingest included.
func (r *Result) ServerCPUPerViewerSecond() float64 {
	return ms(r.ServerCPU) / r.ViewerSeconds
}

// LoadgenCPUPerViewerSecond is the viewers' process's CPU per viewer per
// second, in ms.
func (r *Result) LoadgenCPUPerViewerSecond() float64 {
	return ms(r.ViewersCPU) / r.ViewerSeconds
}

// CamerasCPUPerCameraSecond is the cameras' process's CPU per camera per
// second, in ms.
func (r *Result) CamerasCPUPerCameraSecond() float64 {
	return ms(r.CamerasCPU) / (float64(r.Cameras) * r.Window.Seconds())
}

// String is a one-line summary.
func (r *Result) String() string {
	rep := r.Report
	aligned := ""
	if r.Aligned {
		aligned = " aligned"
	}
	return fmt.Sprintf("%dx%d%s: server %.2f ms CPU/viewer-s (%.0f ms/s), latency p50 %.2f ms p99 %.2f ms max %.2f ms "+
		"(ingest p50 %.2f p99 %.2f; relay p50 %.1f p99 %.1f), first IDR p50 %.0f ms p95 %.0f ms max %.0f ms "+
		"(connect p50 %.0f ms p95 %.0f ms), live frames %d/%d lost %d (broken %d, lost packets %d, tail unknown %d), "+
		"replay frames lost %d of %d (%d late joins; catch-up p95 %.0f ms max %.0f ms), burst in 10 ms p50 %.0f KB max %.0f KB, "+
		"drops %d, server GCs %d, sends %d packets in %d messages in %d calls (segmentation %v), "+
		"viewers %.2f ms CPU/viewer-s, cameras %.2f ms CPU/camera-s",
		r.Cameras, r.Viewers/max(r.Cameras, 1), aligned, r.ServerCPUPerViewerSecond(), ms(r.ServerCPU)/r.Window.Seconds(),
		rep.Latency.P50, rep.Latency.P99, rep.Latency.Max,
		r.IngestLatency.P50, r.IngestLatency.P99, ms(r.RelayP50), ms(r.RelayP99),
		rep.FirstIDR.P50, rep.FirstIDR.P95, rep.FirstIDR.Max, rep.Connect.P50, rep.Connect.P95,
		rep.Received, rep.Expected, rep.Lost, rep.Broken, rep.LostPackets, rep.TailUnknown,
		rep.ReplayLost, rep.ReplayExpected, r.LateJoins, rep.CatchUp.P95, rep.CatchUp.Max, rep.BurstKB.P50, rep.BurstKB.Max,
		r.StreamDrops, r.ServerGCs, r.Sends.Packets, r.Sends.Messages, r.Sends.Calls, r.Sends.Segmentation, r.LoadgenCPUPerViewerSecond(), r.CamerasCPUPerCameraSecond())
}

// Run runs one configuration: it starts the cameras' process, the server
// in this process, and the viewers' process; waits until every viewer
// has its first IDR; warms up; measures; and tears everything down.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	windows := make([]string, cfg.Cameras)
	for i := range windows {
		windows[i] = fmt.Sprintf("cam%02d", i)
	}

	cams, urls, err := startCameras(cfg, windows)
	if err != nil {
		return nil, err
	}
	defer func() { _ = cams.stop(10 * time.Second) }()

	// Room for the late joiners (one camera may get several of them).
	lateMax := (cfg.LateJoins + cfg.Cameras - 1) / cfg.Cameras
	srv, err := startServer(urls, cfg.ViewersPerCamera+lateMax, cfg.UnbatchedSends, cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	if err := srv.waitVideo(ctx, 15*time.Second); err != nil {
		return nil, err
	}

	views, err := startChild(cfg.Child, roleViewers, viewersConfig{
		WHEP: srv.whepURL(), Cameras: windows, PerCamera: cfg.ViewersPerCamera,
		JoinEvery: cfg.JoinEvery, ReadyTimeout: 30 * time.Second, Grace: whepclient.HoleTimeout + 500*time.Millisecond,
		LateJoins: cfg.LateJoins, LateAfter: cfg.Warmup, LateEvery: cfg.Measure / time.Duration(cfg.LateJoins+1),
	})
	if err != nil {
		return nil, err
	}
	defer func() { _ = views.stop(30 * time.Second) }()
	var vr viewersReady
	joinFor := time.Duration(cfg.Cameras*cfg.ViewersPerCamera)*cfg.JoinEvery + time.Minute
	if err := views.expect("ready", &vr, joinFor); err != nil {
		return nil, err
	}
	if want := cfg.Cameras * cfg.ViewersPerCamera; vr.Viewers != want {
		return nil, fmt.Errorf("viewers: %d ready, want %d", vr.Viewers, want)
	}

	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}

	// The measurement window.
	stopProfile, err := startProfile(cfg.CPUProfile)
	if err != nil {
		cfg.Logger.Warn("no CPU profile", "err", err)
	}
	srv.ingest.on.Store(true)
	t0 := time.Now()
	s0, gc0, sends0 := selfCPU(), gcCycles(), srv.rtc.SendStats()
	v0, err := procCPU(views.pid())
	if err != nil {
		return nil, err
	}
	c0, err := procCPU(cams.pid())
	if err != nil {
		return nil, err
	}
	sleepErr := sleep(ctx, cfg.Measure)
	t1 := time.Now()
	s1, gc1 := selfCPU(), gcCycles()
	v1, err := procCPU(views.pid())
	if err != nil {
		return nil, err
	}
	c1, err := procCPU(cams.pid())
	if err != nil {
		return nil, err
	}
	srv.ingest.on.Store(false)
	stopProfile()
	if sleepErr != nil {
		return nil, sleepErr
	}

	res := &Result{
		Cameras: cfg.Cameras, Viewers: cfg.Cameras * cfg.ViewersPerCamera, LateJoins: cfg.LateJoins, Aligned: cfg.AlignedCameras,
		Window:    t1.Sub(t0),
		ServerCPU: s1 - s0, ViewersCPU: v1 - v0, CamerasCPU: c1 - c0,
		IngestLatency: srv.ingest.quantiles(),
		StreamDrops:   srv.drops(),
		ServerGCs:     gc1 - gc0,
		Sends:         subSends(srv.rtc.SendStats(), sends0),
	}
	// Before the viewers hang up and their sessions go.
	var p50s []time.Duration
	for _, st := range srv.rtc.Sessions() {
		p50s = append(p50s, st.LatencyP50)
		res.RelayP99 = max(res.RelayP99, st.LatencyP99)
	}
	if len(p50s) > 0 {
		slices.Sort(p50s)
		res.RelayP50 = p50s[len(p50s)/2]
	}

	if err := views.command(fmt.Sprintf("stop %d %d", t0.UnixNano(), t1.UnixNano())); err != nil {
		return nil, fmt.Errorf("viewers: %w", err)
	}
	if err := views.expect("report", &res.Report, time.Minute); err != nil {
		return nil, err
	}
	if err := views.stop(30 * time.Second); err != nil {
		return nil, err
	}
	if n := len(res.Report.Viewers); n != res.Viewers+res.LateJoins {
		return nil, fmt.Errorf("viewers: %d reported, want %d", n, res.Viewers+res.LateJoins)
	}
	for _, v := range res.Report.Viewers {
		res.ViewerSeconds += max(0, time.Duration(t1.UnixNano()-max(t0.UnixNano(), v.JoinedNs)).Seconds())
	}
	return res, nil
}

// startProfile starts a CPU profile into file ("" for none) and returns
// the function that stops it.
func startProfile(file string) (func(), error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return func() {}, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		_ = os.Remove(file)
		if strings.Contains(err.Error(), "already in use") {
			err = fmt.Errorf("%w (go test -cpuprofile profiles the whole run instead)", err)
		}
		return func() {}, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func subSends(a, b streaming.SendStats) streaming.SendStats {
	return streaming.SendStats{Packets: a.Packets - b.Packets, Messages: a.Messages - b.Messages, Calls: a.Calls - b.Calls, Segmentation: a.Segmentation}
}
