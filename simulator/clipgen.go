package simulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// ErrFFmpegNotFound is returned when no ffmpeg binary can be run.
var ErrFFmpegNotFound = errors.New("ffmpeg not found (install it with `apt-get install ffmpeg`)")

// clipFormatVersion is part of every cache key: bump it whenever the ffmpeg
// arguments change so that stale clips are not reused.
const clipFormatVersion = 1

// clipBitrate is about what a 360p surveillance camera sends.
const clipBitrate = "1M"

// clipFontCandidates are tried in order; the first is in fonts-dejavu-core,
// which Debian's ffmpeg package pulls in.
var clipFontCandidates = []string{
	"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
	"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
	"/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
	"/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
}

// clipSpec holds everything that decides a clip's bytes, so its hash is the
// cache key.
type clipSpec struct {
	Version   int
	Window    string
	Width     int
	Height    int
	FPS       int
	GOPFrames int
	Frames    int
	Bitrate   string
	Font      string // empty: no text overlay
}

func (c clipSpec) fileName() string {
	b, _ := json.Marshal(c) // a struct of strings and ints always marshals
	sum := sha256.Sum256(b)
	return "camera-" + c.Window + "-" + hex.EncodeToString(sum[:8]) + ".h264"
}

// filter draws the window id in big letters and the clip's running time, so
// a viewer can tell cameras apart and see that the picture moves.
func (c clipSpec) filter() string {
	if c.Font == "" {
		return ""
	}
	big, small := c.Height/6, c.Height/9
	common := "fontfile=" + c.Font + ":fontcolor=white:box=1:boxcolor=black@0.6:x=(w-text_w)/2"
	return fmt.Sprintf("drawtext=%s:text=window %s:fontsize=%d:boxborderw=%d:y=h/2-text_h-%d,"+
		// `\\\:` reaches drawtext as `\:` after the filter graph unescapes once.
		`drawtext=%s:text=%%{pts\\\:hms}:fontsize=%d:boxborderw=%d:y=h/2+%d`,
		common, c.Window, big, big/6, big/6, common, small, small/6, small/4)
}

func (c clipSpec) args(out string) []string {
	gop := strconv.Itoa(c.GOPFrames)
	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", c.Width, c.Height, c.FPS),
	}
	if f := c.filter(); f != "" {
		args = append(args, "-vf", f)
	}
	return append(args,
		"-frames:v", strconv.Itoa(c.Frames),
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
		// browsers' WebRTC stacks only promise constrained baseline.
		"-profile:v", "baseline", "-pix_fmt", "yuv420p", "-bf", "0",
		"-b:v", c.Bitrate, "-maxrate", c.Bitrate, "-bufsize", c.Bitrate,
		"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
		// SPS/PPS before every IDR let a viewer start at any keyframe.
		"-x264-params", "keyint="+gop+":min-keyint="+gop+":scenecut=0:repeat-headers=1",
		"-f", "h264", out,
	)
}

// clipGenerator renders clips with ffmpeg into a cache directory.
type clipGenerator struct {
	ffmpeg string
	dir    string
	logger *slog.Logger
}

// textFont returns the font for the overlay, or "" when ffmpeg lacks
// drawtext or no font is installed: a camera without text still works.
func (g *clipGenerator) textFont(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, g.ffmpeg, "-hide_banner", "-filters").Output()
	if err != nil || !bytes.Contains(out, []byte(" drawtext ")) {
		g.logger.Warn("ffmpeg has no drawtext filter, cameras will show no window id", "error", err)
		return ""
	}
	for _, f := range clipFontCandidates {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	g.logger.Warn("no font found, cameras will show no window id (apt-get install fonts-dejavu-core)",
		"tried", clipFontCandidates)
	return ""
}

// generateAll returns the cached clip file of every spec, rendering missing
// ones in parallel, at most one ffmpeg per CPU.
func (g *clipGenerator) generateAll(ctx context.Context, specs []clipSpec) ([]string, error) {
	paths := make([]string, len(specs))
	errs := make([]error, len(specs))
	sem := make(chan struct{}, runtime.NumCPU())
	var wg sync.WaitGroup
	for i, spec := range specs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			paths[i], errs[i] = g.generate(ctx, spec)
		})
	}
	wg.Wait()
	return paths, errors.Join(errs...)
}

func (g *clipGenerator) generate(ctx context.Context, spec clipSpec) (string, error) {
	path := filepath.Join(g.dir, spec.fileName())
	if _, err := os.Stat(path); err == nil {
		g.logger.Debug("reusing cached clip", "window", spec.Window, "path", path)
		return path, nil
	}

	// ffmpeg writes to a temporary name: a crash or a cancel must never
	// leave a truncated file under the cache key.
	tmp, err := os.CreateTemp(g.dir, "camera-*.h264.tmp")
	if err != nil {
		return "", fmt.Errorf("window %s: create temp clip: %w", spec.Window, err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name()) // no-op after the rename

	start := time.Now()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, g.ffmpeg, spec.args(tmp.Name())...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("window %s: ffmpeg: %w: %s", spec.Window, err, clipTail(stderr.Bytes(), 1024))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("window %s: store clip: %w", spec.Window, err)
	}
	g.logger.Info("generated clip", "window", spec.Window, "path", path,
		"took", time.Since(start).Round(time.Millisecond))
	return path, nil
}

// clipTail keeps the end of ffmpeg's stderr, where the reason for a failure is.
func clipTail(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("..."), b[len(b)-n:]...)
	}
	return string(b)
}
