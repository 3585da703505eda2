package simulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
)

// cameraWindowID keeps window ids safe in URLs, file names and ffmpeg
// filter graphs, so none of them needs escaping.
var cameraWindowID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CameraServer serves one simulated camera per window over RTSP, at
// rtsp://Address/window/<id>. Each camera loops a generated H.264 clip in
// real time with timestamps that never jump back, like a live camera.
type CameraServer struct {
	// RTSP listen address (TCP transport only). A port of 0 picks a free
	// one, which URL reports. It defaults to "127.0.0.1:8554".
	Address string
	// Window ids, each served at /window/<id>. Ids are letters, digits,
	// '.', '_' and '-'.
	Windows []string
	// Directory where generated clips are cached (required).
	CacheDir string
	// Picture size. It defaults to 640x360.
	Width, Height int
	// Frames per second. It defaults to 15.
	FPS int
	// Keyframe interval. It defaults to 2s.
	GOP time.Duration
	// Length of the generated clip that loops. It defaults to 30s.
	Loop time.Duration
	// ffmpeg binary. It defaults to the one on PATH.
	FFmpeg string
	// StampSEI puts a send-time SEI (see SendTimeUUID) before the first
	// slice of every frame, for latency and loss measurements. Default
	// false: the clips go out as ffmpeg encoded them.
	StampSEI bool
	// Stagger spreads the cameras' frame times evenly over the frame
	// period and their keyframes over the GOP, as independent cameras'
	// would be. Default false: every camera's frames, and keyframes, are
	// due at the same instants.
	Stagger bool
	// Logger. nil means discard.
	Logger *slog.Logger

	logger *slog.Logger
	addr   string
	server *gortsplib.Server
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.RWMutex       // guards cameras while Initialize builds them
	cameras map[string]*camera // by RTSP path, "/window/<id>"
}

// Initialize renders (or reuses) the clips and starts serving.
func (s *CameraServer) Initialize() error {
	if err := s.setDefaults(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	// Readers that connect early wait for the cameras instead of getting 404.
	s.mu.Lock()
	err := s.start(ctx)
	s.mu.Unlock()
	if err != nil {
		s.Close()
		return err
	}
	s.logger.Info("cameras ready", "address", s.addr, "windows", len(s.Windows))
	return nil
}

func (s *CameraServer) setDefaults() error {
	s.logger = s.Logger
	if s.logger == nil {
		s.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.logger = s.logger.With("component", "camera")

	if s.Address == "" {
		s.Address = "127.0.0.1:8554"
	}
	if s.Width == 0 && s.Height == 0 {
		s.Width, s.Height = 640, 360
	}
	if s.FPS == 0 {
		s.FPS = 15
	}
	if s.GOP == 0 {
		s.GOP = 2 * time.Second
	}
	if s.Loop == 0 {
		s.Loop = 30 * time.Second
	}

	switch {
	case s.CacheDir == "":
		return errors.New("camera: CacheDir is required")
	case len(s.Windows) == 0:
		return errors.New("camera: no windows")
	case s.Width <= 0 || s.Height <= 0:
		return fmt.Errorf("camera: size %dx%d must be positive", s.Width, s.Height)
	case s.FPS < 0 || s.FPS > 120:
		return fmt.Errorf("camera: FPS %d out of range 1..120", s.FPS)
	case s.frames(s.GOP) < 1 || s.frames(s.Loop) < 1:
		return fmt.Errorf("camera: GOP %v and Loop %v must each last at least one frame", s.GOP, s.Loop)
	}
	seen := make(map[string]bool, len(s.Windows))
	for _, w := range s.Windows {
		if !cameraWindowID.MatchString(w) {
			return fmt.Errorf("camera: invalid window id %q (want %s)", w, cameraWindowID)
		}
		if seen[w] {
			return fmt.Errorf("camera: duplicate window id %q", w)
		}
		seen[w] = true
	}

	bin := s.FFmpeg
	if bin == "" {
		bin = "ffmpeg"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return fmt.Errorf("camera: %w: %w", ErrFFmpegNotFound, err)
	}
	s.FFmpeg = path
	return nil
}

// frames converts a duration to a whole number of frames.
func (s *CameraServer) frames(d time.Duration) int {
	return int(d * time.Duration(s.FPS) / time.Second)
}

func (s *CameraServer) start(ctx context.Context) error {
	clips, err := s.loadClips(ctx)
	if err != nil {
		return err
	}

	s.server = &gortsplib.Server{
		Handler:     &cameraHandler{s: s},
		RTSPAddress: s.Address,
		// gortsplib does not tell which port it bound, so keep the listener's
		// address: that is what makes ":0" usable.
		Listen: func(network, address string) (net.Listener, error) {
			ln, err := net.Listen(network, address)
			if err == nil {
				s.addr = cameraDialAddr(ln.Addr())
			}
			return ln, err
		},
	}
	if err := s.server.Start(); err != nil {
		s.server = nil
		return fmt.Errorf("camera: listen on %s: %w", s.Address, err)
	}

	s.cameras = make(map[string]*camera, len(s.Windows))
	cams := make([]*camera, 0, len(s.Windows))
	for i, w := range s.Windows {
		c, err := newCamera(s.server, w, clips[i], s.FPS)
		if err != nil {
			return fmt.Errorf("camera: window %s: %w", w, err)
		}
		c.stampSEI = s.StampSEI
		if s.Stagger {
			c.phase = time.Second * time.Duration(i) / time.Duration(s.FPS*len(s.Windows))
			c.skip = int64(i * s.frames(s.GOP) / len(s.Windows))
		}
		s.cameras[cameraPath(w)] = c
		cams = append(cams, c)
	}

	s.wg.Add(1)
	go s.pace(ctx, cams)
	return nil
}

func (s *CameraServer) loadClips(ctx context.Context) ([]*cameraClip, error) {
	if err := os.MkdirAll(s.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("camera: cache dir: %w", err)
	}
	gen := &clipGenerator{ffmpeg: s.FFmpeg, dir: s.CacheDir, logger: s.logger}
	font := gen.textFont(ctx)
	specs := make([]clipSpec, len(s.Windows))
	for i, w := range s.Windows {
		specs[i] = clipSpec{
			Version: clipFormatVersion, Window: w,
			Width: s.Width, Height: s.Height, FPS: s.FPS,
			GOPFrames: s.frames(s.GOP), Frames: s.frames(s.Loop),
			Bitrate: clipBitrate, Font: font,
		}
	}
	paths, err := gen.generateAll(ctx, specs)
	if err != nil {
		return nil, fmt.Errorf("camera: generate clips: %w", err)
	}

	clips := make([]*cameraClip, len(paths))
	for i, p := range paths {
		buf, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("camera: read clip: %w", err)
		}
		if clips[i], err = parseClip(buf); err != nil {
			return nil, fmt.Errorf("camera: clip %s: %w", p, err)
		}
	}
	return clips, nil
}

// Close stops the cameras and the RTSP server, and waits for both.
func (s *CameraServer) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()

	s.mu.Lock()
	cams := s.cameras
	s.cameras = nil
	s.mu.Unlock()
	// Streams before the server, as in gortsplib's examples.
	for _, c := range cams {
		c.stream.Close()
	}
	if s.server != nil {
		s.server.Close()
		s.server = nil
	}
}

// URL returns the address a reader plays window from.
func (s *CameraServer) URL(window string) string {
	u := url.URL{Scheme: "rtsp", Host: s.addr, Path: cameraPath(window)}
	return u.String()
}

// cameraDialAddr turns a listen address into one a local reader can dial:
// a server bound to every interface is reached on loopback.
func cameraDialAddr(addr net.Addr) string {
	if a, ok := addr.(*net.TCPAddr); ok && a.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port))
	}
	return addr.String()
}

func cameraPath(window string) string {
	return "/window/" + window
}

// camera returns the camera served at an RTSP path, or nil.
func (s *CameraServer) camera(path string) *camera {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cameras[path]
}
