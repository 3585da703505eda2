package streaming

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// recClip is a short clip encoded by ffmpeg for the recorder's tests.
type recClip struct {
	codec media.Codec
	raw   string // the elementary stream file
	units []*media.Unit
}

var (
	recClipsMu sync.Mutex
	recClips   = map[string]*recClip{}
)

// recordClip encodes seconds of testsrc2 at 15 fps with an IDR every
// second (no B-frames, parameter sets before every IDR) and splits it
// into access units; once per run for each size and codec.
func recordClip(tb testing.TB, codec media.Codec, size string, seconds int) *recClip {
	tb.Helper()
	requireFFmpeg(tb)
	key := string(codec) + size + strconv.Itoa(seconds)
	recClipsMu.Lock()
	defer recClipsMu.Unlock()
	if c, ok := recClips[key]; ok {
		return c
	}
	c := &recClip{codec: codec}
	args := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc2=size=" + size + ":rate=15",
		"-t", strconv.Itoa(seconds), "-pix_fmt", "yuv420p"}
	if codec == media.H265 {
		c.raw = filepath.Join(testdataDir, "rec-"+size+"-"+strconv.Itoa(seconds)+"s.h265")
		args = append(args, "-c:v", "libx265",
			"-x265-params", "keyint=15:min-keyint=15:scenecut=0:bframes=0:repeat-headers=1:log-level=error",
			"-f", "hevc", c.raw)
	} else {
		c.raw = filepath.Join(testdataDir, "rec-"+size+"-"+strconv.Itoa(seconds)+"s.h264")
		args = append(args, "-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "15",
			"-x264-params", "repeat-headers=1", "-f", "h264", c.raw)
	}
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		if codec == media.H265 {
			tb.Skipf("no H.265 encoder: %v: %s", err, b)
		}
		tb.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(c.raw)
	require.NoError(tb, err)
	var aus [][][]byte
	if codec == media.H265 {
		aus = splitAccessUnitsH265(splitAnnexB(data))
	} else {
		aus = splitAccessUnits(splitAnnexB(data))
	}
	for i, au := range aus {
		c.units = append(c.units, &media.Unit{PTS: int64(i) * frameTicks, AU: au, IDR: isRandomAccess(codec, au)})
	}
	require.Len(tb, c.units, 15*seconds)
	require.True(tb, c.units[0].IDR)
	recClips[key] = c
	return c
}

// splitAccessUnitsH265 groups H.265 NAL units into access units: a new
// one starts at a VPS, SPS, PPS, AUD or prefix SEI after a slice, or at a
// slice with first_slice_segment_in_pic_flag after a slice.
func splitAccessUnitsH265(nalus [][]byte) [][][]byte {
	return groupAccessUnits(nalus, 2, func(n []byte) (bool, bool) {
		t := h265Type(n)
		vcl := t < 32
		return vcl, (!vcl && (t >= 32 && t <= 35 || t == 39)) || (vcl && len(n) > 2 && n[2]&0x80 != 0)
	})
}

// recClock is the wall clock of the camera in the tests.
var recEpoch = time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)

// recFeedFirst writes the first frame of units and waits until the
// recorder has it: a reader's first Next hands out the newest cached GOP
// and empties its queue, so a test that wrote several GOPs before the
// recorder's goroutine ran would lose the first ones.
func recFeedFirst(tb testing.TB, r *Recorder, s *Stream, units []*media.Unit) {
	tb.Helper()
	recFeed(s, units, 0, 1, nil)
	recWaitReceived(tb, r, 1)
}

// recFeed writes units[from:to] (looping) to s, with PTS and NTP
// continuing from their index; mutate may change a unit before.
func recFeed(s *Stream, units []*media.Unit, from, to int, mutate func(i int, u *media.Unit)) {
	for i := from; i < to; i++ {
		u := *units[i%len(units)]
		u.PTS = int64(i) * frameTicks
		u.NTP = recEpoch.Add(ticksToDuration(u.PTS))
		if mutate != nil {
			mutate(i, &u)
		}
		s.WriteVideo(&u)
	}
}

// recSegmentLog collects what OnSegment reports.
type recSegmentLog struct {
	mu    sync.Mutex
	calls []SegmentInfo
}

func (l *recSegmentLog) add(info SegmentInfo) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, info)
}

// closed returns the segments reported as ended, in order.
func (l *recSegmentLog) closed() []SegmentInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []SegmentInfo
	for _, c := range l.calls {
		if c.Closed || c.Frames > 0 {
			out = append(out, c)
		}
	}
	return out
}

// recStart records s into dir.
func recStart(tb testing.TB, s *Stream, dir string, configure func(*Recorder)) (*Recorder, *recSegmentLog) {
	tb.Helper()
	log := &recSegmentLog{}
	r := &Recorder{
		Stream:          s,
		Dir:             dir,
		SegmentDuration: 2 * time.Second,
		Logger:          testLogger(tb),
		OnSegment:       log.add,
	}
	if configure != nil {
		configure(r)
	}
	require.NoError(tb, r.Initialize())
	tb.Cleanup(r.Close)
	return r, log
}

// recWaitReceived waits until the recorder has taken n frames from its
// stream.
func recWaitReceived(tb testing.TB, r *Recorder, n uint64) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Received < n {
		if time.Now().After(deadline) {
			tb.Fatalf("the recorder received %d frames, want %d (stats %+v)", r.Stats().Received, n, r.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// recProbeResult is what ffprobe says of a file.
type recProbeResult struct {
	Codec    string
	Width    int
	Height   int
	Frames   int
	Duration time.Duration
}

func recProbe(tb testing.TB, path string) recProbeResult {
	tb.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration",
		"-of", "json", path).Output()
	require.NoError(tb, err, "ffprobe %s: %s", path, recErrOutput(err))
	var res struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	require.NoError(tb, json.Unmarshal(out, &res), "%s", out)
	require.Len(tb, res.Streams, 1, "%s", out)
	st := res.Streams[0]
	p := recProbeResult{Codec: st.CodecName, Width: st.Width, Height: st.Height}
	p.Frames, err = strconv.Atoi(st.NbReadFrames)
	require.NoError(tb, err, "%s", out)
	sec, err := strconv.ParseFloat(res.Format.Duration, 64)
	require.NoError(tb, err, "%s", out)
	p.Duration = time.Duration(sec * float64(time.Second))
	return p
}

func recErrOutput(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// recDecodeErrors decodes a file with ffmpeg and returns what it complains
// about.
func recDecodeErrors(tb testing.TB, path string) string {
	tb.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		return err.Error() + ": " + stderr.String()
	}
	return stderr.String()
}

// recFrameMD5s returns the MD5 of every decoded frame of a file; opts go
// to ffmpeg before the output (say, "-autoscale", "0" to keep each
// frame's own picture size).
func recFrameMD5s(tb testing.TB, path string, opts ...string) []string {
	tb.Helper()
	args := append([]string{"-v", "error", "-i", path}, opts...)
	out, err := exec.Command("ffmpeg", append(args, "-f", "framemd5", "-")...).Output()
	require.NoError(tb, err, "ffmpeg framemd5 %s: %s", path, recErrOutput(err))
	var sums []string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		sums = append(sums, strings.TrimSpace(f[len(f)-1]))
	}
	return sums
}

// recRequirePlays checks a segment with ffprobe and ffmpeg against
// what the recorder says of it.
func recRequirePlays(tb testing.TB, info SegmentInfo) recProbeResult {
	tb.Helper()
	p := recProbe(tb, info.Path)
	require.Equal(tb, info.Frames, p.Frames, "%s", info.Path)
	require.Equal(tb, info.Width, p.Width)
	require.Equal(tb, info.Height, p.Height)
	require.InDelta(tb, info.Duration, p.Duration, float64(frameDur), "%s", info.Path)
	require.Empty(tb, recDecodeErrors(tb, info.Path), "%s", info.Path)
	return p
}

// recBox is a top-level box of a file.
type recBox struct {
	typ       string
	off, size int64
}

// recBoxes lists the top-level boxes of a file.
func recBoxes(tb testing.TB, path string) []recBox {
	tb.Helper()
	b, err := os.ReadFile(path)
	require.NoError(tb, err)
	var boxes []recBox
	for off := int64(0); off+8 <= int64(len(b)); {
		size := int64(binary.BigEndian.Uint32(b[off:]))
		require.GreaterOrEqual(tb, size, int64(8))
		boxes = append(boxes, recBox{typ: string(b[off+4 : off+8]), off: off, size: size})
		off += size
	}
	return boxes
}

// recCopyTruncated copies the first n bytes of src to dst.
func recCopyTruncated(tb testing.TB, src, dst string, n int64) {
	tb.Helper()
	b, err := os.ReadFile(src)
	require.NoError(tb, err)
	require.NoError(tb, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(tb, os.WriteFile(dst, b[:min(n, int64(len(b)))], 0o644))
}
