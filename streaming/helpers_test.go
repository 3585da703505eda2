package streaming

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
	"github.com/sunlight-gov/sunlight/internal/whepclient"
)

// testdataDir holds files generated for this test run; TestMain removes it.
var testdataDir string

const (
	testFPS      = 15
	testGOP      = 30 // frames: 2 s
	testDuration = 6  // seconds of video generated
	frameTicks   = media.ClockRate / testFPS
	frameDur     = time.Second / testFPS
)

var (
	h264Once  sync.Once
	h264Units []*media.Unit
	h264Err   error
)

// requireFFmpeg skips the test when ffmpeg is missing, unless in CI.
func requireFFmpeg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("ffmpeg is required in CI: %v", err)
		}
		tb.Skip("ffmpeg not installed")
	}
}

// cameraUnits returns 6 s of real H.264 (640x360, 15 fps, baseline, an
// IDR every 2 s) as access units, generated once per run by ffmpeg. The
// units carry SPS/PPS in band before every IDR, as ffmpeg wrote them.
func cameraUnits(tb testing.TB) []*media.Unit {
	tb.Helper()
	requireFFmpeg(tb)
	h264Once.Do(func() {
		out := filepath.Join(testdataDir, "camera.h264")
		cmd := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi",
			"-i", "testsrc2=size=640x360:rate=15", "-t", "6",
			"-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", "30",
			"-x264-params", "repeat-headers=1", "-f", "h264", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			h264Err = err
			tb.Logf("ffmpeg: %s", b)
			return
		}
		data, err := os.ReadFile(out)
		if err != nil {
			h264Err = err
			return
		}
		for i, au := range splitAccessUnits(splitAnnexB(data)) {
			h264Units = append(h264Units, &media.Unit{
				PTS: int64(i) * frameTicks,
				AU:  au,
				IDR: isRandomAccess(media.H264, au),
			})
		}
	})
	require.NoError(tb, h264Err)
	require.Len(tb, h264Units, testFPS*testDuration)
	return h264Units
}

// cameraTrack returns the track of cameraUnits, with its SPS and PPS.
func cameraTrack(tb testing.TB) media.Track {
	units := cameraUnits(tb)
	_, sps, pps := parameterSets(media.H264, units[0].AU)
	return media.Track{Codec: media.H264, ClockRate: media.ClockRate, SPS: sps, PPS: pps}
}

// withoutParameterSets returns a unit without its SPS and PPS, as from a
// camera that sends them only in the SDP.
func withoutParameterSets(u *media.Unit) *media.Unit {
	nu := *u
	nu.AU = nil
	for _, n := range u.AU {
		if t := h264Type(n); t != h264NALSPS && t != h264NALPPS {
			nu.AU = append(nu.AU, n)
		}
	}
	return &nu
}

// splitAnnexB splits an Annex-B byte stream into NAL units.
func splitAnnexB(b []byte) [][]byte {
	var nalus [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 {
					end--
				}
				nalus = append(nalus, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		nalus = append(nalus, b[start:])
	}
	return nalus
}

// splitAccessUnits groups H.264 NAL units into access units: a new one
// starts at a non-VCL unit (SEI, SPS, PPS, AUD) after a slice, or at a
// slice whose first_mb_in_slice is 0 after a slice.
func splitAccessUnits(nalus [][]byte) [][][]byte {
	return groupAccessUnits(nalus, 1, func(n []byte) (bool, bool) {
		t := h264Type(n)
		vcl := t >= 1 && t <= 5
		return vcl, (!vcl && (t == 6 || t == 7 || t == 8 || t == 9)) || (vcl && len(n) > 1 && n[1]&0x80 != 0)
	})
}

// groupAccessUnits groups NAL units (those of at least minLen bytes) into
// access units: classify says whether a unit is a slice and whether it
// starts a new access unit when it follows a slice.
func groupAccessUnits(nalus [][]byte, minLen int, classify func(n []byte) (vcl, startsAU bool)) [][][]byte {
	var aus [][][]byte
	var cur [][]byte
	hasSlice := false
	for _, n := range nalus {
		if len(n) < minLen {
			continue
		}
		vcl, starts := classify(n)
		if hasSlice && starts {
			aus = append(aus, cur)
			cur, hasSlice = nil, false
		}
		cur = append(cur, n)
		if vcl {
			hasSlice = true
		}
	}
	if len(cur) > 0 {
		aus = append(aus, cur)
	}
	return aus
}

// publisher writes units to a stream in real time, looping, with PTS
// continuing across loops; like ingest does for a camera.
type publisher struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	writes map[int64]time.Time // PTS -> when written, for latency
}

// startPublisher feeds s in real time with units, looping. With strip, the
// units lose their in-band SPS/PPS.
func startPublisher(tb testing.TB, s *Stream, units []*media.Unit, strip bool) *publisher {
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{cancel: cancel, done: make(chan struct{}), writes: map[int64]time.Time{}}
	go func() {
		defer close(p.done)
		start := time.Now()
		for i := 0; ; i++ {
			u := *units[i%len(units)]
			if strip {
				u = *withoutParameterSets(&u)
			}
			u.PTS = int64(i) * frameTicks
			if d := time.Until(start.Add(time.Duration(i) * frameDur)); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
			if ctx.Err() != nil {
				return
			}
			p.mu.Lock()
			p.writes[u.PTS] = time.Now()
			p.mu.Unlock()
			s.WriteVideo(&u)
		}
	}()
	tb.Cleanup(p.stop)
	return p
}

func (p *publisher) stop() {
	p.cancel()
	<-p.done
}

func (p *publisher) writtenAt(pts int64) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.writes[pts]
	return t, ok
}

// whepClient is the shared WHEP viewer (whepclient) signalled in
// process through srv.NewSession, with the browser's audio offer; its
// Location is the session id.
type whepClient struct {
	*whepclient.Client
	audioPkts chan *rtp.Packet
}

type clientOptions struct {
	answerFilter func(string) string // rewrites the answer
	rtx          bool                // offer RTX
}

// newClientPeer builds a browser-like receiving peer and its offer.
func newClientPeer(tb testing.TB) (*webrtc.PeerConnection, string) {
	tb.Helper()
	pc, offer, err := whepclient.NewPeer(whepclient.Options{Audio: true})
	require.NoError(tb, err)
	return pc, offer
}

// dialWHEP connects a client to a stream through srv.NewSession.
func dialWHEP(tb testing.TB, srv *WebRTCServer, streamID string, opts clientOptions) (*whepClient, error) {
	tb.Helper()
	audio := make(chan *rtp.Packet, 4096)
	c, err := whepclient.Dial(context.Background(), "", whepclient.Options{
		Signal: func(ctx context.Context, offer string) (string, string, error) {
			id, answer, err := srv.NewSession(ctx, streamID, offer)
			return answer, id, err
		},
		AnswerFilter: opts.answerFilter,
		RTX:          opts.rtx,
		Audio:        true,
		OnAudio: func(p *rtp.Packet) {
			select {
			case audio <- p:
			default:
			}
		},
		Queue: 4096,
	})
	if err != nil {
		return nil, err
	}
	tb.Cleanup(c.Close)
	return &whepClient{Client: c, audioPkts: audio}, nil
}

// waitAU returns the next complete access unit (a unit that lost a
// packet is skipped, as a decoder would drop it) or fails after timeout.
func (c *whepClient) waitAU(tb testing.TB, timeout time.Duration) whepclient.AU {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case au := <-c.Units():
			if au.Complete {
				return au
			}
		case <-deadline:
			tb.Fatalf("no access unit within %s", timeout)
			return whepclient.AU{}
		}
	}
}

// sendPLI asks the server for a keyframe, as a browser does.
func (c *whepClient) sendPLI(tb testing.TB) {
	tb.Helper()
	require.Eventually(tb, func() bool { return c.PLI() == nil }, 5*time.Second, 10*time.Millisecond, "no video track")
}

// testLogger logs warnings (everything with STREAMING_DEBUG=1) to stderr.
func testLogger(tb testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("STREAMING_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// testServer starts a WebRTCServer on a free port with the given streams.
func testServer(tb testing.TB, streams ...*Stream) (*WebRTCServer, *Registry) {
	tb.Helper()
	reg := &Registry{}
	for _, s := range streams {
		reg.Add(s)
	}
	srv := &WebRTCServer{Streams: reg, Logger: testLogger(tb)}
	require.NoError(tb, srv.Initialize())
	tb.Cleanup(srv.Close)
	return srv, reg
}
