package simulator

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Small and fast, but with a loop boundary every 2 s and an IDR every 1 s.
const (
	testCamWidth  = 320
	testCamHeight = 240
	testCamFPS    = 15
	testCamGOP    = time.Second
	testCamLoop   = 2 * time.Second
)

func requireFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH (apt-get install ffmpeg)")
	}
}

func startTestCameras(t *testing.T, windows ...string) *CameraServer {
	t.Helper()
	requireFFmpeg(t)
	s := &CameraServer{
		Address:  "127.0.0.1:0",
		Windows:  windows,
		CacheDir: t.TempDir(),
		Width:    testCamWidth,
		Height:   testCamHeight,
		FPS:      testCamFPS,
		GOP:      testCamGOP,
		Loop:     testCamLoop,
		Logger:   slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if err := s.Initialize(); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestCameraServer(t *testing.T) {
	s := startTestCameras(t, "A01", "B02")

	for _, w := range s.Windows {
		t.Run("read "+w+" across a loop boundary", func(t *testing.T) {
			t.Parallel()
			testCameraRead(t, s.URL(w))
		})
	}

	t.Run("ffprobe", func(t *testing.T) {
		t.Parallel()
		testCameraFFprobe(t, s.URL("B02"))
	})

	for _, path := range []string{"/window/nope", "/window", "/other", "/window/A01x"} {
		t.Run("404 "+path, func(t *testing.T) {
			t.Parallel()
			u := &base.URL{Scheme: "rtsp", Host: s.addr, Path: path}
			c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
			if err := c.Start2(); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _, err := c.Describe(u)
			var bad liberrors.ErrClientBadStatusCode
			if !errors.As(err, &bad) || bad.Code != base.StatusNotFound {
				t.Fatalf("DESCRIBE %s: got %v, want 404 Not Found", path, err)
			}
		})
	}
}

type testFrame struct {
	au  [][]byte
	ts  uint32
	pts int64
}

// testCameraRead plays a camera with gortsplib's client and checks what a
// decoder needs: parameter sets, keyframes, and a timeline that never resets.
func testCameraRead(t *testing.T, rawURL string) {
	u, err := base.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.TransportTCP
	c := gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp}
	if err := c.Start2(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatalf("DESCRIBE: %v", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		t.Fatal("no H.264 media in the SDP")
	}
	testCameraCheckSPS(t, forma.SPS)
	if forma.PPS == nil || forma.PacketizationMode != 1 {
		t.Fatalf("SDP: PPS %x, packetization mode %d", forma.PPS, forma.PacketizationMode)
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		t.Fatalf("SETUP: %v", err)
	}

	frames := make(chan testFrame, 1024)
	decodeErr := make(chan error, 1)
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		pts, ok := c.PacketPTS2(medi, pkt)
		au, err := dec.Decode(pkt)
		switch {
		case errors.Is(err, rtph264.ErrMorePacketsNeeded), errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious):
			return
		case err == nil && !ok:
			// No PTS before the first IDR; a gap after it fails the step check.
			return
		case err != nil:
			select {
			case decodeErr <- err:
			default:
			}
			return
		}
		select {
		case frames <- testFrame{au: au, ts: pkt.Timestamp, pts: pts}:
		default: // the test stopped reading; never block the client
		}
	})
	if _, err := c.Play(nil); err != nil {
		t.Fatalf("PLAY: %v", err)
	}

	loopFrames := int(testCamLoop * testCamFPS / time.Second)
	gopFrames := int(testCamGOP * testCamFPS / time.Second)
	const step = 90000 / testCamFPS

	// From the first IDR on, more than a whole loop plus a GOP: at least one
	// loop boundary lies inside, wherever the reader joined.
	want := loopFrames + gopFrames + 2
	var got []testFrame
	timeout := time.After(testCamLoop + 2*testCamGOP + 10*time.Second)
	for len(got) < want {
		select {
		case f := <-frames:
			if len(got) == 0 && !h264.IsRandomAccess(f.au) {
				continue
			}
			got = append(got, f)
		case err := <-decodeErr:
			t.Fatalf("decode RTP: %v", err)
		case <-timeout:
			t.Fatalf("got %d frames after the first IDR, want %d", len(got), want)
		}
	}

	lastIDR := -1
	for i, f := range got {
		if h264.IsRandomAccess(f.au) {
			testCameraCheckIDR(t, i, f.au)
			if lastIDR >= 0 && i-lastIDR != gopFrames {
				t.Errorf("IDR at frames %d and %d, want one every %d frames", lastIDR, i, gopFrames)
			}
			lastIDR = i
		}
		if i == 0 {
			continue
		}
		prev := got[i-1]
		if d := f.ts - prev.ts; d != step {
			t.Errorf("frame %d: RTP timestamp %d after %d (step %d, want %d)", i, f.ts, prev.ts, int32(d), step)
		}
		if f.pts <= prev.pts {
			t.Errorf("frame %d: PTS %d does not increase from %d", i, f.pts, prev.pts)
		}
	}
	if lastIDR <= 0 {
		t.Errorf("saw a single IDR in %d frames", len(got))
	}
}

func testCameraCheckSPS(t *testing.T, buf []byte) {
	t.Helper()
	var sps h264.SPS
	if err := sps.Unmarshal(buf); err != nil {
		t.Fatalf("SPS: %v", err)
	}
	if sps.Width() != testCamWidth || sps.Height() != testCamHeight {
		t.Errorf("SPS size %dx%d, want %dx%d", sps.Width(), sps.Height(), testCamWidth, testCamHeight)
	}
	// constrained baseline: profile 66 with constraint_set1
	if sps.ProfileIdc != 66 || !sps.ConstraintSet1Flag {
		t.Errorf("SPS profile %d (constraint_set1 %v), want constrained baseline", sps.ProfileIdc, sps.ConstraintSet1Flag)
	}
}

// testCameraCheckIDR checks that an IDR carries its own SPS and PPS, so a
// reader that joins at any keyframe can decode.
func testCameraCheckIDR(t *testing.T, i int, au [][]byte) {
	t.Helper()
	has := map[h264.NALUType]bool{}
	for _, nalu := range au {
		has[h264.NALUType(nalu[0]&0x1F)] = true
	}
	for _, typ := range []h264.NALUType{h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypeIDR} {
		if !has[typ] {
			t.Errorf("IDR frame %d has no %v", i, typ)
		}
	}
}

func testCameraFFprobe(t *testing.T, url string) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not on PATH (apt-get install ffmpeg)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
		"-show_streams", "-of", "json", url).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", url, err)
	}
	var probe struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Profile   string `json:"profile"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	if len(probe.Streams) != 1 {
		t.Fatalf("ffprobe found %d streams, want 1: %s", len(probe.Streams), out)
	}
	st := probe.Streams[0]
	if st.CodecName != "h264" || st.Width != testCamWidth || st.Height != testCamHeight {
		t.Errorf("ffprobe: %s %dx%d, want h264 %dx%d", st.CodecName, st.Width, st.Height, testCamWidth, testCamHeight)
	}
}

func TestCameraConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    *CameraServer
		is   error
	}{
		{name: "no cache dir", s: &CameraServer{Windows: []string{"A"}}},
		{name: "no windows", s: &CameraServer{CacheDir: t.TempDir()}},
		{name: "bad window id", s: &CameraServer{CacheDir: t.TempDir(), Windows: []string{"a/b"}}},
		{name: "duplicate window", s: &CameraServer{CacheDir: t.TempDir(), Windows: []string{"A", "A"}}},
		{name: "negative width", s: &CameraServer{CacheDir: t.TempDir(), Windows: []string{"A"}, Width: -320, Height: 240}},
		{name: "GOP under a frame", s: &CameraServer{CacheDir: t.TempDir(), Windows: []string{"A"}, GOP: time.Millisecond}},
		{
			name: "ffmpeg missing",
			s:    &CameraServer{CacheDir: t.TempDir(), Windows: []string{"A"}, FFmpeg: "/nonexistent/ffmpeg"},
			is:   ErrFFmpegNotFound,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Initialize()
			if err == nil {
				tc.s.Close()
				t.Fatal("Initialize succeeded, want an error")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("got %v, want %v", err, tc.is)
			}
		})
	}
}

func TestCameraDialAddr(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"0.0.0.0:8554", "127.0.0.1:8554"},
		{"[::]:8554", "127.0.0.1:8554"},
		{"127.0.0.2:8554", "127.0.0.2:8554"},
		{"[::1]:8554", "[::1]:8554"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			if got := cameraDialAddr(a); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
