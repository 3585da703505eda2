package ingest

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
)

func TestCameraBackoff(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name    string
		b       Backoff
		attempt int
		r       float64
		want    time.Duration
	}{
		{"default first, no draw", Backoff{}, 0, 0, 250 * ms},
		{"default doubles", Backoff{}, 1, 0, 500 * ms},
		{"default third", Backoff{}, 2, 0, time.Second},
		{"default capped", Backoff{}, 3, 0, 2 * time.Second},
		{"default capped far out", Backoff{}, 1000, 0, 2 * time.Second},
		{"negative attempt", Backoff{}, -3, 0, 250 * ms},
		{"default jitter takes up to 20%", Backoff{}, 3, 0.5, 1800 * ms},
		{"jitter stays under the cap", Backoff{}, 50, 0.999, 1600*ms + 400*ms/1000},
		{"jitter disabled", Backoff{Jitter: -1}, 3, 0.9, 2 * time.Second},
		{"custom", Backoff{Min: time.Second, Max: 10 * time.Second, Factor: 3, Jitter: -1}, 2, 0, 9 * time.Second},
		{"max below min", Backoff{Min: time.Second, Max: time.Millisecond, Jitter: -1}, 4, 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, float64(tc.want), float64(tc.b.delay(tc.attempt, tc.r)), float64(time.Millisecond))
		})
	}

	t.Run("random delays stay in range", func(t *testing.T) {
		var b Backoff
		for i := range 1000 {
			d := b.Delay(i % 8)
			require.GreaterOrEqual(t, d, 200*ms)
			require.LessOrEqual(t, d, 2*time.Second)
		}
	})

	t.Run("a camera is back within 3 s", func(t *testing.T) {
		// The longest wait between an outage's end and the next attempt
		// is one (capped) delay; connecting and the first IDR fit in the rest.
		var b Backoff
		require.LessOrEqual(t, b.delay(100, 0), 2*time.Second)
	})
}

// fakeClock is a clock that tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)} }
func rtpPacket(seq uint16, ts uint32, n int) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts}, Payload: make([]byte, n)}
}

func TestCameraStats(t *testing.T) {
	const fps = 25
	step := uint32(media.ClockRate / fps)
	frame := time.Second / fps

	t.Run("steady camera", func(t *testing.T) {
		clk := newFakeClock()
		s := newCameraStats(clk.now())
		s.sessionStarted(media.ClockRate)
		// 2 s at 25 fps, 2 packets of 1000 bytes per frame, IDR every 10 frames
		for i := range 2 * fps {
			ts := uint32(1000) + uint32(i)*step
			s.videoPacket(clk.now(), rtpPacket(uint16(2*i), ts, 1000))
			s.videoPacket(clk.now(), rtpPacket(uint16(2*i+1), ts, 1000))
			s.videoFrame(int64(i)*int64(step), i%10 == 0, true)
			clk.add(frame)
		}
		h := s.snapshot(clk.now(), "A01", CameraOnline)
		require.Equal(t, "A01", h.Window)
		require.Equal(t, clk.now(), h.Time)
		require.InDelta(t, 2*fps*2000*8/2, h.BitrateBps, 1)
		require.InDelta(t, fps, h.FPS, 0.01)
		require.Equal(t, 400*time.Millisecond, h.KeyframeInterval)
		require.False(t, h.KeyframeTooLong)
		require.Zero(t, h.Lost)
		require.Zero(t, h.Reordered)
		require.InDelta(t, 0, h.JitterMs, 0.01)

		// the next interval starts empty but keeps the keyframe interval
		clk.add(time.Second)
		h = s.snapshot(clk.now(), "A01", CameraOnline)
		require.Zero(t, h.BitrateBps)
		require.Zero(t, h.FPS)
		require.Equal(t, 400*time.Millisecond, h.KeyframeInterval)
	})

	t.Run("jitter follows RFC 3550", func(t *testing.T) {
		clk := newFakeClock()
		s := newCameraStats(clk.now())
		s.sessionStarted(media.ClockRate)
		// every other frame arrives 10 ms late: |D| = 10 ms for every
		// packet after the first, so J converges to 10 ms
		for i := range 200 {
			late := time.Duration(i%2) * 10 * time.Millisecond
			s.videoPacket(clk.now().Add(late), rtpPacket(uint16(i), uint32(i)*step, 100))
			clk.add(frame)
		}
		h := s.snapshot(clk.now(), "A01", CameraOnline)
		require.InDelta(t, 10, h.JitterMs, 0.1)

		// offline cameras report no jitter
		require.Zero(t, s.snapshot(clk.now(), "A01", CameraOffline).JitterMs)
	})

	t.Run("late packets, losses and reconnects", func(t *testing.T) {
		clk := newFakeClock()
		s := newCameraStats(clk.now())
		s.sessionStarted(media.ClockRate)
		for _, seq := range []uint16{65534, 65535, 1, 0, 2, 2, 3} { // wraps; 0 late; 2 again
			s.videoPacket(clk.now(), rtpPacket(seq, 0, 10))
		}
		s.packetsLost(3)
		s.sessionStarted(media.ClockRate)
		s.reconnected()
		s.videoPacket(clk.now(), rtpPacket(100, 0, 10)) // new session: no reorder
		clk.add(time.Second)
		h := s.snapshot(clk.now(), "A01", CameraOnline)
		require.EqualValues(t, 2, h.Reordered)
		require.EqualValues(t, 3, h.Lost)
		require.EqualValues(t, 1, h.Reconnects)
		require.InDelta(t, 8*80, h.BitrateBps, 0.01)
	})

	t.Run("long GOP", func(t *testing.T) {
		clk := newFakeClock()
		s := newCameraStats(clk.now())
		s.sessionStarted(media.ClockRate)
		s.videoFrame(0, true, true)
		s.videoFrame(media.ClockRate, false, false) // before a PTS: counted, not timed
		s.videoFrame(3*media.ClockRate, true, true)
		h := s.snapshot(clk.now().Add(time.Second), "A01", CameraOnline)
		require.Equal(t, 3*time.Second, h.KeyframeInterval)
		require.True(t, h.KeyframeTooLong)

		// a reconnect restarts PTS: no interval across sessions
		s.sessionStarted(media.ClockRate)
		s.videoFrame(100, true, true)
		require.Equal(t, 3*time.Second, s.snapshot(clk.now(), "A01", CameraOnline).KeyframeInterval)
	})
}

func TestCameraIsIDR(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codec media.Codec
		au    [][]byte
		want  bool
	}{
		{"H.264 IDR after SPS/PPS/SEI", media.H264, [][]byte{{0x67}, {0x68}, {0x06}, {0x65, 1}}, true},
		{"H.264 P slice", media.H264, [][]byte{{0x41, 1}}, false},
		{"H.264 SPS alone", media.H264, [][]byte{{0x67}}, false},
		{"H.264 empty NALU", media.H264, [][]byte{{}}, false},
		{"H.265 IDR_W_RADL", media.H265, [][]byte{{19 << 1, 1}}, true},
		{"H.265 IDR_N_LP", media.H265, [][]byte{{20 << 1, 1}}, true},
		{"H.265 CRA", media.H265, [][]byte{{21 << 1, 1}}, true},
		{"H.265 BLA_W_LP", media.H265, [][]byte{{16 << 1, 1}}, true},
		{"H.265 reserved IRAP 23", media.H265, [][]byte{{23 << 1, 1}}, true},
		{"H.265 TRAIL_R", media.H265, [][]byte{{1 << 1, 1}}, false},
		{"H.265 RASL", media.H265, [][]byte{{9 << 1, 1}}, false},
		{"H.265 VPS/SPS/PPS only", media.H265, [][]byte{{32 << 1}, {33 << 1}, {34 << 1}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, cameraIsIDR(tc.codec, tc.au))
		})
	}
}

func TestCameraCodecError(t *testing.T) {
	for _, tc := range []struct {
		err  *CameraCodecError
		want string
	}{
		{&CameraCodecError{Video: []string{"MJPEG"}}, "camera sends MJPEG; Sunlight needs H.264 or H.265"},
		{&CameraCodecError{Video: []string{"VP8", "MJPEG"}, Other: []string{"Opus"}}, "camera sends VP8, MJPEG; Sunlight needs H.264 or H.265"},
		{&CameraCodecError{Other: []string{"G.711 A-law"}}, "camera sends no video, only G.711 A-law; Sunlight needs H.264 or H.265"},
		{&CameraCodecError{}, "camera sends no media; Sunlight needs H.264 or H.265"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			require.EqualError(t, tc.err, tc.want)
			require.ErrorIs(t, tc.err, ErrCameraCodec)
		})
	}
	require.ErrorIs(t, cameraStallError{For: 5 * time.Second}, ErrCameraStalled)
	require.EqualError(t, cameraStallError{For: 5 * time.Second}, "camera sends no video for 5s")
}

func TestCameraLogLimiter(t *testing.T) {
	clk := newFakeClock()
	l := cameraLogLimiter{every: 10 * time.Second}
	ok, skipped := l.allow(clk.now())
	require.True(t, ok)
	require.Zero(t, skipped)
	for range 5 {
		clk.add(time.Second)
		ok, _ = l.allow(clk.now())
		require.False(t, ok)
	}
	clk.add(5 * time.Second)
	ok, skipped = l.allow(clk.now())
	require.True(t, ok)
	require.Equal(t, 5, skipped)
}

func TestCameraLearnTransport(t *testing.T) {
	c := &Camera{Transport: TransportAuto}
	require.Equal(t, "", c.transportFor(), "auto starts with gortsplib's UDP-then-TCP")
	c.learnTransport("", TransportTCP, true)
	require.Equal(t, TransportTCP, c.transportFor(), "TCP carried video: go straight to it")
	c.learnTransport(TransportTCP, TransportTCP, false)
	require.Equal(t, "", c.transportFor(), "TCP brought nothing: probe UDP again")
	c.learnTransport("", TransportUDP, true)
	require.Equal(t, "", c.transportFor())

	fixed := &Camera{Transport: TransportUDP}
	fixed.learnTransport(TransportUDP, TransportUDP, false)
	require.Equal(t, TransportUDP, fixed.transportFor())
}

func TestCameraConfigErrors(t *testing.T) {
	sink := nopSink{}
	for _, tc := range []struct {
		name string
		cam  *Camera
	}{
		{"no sink", &Camera{ID: "A01", URL: "rtsp://127.0.0.1/x"}},
		{"bad transport", &Camera{ID: "A01", URL: "rtsp://127.0.0.1/x", Sink: sink, Transport: "quic"}},
		{"http URL", &Camera{ID: "A01", URL: "http://127.0.0.1/x", Sink: sink}},
		{"no host", &Camera{ID: "A01", URL: "rtsp:///x", Sink: sink}},
		{"unparsable URL", &Camera{ID: "A01", URL: "rtsp://user:pa%zzss@host/x", Sink: sink}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cam.Initialize()
			if err == nil {
				tc.cam.Close()
			}
			require.ErrorIs(t, err, ErrCameraConfig)
			require.NotContains(t, err.Error(), "pa%zzss", "credentials leak into the error")
		})
	}

	for _, tc := range []struct {
		name string
		set  *CameraSet
	}{
		{"no sink factory", &CameraSet{}},
		{"empty id", &CameraSet{Sink: func(string) VideoSink { return sink }, Cameras: []CameraSpec{{URL: "rtsp://h/x"}}}},
		{"duplicate id", &CameraSet{Sink: func(string) VideoSink { return sink }, Cameras: []CameraSpec{
			{ID: "A01", URL: "rtsp://127.0.0.1:1/x"}, {ID: "A01", URL: "rtsp://127.0.0.1:1/y"},
		}}},
		{"bad camera", &CameraSet{Sink: func(string) VideoSink { return sink }, Cameras: []CameraSpec{
			{ID: "A01", URL: "rtsp://127.0.0.1:1/x"}, {ID: "A02", URL: "ftp://h/y"},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.set.Initialize()
			require.ErrorIs(t, err, ErrCameraConfig)
			// nothing may be left running (goleak checks at the end)
		})
	}
}

type nopSink struct{}

func (nopSink) SetVideoTrack(media.Track) {}
func (nopSink) WriteVideo(*media.Unit)    {}

func TestCameraErrorsAreSentinels(t *testing.T) {
	err := error(&CameraCodecError{Video: []string{"MJPEG"}})
	require.True(t, errors.Is(err, ErrCameraCodec))
	require.False(t, errors.Is(err, ErrCameraStalled))
}
