package ingest_test

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/media"
	"github.com/sunlight-gov/sunlight/simulator"
)

// testClipCache is shared by every simulator of the test binary, so each
// clip is rendered by ffmpeg once.
var testClipCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sunlight-ingest-camera-")
	if err != nil {
		panic(err)
	}
	testClipCache = dir
	code := func() int {
		defer os.RemoveAll(dir)
		// goleak.VerifyTestMain would exit before the clean-up
		code := m.Run()
		if code == 0 {
			if err := goleak.Find(); err != nil {
				os.Stderr.WriteString("goleak: " + err.Error() + "\n")
				return 1
			}
		}
		return code
	}()
	os.Exit(code)
}

const (
	simWidth  = 320
	simHeight = 240
	simFPS    = 15
)

func requireFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH (apt-get install ffmpeg)")
	}
}

// startSimulator serves simulated H.264 cameras at addr ("127.0.0.1:0"
// for any port).
func startSimulator(t *testing.T, addr string, gop time.Duration, windows ...string) *simulator.CameraServer {
	t.Helper()
	requireFFmpeg(t)
	s := &simulator.CameraServer{
		Address: addr, Windows: windows, CacheDir: testClipCache,
		Width: simWidth, Height: simHeight, FPS: simFPS,
		GOP: gop, Loop: max(4*time.Second, 2*gop),
	}
	if err := s.Initialize(); err != nil {
		t.Fatalf("simulator: %v", err)
	}
	t.Cleanup(s.Close) // Close twice is fine
	return s
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testSink records what a camera hands over. It never blocks the camera.
type testSink struct {
	units    chan *media.Unit
	audio    chan *media.Unit
	overflow atomic.Bool

	mu          sync.Mutex // guards the fields below
	tracks      []media.Track
	audioTracks []media.Track
}

func newTestSink() *testSink {
	return &testSink{units: make(chan *media.Unit, 4096), audio: make(chan *media.Unit, 4096)}
}

func (s *testSink) SetVideoTrack(t media.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tracks = append(s.tracks, t)
}

func (s *testSink) WriteVideo(u *media.Unit) {
	select {
	case s.units <- u:
	default:
		s.overflow.Store(true)
	}
}

func (s *testSink) SetAudioTrack(t media.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audioTracks = append(s.audioTracks, t)
}

func (s *testSink) WriteAudio(u *media.Unit) {
	select {
	case s.audio <- u:
	default:
		s.overflow.Store(true)
	}
}

func (s *testSink) lastTrack() media.Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tracks) == 0 {
		return media.Track{}
	}
	return s.tracks[len(s.tracks)-1]
}

func (s *testSink) trackCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tracks)
}

// next returns the next unit from ch, failing after timeout.
func next(t *testing.T, ch chan *media.Unit, timeout time.Duration) *media.Unit {
	t.Helper()
	select {
	case u := <-ch:
		return u
	case <-time.After(timeout):
		t.Fatalf("no unit within %v", timeout)
		return nil
	}
}

// drain empties ch.
func drain(ch chan *media.Unit) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitState polls the camera until cond holds, failing after timeout.
func waitState(t *testing.T, state func() ingest.CameraState, timeout time.Duration, what string, cond func(ingest.CameraState) bool) ingest.CameraState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := state()
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("camera not %s within %v: %+v", what, timeout, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func isOnline(st ingest.CameraState) bool  { return st.State == ingest.CameraOnline }
func isOffline(st ingest.CameraState) bool { return st.State == ingest.CameraOffline }

func startCamera(t *testing.T, cam *ingest.Camera) *ingest.Camera {
	t.Helper()
	if cam.Logger == nil {
		cam.Logger = testLogger(t)
	}
	require.NoError(t, cam.Initialize())
	t.Cleanup(cam.Close)
	return cam
}

func h264Has(au [][]byte, typ h264.NALUType) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1F) == typ {
			return true
		}
	}
	return false
}

// TestCameraH264 plays the simulator over TCP and with auto transport
// (the simulator refuses UDP: auto must fall back to TCP at once).
func TestCameraH264(t *testing.T) {
	sim := startSimulator(t, "127.0.0.1:0", time.Second, "A01", "A02")

	for _, tc := range []struct{ window, transport string }{
		{"A01", ingest.TransportTCP},
		{"A02", ingest.TransportAuto},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			t.Parallel()
			sink := newTestSink()
			start := time.Now()
			cam := startCamera(t, &ingest.Camera{ID: tc.window, URL: sim.URL(tc.window), Transport: tc.transport, Sink: sink})

			st := waitState(t, cam.State, 5*time.Second, "online", isOnline)
			online := time.Since(start)
			first := next(t, sink.units, 3*time.Second)
			t.Logf("transport %s: online after %v, first unit after %v", tc.transport,
				online.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			if tc.transport == ingest.TransportAuto {
				require.Less(t, online, 3*time.Second, "auto transport fell back to TCP too slowly")
			}

			require.Equal(t, ingest.TransportTCP, st.Transport)
			require.Equal(t, "H264", st.Codec)
			require.Equal(t, simWidth, st.Width)
			require.Equal(t, simHeight, st.Height)
			require.Zero(t, st.Reconnects)

			// The first unit starts the timeline and, since gortsplib has no
			// PTS before one, is an IDR.
			require.True(t, first.Discontinuity, "first unit after connecting must be a discontinuity")
			require.True(t, first.IDR)
			require.True(t, h264Has(first.AU, h264.NALUTypeIDR))
			track := sink.lastTrack()
			require.Equal(t, media.H264, track.Codec)
			require.Equal(t, media.ClockRate, track.ClockRate)
			hasSPS := track.SPS != nil || h264Has(first.AU, h264.NALUTypeSPS)
			hasPPS := track.PPS != nil || h264Has(first.AU, h264.NALUTypePPS)
			require.True(t, hasSPS && hasPPS, "the first IDR has no SPS/PPS, neither in the track nor in band")
			var sps h264.SPS
			require.NoError(t, sps.Unmarshal(track.SPS))
			require.Equal(t, simWidth, sps.Width())
			require.Equal(t, simHeight, sps.Height())

			// Two GOPs: PTS rise by one frame each, IDRs come every GOP,
			// nothing else is a discontinuity.
			units := []*media.Unit{first}
			for len(units) < 2*simFPS+1 {
				units = append(units, next(t, sink.units, 2*time.Second))
			}
			idrs := 0
			for i, u := range units {
				require.NotZero(t, u.NTP)
				require.Nil(t, u.Payload)
				if u.IDR {
					idrs++
					require.True(t, h264Has(u.AU, h264.NALUTypeIDR))
				}
				if i == 0 {
					continue
				}
				require.False(t, u.Discontinuity, "unit %d", i)
				require.Greater(t, u.PTS, units[i-1].PTS, "PTS of unit %d does not increase", i)
				require.InDelta(t, media.ClockRate/simFPS, u.PTS-units[i-1].PTS, 1, "unit %d", i)
				require.False(t, u.NTP.Before(units[i-1].NTP), "NTP of unit %d goes back", i)
			}
			require.Equal(t, 3, idrs, "IDRs in 2 s + 1 frame of a 1 s GOP")
			require.Equal(t, 1, sink.trackCount(), "unchanged in-band SPS/PPS must not re-announce the track")
			require.False(t, sink.overflow.Load())
		})
	}
}

// TestCameraReconnect kills the camera, checks that the state says so,
// brings it back on the same port and measures how soon units flow again.
func TestCameraReconnect(t *testing.T) {
	sim := startSimulator(t, "127.0.0.1:0", time.Second, "A01")
	url := sim.URL("A01")
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "rtsp://"), "/window/A01")

	sink := newTestSink()
	cam := startCamera(t, &ingest.Camera{ID: "A01", URL: url, Transport: ingest.TransportTCP, Sink: sink})
	waitState(t, cam.State, 5*time.Second, "online", isOnline)
	next(t, sink.units, 3*time.Second)
	tracks := sink.trackCount()

	killed := time.Now()
	sim.Close()
	st := waitState(t, cam.State, 3*time.Second, "offline", isOffline)
	t.Logf("offline %v after the kill: %s", time.Since(killed).Round(time.Millisecond), st.LastError)
	require.Contains(t, st.LastError, "camera closed the connection")
	require.Zero(t, st.Reconnects)

	// Stay down long enough for the backoff to grow to its cap.
	time.Sleep(2 * time.Second)
	drain(sink.units)

	restarted := time.Now()
	startSimulator(t, addr, time.Second, "A01")
	serving := time.Now()
	st = waitState(t, cam.State, 5*time.Second, "online again", isOnline)
	onlineAfter := time.Since(serving)
	u := next(t, sink.units, 3*time.Second)
	unitAfter := time.Since(serving)
	t.Logf("restart: simulator up in %v; camera online %v and first unit %v after it served",
		serving.Sub(restarted).Round(time.Millisecond), onlineAfter.Round(time.Millisecond), unitAfter.Round(time.Millisecond))

	require.Less(t, unitAfter, 3*time.Second, "units did not flow within 3 s of the restart")
	require.True(t, u.Discontinuity, "first unit after a reconnect must be a discontinuity")
	require.True(t, u.IDR)
	require.Equal(t, 1, st.Reconnects)
	require.NotEmpty(t, st.LastError, "LastError tells why the camera last went offline")
	require.Greater(t, sink.trackCount(), tracks, "the track is announced again after a reconnect")
	require.False(t, next(t, sink.units, 2*time.Second).Discontinuity)
}

// TestCameraHealth runs cameras through a CameraSet with 1 s health
// intervals: one with a 1 s GOP, one with a 3 s GOP that must be flagged.
func TestCameraHealth(t *testing.T) {
	requireFFmpeg(t)
	for _, tc := range []struct {
		name    string
		gop     time.Duration
		tooLong bool
	}{
		{"1s GOP", time.Second, false},
		{"3s GOP", 3 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSimulator(t, "127.0.0.1:0", tc.gop, "H01")
			reg := prometheus.NewRegistry()
			metrics, err := ingest.NewCameraMetrics(reg)
			require.NoError(t, err)
			_, err = ingest.NewCameraMetrics(reg)
			require.Error(t, err, "registering twice on one registry must fail")

			reports := make(chan ingest.CameraHealth, 64)
			set := &ingest.CameraSet{
				Cameras:        []ingest.CameraSpec{{ID: "H01", URL: sim.URL("H01"), Transport: "tcp"}},
				Sink:           func(string) ingest.VideoSink { return newTestSink() },
				HealthInterval: time.Second,
				OnHealth: func(h ingest.CameraHealth) {
					select {
					case reports <- h:
					default:
					}
				},
				Metrics: metrics,
				Logger:  testLogger(t),
			}
			require.NoError(t, set.Initialize())
			defer set.Close()
			require.Equal(t, []string{"H01"}, set.IDs())
			_, ok := set.State("nope")
			require.False(t, ok)

			// Wait for a full online interval after two keyframes.
			var h ingest.CameraHealth
			deadline := time.After(2*tc.gop + 6*time.Second)
			wasOnline := false
			for {
				select {
				case h = <-reports:
				case <-deadline:
					t.Fatalf("no full health report; last %+v", h)
				}
				t.Logf("health %+v", h)
				require.Equal(t, "H01", h.Window)
				if h.State == ingest.CameraOnline && wasOnline && h.KeyframeInterval > 0 {
					break
				}
				wasOnline = h.State == ingest.CameraOnline
			}
			require.Greater(t, h.BitrateBps, 1000.0)
			require.Less(t, h.BitrateBps, 10e6)
			require.InDelta(t, simFPS, h.FPS, 0.2*simFPS)
			require.InDelta(t, tc.gop.Seconds(), h.KeyframeInterval.Seconds(), 0.1)
			require.Equal(t, tc.tooLong, h.KeyframeTooLong)
			require.GreaterOrEqual(t, h.JitterMs, 0.0)
			require.Less(t, h.JitterMs, 100.0)
			require.Zero(t, h.Lost)

			st, ok := set.State("H01")
			require.True(t, ok)
			require.Equal(t, ingest.CameraOnline, st.State)

			got := gatherGauges(t, reg, "H01")
			require.Equal(t, 1.0, got["sunlight_camera_up"])
			require.Greater(t, got["sunlight_camera_fps"], 0.0)
			require.Greater(t, got["sunlight_camera_bitrate_bps"], 0.0)
			require.InDelta(t, tc.gop.Seconds(), got["sunlight_camera_keyframe_interval_seconds"], 0.1)
			for _, name := range []string{
				"sunlight_camera_jitter_seconds", "sunlight_camera_rtp_lost_total",
				"sunlight_camera_rtp_reordered_total", "sunlight_camera_reconnects_total",
			} {
				_, ok := got[name]
				require.True(t, ok, "metric %s missing", name)
			}
		})
	}
}

// gatherGauges reads every sunlight_camera_* series of a window.
func gatherGauges(t *testing.T, reg *prometheus.Registry, window string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "window" && l.GetValue() == window {
					switch {
					case m.Gauge != nil:
						got[mf.GetName()] = m.GetGauge().GetValue()
					case m.Counter != nil:
						got[mf.GetName()] = m.GetCounter().GetValue()
					}
				}
			}
		}
	}
	return got
}

// TestCameraUnsupported checks that a camera without H.264 or H.265 goes
// offline with an error an installer understands.
func TestCameraUnsupported(t *testing.T) {
	for _, tc := range []struct {
		name   string
		medias []*description.Media
		want   string
	}{
		{
			"MJPEG",
			[]*description.Media{{Type: description.MediaTypeVideo, Formats: []format.Format{&format.MJPEG{}}}},
			"camera sends MJPEG; Sunlight needs H.264 or H.265",
		},
		{
			"G.711 only",
			[]*description.Media{{Type: description.MediaTypeAudio, Formats: []format.Format{
				&format.G711{PayloadTyp: 8, SampleRate: 8000, ChannelCount: 1},
			}}},
			"camera sends no video, only G.711 A-law; Sunlight needs H.264 or H.265",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := startFakeCamera(t, &fakeCamera{medias: tc.medias})
			cam := startCamera(t, &ingest.Camera{ID: "X01", URL: fc.url(), Sink: newTestSink()})
			st := waitState(t, cam.State, 5*time.Second, "offline", isOffline)
			require.Equal(t, tc.want, st.LastError)
		})
	}
}

// TestCameraH265WithAudio plays a fake H.265 camera with G.711 audio over
// each transport: IRAP frames are flagged, SEI passes, an in-band SPS
// change re-announces the track, audio reaches the AudioSink.
func TestCameraH265WithAudio(t *testing.T) {
	for _, tc := range []struct {
		name, transport, want string
		udp                   bool
	}{
		{"tcp", ingest.TransportTCP, ingest.TransportTCP, false},
		{"udp", ingest.TransportUDP, ingest.TransportUDP, true},
		{"auto with UDP", ingest.TransportAuto, ingest.TransportUDP, true},
		{"auto without UDP", ingest.TransportAuto, ingest.TransportTCP, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := newH265Camera(t, tc.udp)
			sink := newTestSink()
			cam := startCamera(t, &ingest.Camera{
				ID: "C01", URL: fc.url(), Transport: tc.transport, Sink: sink, AudioSink: sink,
			})
			st := waitState(t, cam.State, 5*time.Second, "online", isOnline)
			require.Equal(t, "H265", st.Codec)
			require.Equal(t, tc.want, st.Transport)
			require.Equal(t, 1280, st.Width)
			require.Equal(t, 720, st.Height)

			track := sink.lastTrack()
			require.Equal(t, media.H265, track.Codec)
			require.Equal(t, testH265VPS, track.VPS)
			require.Equal(t, testH265PPS, track.PPS)

			// Until the SPS switches to 1080p, then one more GOP.
			var units []*media.Unit
			deadline := time.After(5 * time.Second)
			for len(units) < 2*testH265SPSSwitchN {
				select {
				case u := <-sink.units:
					units = append(units, u)
				case <-deadline:
					t.Fatalf("%d units only", len(units))
				}
			}
			require.True(t, units[0].Discontinuity)
			require.True(t, units[0].IDR)
			idrs := 0
			for i, u := range units {
				irap := (u.AU[len(u.AU)-1][0]>>1)&0x3F >= 16
				require.Equal(t, irap, u.IDR, "unit %d", i)
				require.Equal(t, byte(39<<1), u.AU[len(u.AU)-2][0], "unit %d lost its SEI", i)
				if u.IDR {
					idrs++
					require.Len(t, u.AU, 5)
					require.Len(t, u.AU[4], 4000)
				}
				if i > 0 {
					require.False(t, u.Discontinuity)
					require.Equal(t, int64(90000/testH265FPS), u.PTS-units[i-1].PTS, "unit %d", i)
				}
			}
			require.GreaterOrEqual(t, idrs, 5)

			waitState(t, cam.State, 2*time.Second, "1080p", func(st ingest.CameraState) bool {
				return st.Width == 1920 && st.Height == 1080
			})
			require.Equal(t, testH265SPS1080, sink.lastTrack().SPS)

			sink.mu.Lock()
			atracks := append([]media.Track(nil), sink.audioTracks...)
			sink.mu.Unlock()
			require.Equal(t, []media.Track{{Codec: media.PCMU, ClockRate: 8000, Channels: 1}}, atracks)
			a0 := next(t, sink.audio, time.Second)
			require.True(t, a0.Discontinuity)
			require.Len(t, a0.Payload, 8000/testH265FPS)
			require.Nil(t, a0.AU)
			a1 := next(t, sink.audio, time.Second)
			require.False(t, a1.Discontinuity)
			require.Equal(t, int64(8000/testH265FPS), a1.PTS-a0.PTS)
			require.False(t, sink.overflow.Load())
		})
	}
}

// TestCameraUnreachable checks that a camera nobody listens for stays
// offline with the dial error, retrying until Close.
func TestCameraUnreachable(t *testing.T) {
	fc := startFakeCamera(t, &fakeCamera{medias: []*description.Media{{
		Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}},
	}}})
	url := fc.url()
	fc.close()

	var logs bytes.Buffer
	var mu sync.Mutex
	cam := startCamera(t, &ingest.Camera{
		ID: "U01", URL: url, Sink: newTestSink(),
		Backoff: ingest.Backoff{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond},
		Logger:  slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
	})
	st := waitState(t, cam.State, 3*time.Second, "offline", isOffline)
	require.Contains(t, st.LastError, "connection refused")
	time.Sleep(300 * time.Millisecond) // ~15 attempts
	cam.Close()

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, strings.Count(logs.String(), "camera offline"), "a failing camera logs once per state change:\n%s", logs.String())
	require.Equal(t, ingest.CameraOffline, cam.State().State)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestCameraUDPBlocked plays a camera whose UDP packets never arrive
// (they come from another address, as through a NAT or firewall): auto
// transport must switch to TCP on its own and restart the timeline.
func TestCameraUDPBlocked(t *testing.T) {
	t.Parallel()
	fc := h265Camera(t, true)
	fc.udpHost = "127.0.0.2"
	startFakeCamera(t, fc)

	sink := newTestSink()
	start := time.Now()
	cam := startCamera(t, &ingest.Camera{ID: "B01", URL: fc.url(), Sink: sink})
	u := next(t, sink.units, 6*time.Second)
	took := time.Since(start)
	t.Logf("UDP silent: switched to TCP and got the first unit after %v", took.Round(time.Millisecond))
	require.Less(t, took, 4*time.Second)
	require.True(t, u.Discontinuity)
	require.True(t, u.IDR)
	st := cam.State()
	require.Equal(t, ingest.CameraOnline, st.State)
	require.Equal(t, ingest.TransportTCP, st.Transport)
	require.Zero(t, st.Reconnects, "the switch happens inside the session")
	require.False(t, next(t, sink.units, time.Second).Discontinuity)
}

// TestCameraStall plays a camera that keeps its connection busy with
// audio but sends no video: the watchdog must end the session.
func TestCameraStall(t *testing.T) {
	t.Parallel()
	audio := &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}
	am := &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{audio}}
	enc, err := audio.CreateEncoder()
	require.NoError(t, err)
	fc := startFakeCamera(t, &fakeCamera{
		medias: []*description.Media{
			{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}},
			am,
		},
		fps: 25,
		tick: func(fc *fakeCamera, n int64, ntp time.Time) {
			pkts, err := enc.Encode(make([]byte, 320))
			if err != nil {
				t.Errorf("encode G.711: %v", err)
				return
			}
			fc.write(t, am, pkts, uint32(n*320), ntp)
		},
	})

	sink := newTestSink()
	cam := startCamera(t, &ingest.Camera{ID: "S01", URL: fc.url(), Sink: sink, AudioSink: sink})
	waitState(t, cam.State, 3*time.Second, "online", isOnline)
	online := time.Now()
	next(t, sink.audio, 2*time.Second)
	st := waitState(t, cam.State, 8*time.Second, "offline", isOffline)
	t.Logf("stalled camera offline after %v: %s", time.Since(online).Round(time.Millisecond), st.LastError)
	require.Contains(t, st.LastError, "camera sends no video for 5")
}

// TestCameraCloseWhileConnecting closes a camera whose server accepted
// the connection but never answers DESCRIBE.
func TestCameraCloseWhileConnecting(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	cam := startCamera(t, &ingest.Camera{ID: "W01", URL: "rtsp://" + ln.Addr().String() + "/x", Sink: newTestSink()})
	var conn net.Conn
	select {
	case conn = <-accepted:
		defer conn.Close()
	case <-time.After(3 * time.Second):
		t.Fatal("camera did not connect")
	}
	require.Equal(t, ingest.CameraConnecting, cam.State().State)
	start := time.Now()
	cam.Close()
	require.Less(t, time.Since(start), time.Second, "Close waited for the RTSP timeout")
}
