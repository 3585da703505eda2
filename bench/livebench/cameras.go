package livebench

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/sunlight-gov/sunlight/simulator"
)

// camerasConfig configures the cameras' child process.
type camerasConfig struct {
	Windows  []string      `json:"windows"`
	CacheDir string        `json:"cache_dir"`
	Width    int           `json:"width"`
	Height   int           `json:"height"`
	FPS      int           `json:"fps"`
	GOP      time.Duration `json:"gop"`
	Loop     time.Duration `json:"loop"`
	Stagger  bool          `json:"stagger"`
}

// camerasReady is the cameras' "ready" message: each window's RTSP URL.
type camerasReady struct {
	URLs map[string]string `json:"urls"`
}

// runCameras is the cameras' child process: a simulator.CameraServer
// stamping every frame, until stdin ends.
func runCameras(raw string) int {
	var cfg camerasConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "livebench cameras: config:", err)
		return 2
	}
	s := &simulator.CameraServer{
		Address:  "127.0.0.1:0",
		Windows:  cfg.Windows,
		CacheDir: cfg.CacheDir,
		Width:    cfg.Width,
		Height:   cfg.Height,
		FPS:      cfg.FPS,
		GOP:      cfg.GOP,
		Loop:     cfg.Loop,
		StampSEI: true,
		Stagger:  cfg.Stagger,
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if err := s.Initialize(); err != nil {
		fmt.Fprintln(os.Stderr, "livebench cameras:", err)
		return 1
	}
	defer s.Close()
	ready := camerasReady{URLs: make(map[string]string, len(cfg.Windows))}
	for _, w := range cfg.Windows {
		ready.URLs[w] = s.URL(w)
	}
	send("ready", ready)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startCameras starts the cameras' process and returns it with each
// window's RTSP URL. Independent cameras are not in phase: unless
// cfg.AlignedCameras, their frame times spread evenly over the frame
// period and their IDRs over the GOP (simulator.CameraServer.Stagger).
func startCameras(cfg Config, windows []string) (*child, map[string]string, error) {
	c, err := startChild(cfg.Child, roleCameras, camerasConfig{
		Windows: windows, CacheDir: cfg.CacheDir,
		Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS, GOP: cfg.GOP, Loop: cfg.Loop,
		Stagger: !cfg.AlignedCameras,
	})
	if err != nil {
		return nil, nil, err
	}
	var ready camerasReady
	// The first run renders the clips: about a second of CPU each.
	if err := c.expect("ready", &ready, 5*time.Minute); err != nil {
		_ = c.stop(10 * time.Second)
		return nil, nil, err
	}
	return c, ready.URLs, nil
}
