package streaming

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
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

// receivedAU is an access unit as a WHEP client reassembled it.
type receivedAU struct {
	annexB  []byte
	types   []byte // NAL unit types in order
	ts      uint32
	arrived time.Time
}

func (a receivedAU) idr() bool { return bytes.IndexByte(a.types, h264NALIDR) >= 0 }

// whepClient is a pion peer that plays the browser: it offers to receive
// H.264 (several profiles and packetization modes, like Chrome) and audio,
// reorders RTP by sequence number (retransmissions arrive late),
// depacketizes with pion's H264Packet, and hands out access units.
type whepClient struct {
	pc        *webrtc.PeerConnection
	id        string
	answer    string
	started   time.Time // when NewSession was called
	aus       chan receivedAU
	audioPkts chan *rtp.Packet
	closed    chan struct{}
	closeOnce sync.Once
	stopOnce  sync.Once
	wg        sync.WaitGroup
	videoSSRC chan webrtc.SSRC
	connected atomic.Int64 // unix ns when the client saw the peer connected
}

type clientOptions struct {
	answerFilter func(string) string // rewrites the answer
}

// newClientPeer builds a browser-like receiving peer and its offer.
func newClientPeer(tb testing.TB) (*webrtc.PeerConnection, string) {
	tb.Helper()
	pc, offer, err := clientPeer()
	require.NoError(tb, err)
	return pc, offer
}

func clientPeer() (*webrtc.PeerConnection, string, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	for _, c := range []struct {
		pt   webrtc.PayloadType
		fmtp string
	}{
		{102, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f"},
		{104, "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f"},
		{106, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		{108, "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f"},
		{112, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f"},
	} {
		err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: c.fmtp, RTCPFeedback: fb,
			},
			PayloadType: c.pt,
		}, webrtc.RTPCodecTypeVideo)
		if err != nil {
			return nil, "", err
		}
	}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine: "minptime=10;useinbandfec=1"}, PayloadType: 111},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMA, ClockRate: 8000}, PayloadType: 8},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeAudio); err != nil {
			return nil, "", err
		}
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(me, reg); err != nil {
		return nil, "", err
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, "", err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	// A packet resent after a NACK may arrive hundreds of packets after a
	// GOP replay's burst: pion's default SRTP replay window (64) would
	// drop it; browsers keep a wider one.
	se.SetSRTPReplayProtectionWindow(1024)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", err
	}
	fail := func(err error) (*webrtc.PeerConnection, string, error) {
		_ = pc.Close()
		return nil, "", err
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		_, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
		if err != nil {
			return fail(err)
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	<-gathered
	return pc, pc.LocalDescription().SDP, nil
}

// dialWHEP connects a client to a stream through srv.NewSession.
func dialWHEP(tb testing.TB, srv *WebRTCServer, streamID string, opts clientOptions) (*whepClient, error) {
	tb.Helper()
	pc, offer := newClientPeer(tb)
	c := &whepClient{
		pc:        pc,
		aus:       make(chan receivedAU, 4096),
		audioPkts: make(chan *rtp.Packet, 4096),
		closed:    make(chan struct{}),
		videoSSRC: make(chan webrtc.SSRC, 1),
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			c.connected.CompareAndSwap(0, time.Now().UnixNano())
		}
		if st == webrtc.PeerConnectionStateClosed || st == webrtc.PeerConnectionStateFailed {
			c.closeOnce.Do(func() { close(c.closed) })
		}
	})
	c.wg.Add(1) // released when the peer is closed; OnTrack handlers add themselves first
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		defer c.wg.Done()
		if track.Kind() == webrtc.RTPCodecTypeAudio {
			for {
				p, _, err := track.ReadRTP()
				if err != nil {
					return
				}
				select {
				case c.audioPkts <- p:
				default:
				}
			}
		}
		c.videoSSRC <- track.SSRC()
		c.readVideo(track)
	})
	c.started = time.Now()
	id, answer, err := srv.NewSession(context.Background(), streamID, offer)
	if err != nil {
		c.wg.Done()
		_ = pc.Close()
		return nil, err
	}
	c.id, c.answer = id, answer
	if opts.answerFilter != nil {
		answer = opts.answerFilter(answer)
	}
	require.NoError(tb, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	tb.Cleanup(c.close)
	return c, nil
}

// readVideo reorders and depacketizes the video track until it ends.
func (c *whepClient) readVideo(track *webrtc.TrackRemote) {
	var (
		depack   codecs.H264Packet
		pending  = map[uint16]*rtp.Packet{}
		next     uint16
		started  bool
		cur      receivedAU
		curBroke bool
	)
	emit := func(p *rtp.Packet) {
		if len(cur.annexB) == 0 && len(cur.types) == 0 {
			cur.ts = p.Timestamp
		}
		if p.Timestamp != cur.ts { // a frame lost its marker packet: drop it
			cur, curBroke = receivedAU{ts: p.Timestamp}, false
		}
		data, err := depack.Unmarshal(p.Payload)
		if err != nil {
			curBroke = true
		}
		for _, n := range splitAnnexB(data) {
			cur.types = append(cur.types, h264Type(n))
		}
		cur.annexB = append(cur.annexB, data...)
		if p.Marker {
			cur.arrived = time.Now()
			if !curBroke {
				select {
				case c.aus <- cur:
				default:
				}
			}
			cur, curBroke = receivedAU{}, false
		}
	}
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		if !started {
			started, next = true, p.SequenceNumber
		}
		if int16(p.SequenceNumber-next) < 0 {
			continue // a duplicate
		}
		pending[p.SequenceNumber] = p
		for {
			q, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			emit(q)
		}
		if len(pending) > 512 { // lost for good: skip the hole
			for {
				if _, ok := pending[next]; ok {
					break
				}
				next++
			}
			cur, curBroke = receivedAU{}, true
		}
	}
}

// waitAU returns the next access unit or fails after timeout.
func (c *whepClient) waitAU(tb testing.TB, timeout time.Duration) receivedAU {
	tb.Helper()
	select {
	case au := <-c.aus:
		return au
	case <-time.After(timeout):
		tb.Fatalf("no access unit within %s", timeout)
		return receivedAU{}
	}
}

// sendPLI asks the server for a keyframe, as a browser does.
func (c *whepClient) sendPLI(tb testing.TB) {
	tb.Helper()
	var ssrc webrtc.SSRC
	select {
	case ssrc = <-c.videoSSRC:
		c.videoSSRC <- ssrc
	case <-time.After(5 * time.Second):
		tb.Fatal("no video track")
	}
	require.NoError(tb, c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}))
}

// close closes the client's peer and waits for its readers.
func (c *whepClient) close() {
	c.stopOnce.Do(func() {
		_ = c.pc.GracefulClose()
		c.closeOnce.Do(func() { close(c.closed) })
		c.wg.Done()
		c.wg.Wait()
	})
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
