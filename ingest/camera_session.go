package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/pion/rtp"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// cameraSessionResult is how a session ended.
type cameraSessionResult struct {
	online bool          // PLAY succeeded
	lasted time.Duration // how long it played
	err    error         // why it ended
}

// cameraSession is one RTSP connection of a Camera, from DESCRIBE until
// the connection fails or the camera closes.
type cameraSession struct {
	cam    *Camera
	client *gortsplib.Client
	video  *cameraVideo
	audio  *cameraAudio // nil without AudioSink or audio track

	transport  string      // "udp" or "tcp", set before PLAY
	switched   atomic.Bool // gortsplib switched from UDP to TCP
	decodeLogs cameraLogLimiter
}

// session runs one session to its end. reconnect says whether an earlier
// session came up, which makes this one a reconnect.
func (c *Camera) session(ctx context.Context, reconnect bool) cameraSessionResult {
	asked := c.transportFor()
	s := &cameraSession{cam: c, decodeLogs: cameraLogLimiter{every: 10 * time.Second}}
	s.client = &gortsplib.Client{
		Scheme:                c.url.Scheme,
		Host:                  c.url.Host,
		ReadTimeout:           cameraReadTimeout,
		WriteTimeout:          cameraReadTimeout,
		InitialUDPReadTimeout: cameraUDPProbe,
		Transport:             cameraGortsplibTransport(asked),
		// gortsplib logs these with the standard logger unless set
		OnTransportSwitch: s.onTransportSwitch,
		OnPacketsLost:     c.stats.packetsLost,
		OnDecodeError:     s.onDecodeError,
	}
	if err := s.client.Start2(); err != nil {
		return cameraSessionResult{err: fmt.Errorf("start RTSP client: %w", err)}
	}

	// Close the client when the camera closes or the session ends: that
	// also unblocks DESCRIBE, SETUP, PLAY and Wait.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-stop:
		}
		s.client.Close()
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	if err := s.start(); err != nil {
		return cameraSessionResult{err: err}
	}

	started := time.Now()
	if reconnect {
		c.stats.reconnected()
	}
	prev := c.State()
	st := c.setOnline(s.video.codec, s.transport, s.video.width, s.video.height, reconnect)
	attrs := []any{"codec", st.Codec, "width", st.Width, "height", st.Height,
		"transport", st.Transport, "audio", s.audio != nil, "reconnects", st.Reconnects}
	if prev.State == CameraOffline {
		attrs = append(attrs, "offline_for", st.Since.Sub(prev.Since).Round(time.Millisecond))
	}
	c.logger.Info("camera online", attrs...)

	err := s.play(&wg)
	gotVideo := s.video.units.Load() > 0
	got := s.transport
	if s.switched.Load() {
		got = TransportTCP
	}
	c.learnTransport(asked, got, gotVideo)
	return cameraSessionResult{online: true, lasted: time.Since(started), err: err}
}

// start describes the camera, sets up its tracks and starts playing.
func (s *cameraSession) start() error {
	c := s.cam
	desc, _, err := s.client.Describe(c.url)
	if err != nil {
		return fmt.Errorf("describe: %w", err)
	}
	vm, vf, err := cameraPickVideo(desc)
	if err != nil {
		return err
	}
	if s.video, err = newCameraVideo(s, vm, vf); err != nil {
		return err
	}
	res, err := s.client.Setup(desc.BaseURL, vm, 0, 0)
	if err != nil {
		return fmt.Errorf("setup %s: %w", s.video.codec, err)
	}
	s.transport = cameraResponseTransport(res)

	if c.AudioSink != nil {
		if am, af := cameraPickAudio(desc); am != nil {
			if _, err := s.client.Setup(desc.BaseURL, am, 0, 0); err != nil {
				// video matters more: go on without audio
				c.logger.Warn("cannot set up camera audio", "codec", af.Codec(), "error", err)
			} else {
				s.audio = newCameraAudio(s, am, af)
			}
		}
	}

	s.client.OnPacketRTP(vm, vf, s.video.onRTP)
	c.Sink.SetVideoTrack(s.video.track)
	if s.audio != nil {
		s.client.OnPacketRTP(s.audio.medi, s.audio.forma, s.audio.onRTP)
		c.AudioSink.SetAudioTrack(s.audio.track)
	}
	s.video.lastPacket.Store(time.Now().UnixNano())
	c.stats.sessionStarted(s.video.forma.ClockRate())
	if _, err := s.client.Play(nil); err != nil {
		return fmt.Errorf("play: %w", err)
	}
	return nil
}

// play waits until the session fails, the camera closes, or no video
// arrives for cameraReadTimeout (gortsplib's own timeout does not fire
// while the camera sends RTCP or audio only).
func (s *cameraSession) play(wg *sync.WaitGroup) error {
	done := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		done <- s.client.Wait()
	}()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("camera closed the connection: %w", err)
			}
			return fmt.Errorf("session: %w", err)
		case <-tick.C:
			last := time.Unix(0, s.video.lastPacket.Load())
			if d := time.Since(last); d >= cameraReadTimeout {
				return cameraStallError{For: d}
			}
		}
	}
}

// onTransportSwitch is called by gortsplib when auto transport gives up
// on UDP: after a 461 to SETUP (before PLAY) or when no UDP packet arrived
// (after PLAY: the session restarts on TCP, timestamps included).
func (s *cameraSession) onTransportSwitch(err error) {
	if s.switched.Swap(true) {
		return
	}
	s.cam.logger.Info("camera switches to TCP", "reason", err)
	if s.video != nil {
		s.video.restart.Store(true)
	}
	if s.audio != nil {
		s.audio.restart.Store(true)
	}
	s.cam.mu.Lock()
	if s.cam.state.State == CameraOnline {
		s.cam.state.Transport = TransportTCP
	}
	s.cam.mu.Unlock()
}

// onDecodeError logs gortsplib's non-fatal errors, rate-limited.
func (s *cameraSession) onDecodeError(err error) {
	if ok, skipped := s.decodeLogs.allow(time.Now()); ok {
		s.cam.logger.Warn("camera sends undecodable RTP", "error", err, "suppressed", skipped)
	}
}

// cameraGortsplibTransport maps a transport name to gortsplib's; nil is
// gortsplib's automatic choice.
func cameraGortsplibTransport(name string) *gortsplib.Transport {
	var t gortsplib.Transport
	switch name {
	case TransportUDP:
		t = gortsplib.TransportUDP
	case TransportTCP:
		t = gortsplib.TransportTCP
	default:
		return nil
	}
	return &t
}

// cameraResponseTransport reads the transport a SETUP ended up with from
// its response (after gortsplib's 461 fallback, that of the TCP retry).
func cameraResponseTransport(res *base.Response) string {
	var th headers.Transport
	if res != nil && th.Unmarshal(res.Header["Transport"]) == nil &&
		th.Protocol == headers.TransportProtocolTCP {
		return TransportTCP
	}
	return TransportUDP
}

// cameraPickVideo finds the video track: H.264 first, else H.265.
func cameraPickVideo(desc *description.Session) (*description.Media, format.Format, error) {
	var (
		h265m        *description.Media
		h265f        format.Format
		video, other []string
	)
	for _, m := range desc.Medias {
		if m.IsBackChannel {
			continue
		}
		for _, f := range m.Formats {
			switch f := f.(type) {
			case *format.H264:
				return m, f, nil
			case *format.H265:
				if h265m == nil {
					h265m, h265f = m, f
				}
			default:
				if m.Type == description.MediaTypeVideo {
					video = append(video, cameraCodecName(f))
				} else {
					other = append(other, cameraCodecName(f))
				}
			}
		}
	}
	if h265m != nil {
		return h265m, h265f, nil
	}
	return nil, nil, &CameraCodecError{Video: video, Other: other}
}

// cameraPickAudio finds a G.711 or Opus track.
func cameraPickAudio(desc *description.Session) (*description.Media, format.Format) {
	for _, m := range desc.Medias {
		if m.IsBackChannel {
			continue
		}
		for _, f := range m.Formats {
			switch f.(type) {
			case *format.G711, *format.Opus:
				return m, f
			}
		}
	}
	return nil, nil
}

// cameraCodecName names a format the way installers know it.
func cameraCodecName(f format.Format) string {
	switch f := f.(type) {
	case *format.MJPEG:
		return "MJPEG"
	case *format.G711:
		if f.MULaw {
			return "G.711 µ-law"
		}
		return "G.711 A-law"
	default:
		return f.Codec()
	}
}

// cameraLogLimiter lets one log line through per period and counts the
// rest.
type cameraLogLimiter struct {
	every time.Duration

	mu      sync.Mutex // guards last and skipped
	last    time.Time
	skipped int
}

// allow reports whether to log now, and how many lines were skipped since
// the last one.
func (l *cameraLogLimiter) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.skipped++
		return false, 0
	}
	skipped := l.skipped
	l.last, l.skipped = now, 0
	return true, skipped
}

// errCameraMorePackets tells whether a depacketizer error only means the
// frame is not complete yet (or began before we joined).
func errCameraMorePackets(err error, more ...error) bool {
	for _, m := range more {
		if errors.Is(err, m) {
			return true
		}
	}
	return false
}

// cameraAudio passes one audio track through.
type cameraAudio struct {
	s     *cameraSession
	medi  *description.Media
	forma format.Format
	track media.Track

	discontinuity bool        // touched by gortsplib's goroutine only
	restart       atomic.Bool // set when the session switched transport
}

func newCameraAudio(s *cameraSession, m *description.Media, f format.Format) *cameraAudio {
	a := &cameraAudio{s: s, medi: m, forma: f, discontinuity: true}
	a.track = cameraAudioTrack(f)
	return a
}

func (a *cameraAudio) onRTP(pkt *rtp.Packet) {
	c := a.s.cam
	c.stats.audioPacket(pkt)
	if a.restart.Swap(false) {
		a.discontinuity = true
	}
	pts, ok := a.s.client.PacketPTS2(a.medi, pkt)
	if !ok || len(pkt.Payload) == 0 {
		return
	}
	ntp, ok := a.s.client.PacketNTP(a.medi, pkt)
	if !ok {
		ntp = c.now()
	}
	c.AudioSink.WriteAudio(&media.Unit{
		PTS: pts, NTP: ntp, Payload: pkt.Payload, Discontinuity: a.discontinuity,
	})
	a.discontinuity = false
}

// cameraAudioTrack describes a G.711 or Opus track.
func cameraAudioTrack(f format.Format) media.Track {
	switch f := f.(type) {
	case *format.G711:
		t := media.Track{Codec: media.PCMA, ClockRate: f.SampleRate, Channels: f.ChannelCount}
		if f.MULaw {
			t.Codec = media.PCMU
		}
		return t
	case *format.Opus:
		return media.Track{Codec: media.Opus, ClockRate: f.ClockRate(), Channels: max(f.ChannelCount, 1)}
	}
	return media.Track{}
}
