package streaming

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/media"
	"github.com/sunlight-gov/sunlight/internal/mediacheck"
	"github.com/sunlight-gov/sunlight/internal/whepclient"
)

// liveStream starts a stream fed in real time by a publisher, and waits
// until it is wait into its stream.
func liveStream(t testing.TB, id string, wait time.Duration, strip bool) (*Stream, *publisher) {
	t.Helper()
	s := NewStream(id, cameraTrack(t), testLogger(t))
	t.Cleanup(s.Close)
	p := startPublisher(t, s, cameraUnits(t), strip)
	time.Sleep(wait)
	return s, p
}

// TestWHEPPlaysDecodableVideo joins mid-GOP, receives ~2.5 s of video and
// decodes all of it with ffmpeg: no errors, SPS/PPS/IDR first.
func TestWHEPPlaysDecodableVideo(t *testing.T) {
	stream, _ := liveStream(t, "w1", 1300*time.Millisecond, true) // 20 frames into a 2 s GOP
	srv, _ := testServer(t, stream)

	c, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.NoError(t, err)
	require.Contains(t, c.Answer, fmt.Sprintf(" %d typ host", srv.LocalUDPPort()), "the host candidate is the mux port")
	require.Equal(t, 1, srv.Viewers("w1"))
	sid, ok := srv.SessionStream(c.Location)
	require.True(t, ok)
	require.Equal(t, "w1", sid)

	first := c.waitAU(t, 5*time.Second)
	ttff := first.Arrived.Sub(c.Posted)
	t.Logf("time to first decodable frame (NewSession to complete IDR at the client): %s", ttff)
	require.True(t, first.IDR, "the first access unit is an IDR: %v", first.NALTypes)
	require.Equal(t, []byte{h264NALSPS, h264NALPPS}, first.NALTypes[:2], "SPS and PPS first")

	var stream264 bytes.Buffer
	stream264.Write(first.AnnexB)
	aus := []whepclient.AU{first}
	deadline := time.After(2500 * time.Millisecond)
collect:
	for {
		select {
		case au := <-c.Units():
			if !au.Complete {
				continue // dropped, as a decoder would
			}
			aus = append(aus, au)
			stream264.Write(au.AnnexB)
		case <-deadline:
			break collect
		}
	}
	require.Greater(t, len(aus), 30, "about 2.5 s of video plus the replayed GOP")
	for i := 1; i < len(aus); i++ {
		require.Greater(t, aus[i].RTPTimestamp-aus[0].RTPTimestamp, aus[i-1].RTPTimestamp-aus[0].RTPTimestamp, "timestamps increase")
	}

	out := mediacheck.DecodeErrors(t, stream264.Bytes())
	require.Empty(t, out, "ffmpeg decodes the received stream without errors")
}

func TestWHEPErrors(t *testing.T) {
	ready := NewStream("ready", cameraTrack(t), nil)
	t.Cleanup(ready.Close)
	writeUnits(ready, cameraUnits(t), 0, 1, false)
	empty := NewStream("empty", cameraTrack(t), nil)
	t.Cleanup(empty.Close)
	offline := NewStream("offline", cameraTrack(t), nil)
	t.Cleanup(offline.Close)
	writeUnits(offline, cameraUnits(t), 0, 1, false)
	h265 := NewStream("h265", media.Track{Codec: media.H265}, nil)
	t.Cleanup(h265.Close)
	h265.WriteVideo(&media.Unit{AU: [][]byte{{0x26, 0x01, 0xaf}}, IDR: true})

	srv, _ := testServer(t, ready, empty, offline, h265)
	srv.Online = func(id string) (string, bool) {
		if id == "offline" {
			return "RTSP connection refused", false
		}
		return "", true
	}
	pc, offer := newClientPeer(t)
	require.NoError(t, pc.Close())

	tests := []struct {
		name, stream, offer string
		kind                error
		msg                 string
	}{
		{"unknown stream", "nope", offer, apperr.NotFound, "window nope has no live stream"},
		{"no video yet", "empty", offer, apperr.Unavailable, "has sent no video yet"},
		{"camera offline", "offline", offer, apperr.Unavailable, "RTSP connection refused"},
		{"garbage", "ready", "hello", apperr.Invalid, "not valid SDP"},
		{"empty", "ready", "", apperr.Invalid, "empty"},
		{"no video m-line", "ready", dropMedia(offer, "video"), apperr.Invalid, "no video m-line"},
		{"no H.264", "ready", regexp.MustCompile(`H264/90000`).ReplaceAllString(offer, "VP8/90000"), apperr.Invalid, "no H.264"},
		{"only packetization-mode 0", "ready", strings.ReplaceAll(offer, "packetization-mode=1", "packetization-mode=0"),
			apperr.Invalid, "packetization-mode=1"},
		{"no H.265 for an H.265 camera", "h265", offer, apperr.Invalid, "H.265"},
		{"refused by WebRTC", "ready", regexp.MustCompile(`a=fingerprint:[^\r\n]*\r\n`).ReplaceAllString(offer, ""), apperr.Invalid,
			"the offer was refused: it is not a complete WebRTC offer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := srv.NewSession(context.Background(), tt.stream, tt.offer)
			require.ErrorIs(t, err, tt.kind)
			require.Contains(t, err.Error(), tt.msg)
			// Our own words: no library's message reaches the viewer.
			for _, lib := range []string{"sdp:", "SDP: ", "webrtc:", "pion", "unmarshal"} {
				require.NotContains(t, err.Error(), lib)
			}
		})
	}
	require.Zero(t, srv.Viewers("ready"))
	require.ErrorIs(t, srv.CloseSession("nope"), apperr.NotFound)
}

// dropMedia removes the m-sections of a kind from an SDP.
func dropMedia(sdp, kind string) string {
	sections := strings.Split(sdp, "\r\nm=")
	out := []string{sections[0]}
	for _, s := range sections[1:] {
		if !strings.HasPrefix(s, kind+" ") {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\r\nm=")
}

func TestWHEPViewerLimit(t *testing.T) {
	stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
	reg := &Registry{}
	reg.Add(stream)
	srv := &WebRTCServer{Streams: reg, MaxViewersPerStream: 2, Logger: testLogger(t)}
	require.NoError(t, srv.Initialize())
	t.Cleanup(srv.Close)

	for range 2 {
		_, err := dialWHEP(t, srv, "w1", clientOptions{})
		require.NoError(t, err)
	}
	_, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.ErrorIs(t, err, apperr.Conflict)
	require.EqualError(t, err, "window w1 has 2 viewers, the limit")
	require.Equal(t, 2, srv.Viewers("w1"))
}

// endRecorder records OnSessionEnd calls.
type endRecorder struct {
	mu    sync.Mutex
	calls []string
	ch    chan string
}

func newEndRecorder() *endRecorder { return &endRecorder{ch: make(chan string, 16)} }

func (e *endRecorder) record(id, streamID, reason string) {
	e.mu.Lock()
	e.calls = append(e.calls, id+" "+streamID+" "+reason)
	e.mu.Unlock()
	e.ch <- reason
}

func (e *endRecorder) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.calls...)
}

func TestWHEPCloseSession(t *testing.T) {
	stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
	srv, _ := testServer(t, stream)
	ends := newEndRecorder()
	srv.OnSessionEnd = ends.record

	c, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.NoError(t, err)
	c.waitAU(t, 5*time.Second)

	require.NoError(t, srv.CloseSession(c.Location))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not see the connection close")
	}
	require.Equal(t, []string{c.Location + " w1 " + EndClosed}, ends.all())
	require.Zero(t, srv.Viewers("w1"))
	_, ok := srv.SessionStream(c.Location)
	require.False(t, ok)
	require.ErrorIs(t, srv.CloseSession(c.Location), apperr.NotFound)
	time.Sleep(100 * time.Millisecond)
	require.Len(t, ends.all(), 1, "the callback fires once")
	require.Zero(t, stream.Stats().Readers)
}

func TestWHEPSessionEnds(t *testing.T) {
	t.Run("peer closes", func(t *testing.T) {
		stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
		srv, _ := testServer(t, stream)
		ends := newEndRecorder()
		srv.OnSessionEnd = ends.record
		c, err := dialWHEP(t, srv, "w1", clientOptions{})
		require.NoError(t, err)
		c.waitAU(t, 5*time.Second)
		c.Close()
		require.Equal(t, EndPeerClosed, waitEnd(t, ends))
	})
	t.Run("stream closes", func(t *testing.T) {
		stream, pub := liveStream(t, "w1", 100*time.Millisecond, false)
		srv, _ := testServer(t, stream)
		ends := newEndRecorder()
		srv.OnSessionEnd = ends.record
		c, err := dialWHEP(t, srv, "w1", clientOptions{})
		require.NoError(t, err)
		c.waitAU(t, 5*time.Second)
		pub.stop()
		stream.Close()
		require.Equal(t, EndStreamClosed, waitEnd(t, ends))
	})
	t.Run("never connects", func(t *testing.T) {
		stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
		srv, _ := testServer(t, stream)
		srv.ConnectTimeout = 300 * time.Millisecond
		ends := newEndRecorder()
		srv.OnSessionEnd = ends.record
		pc, offer := newClientPeer(t)
		defer pc.Close()
		_, _, err := srv.NewSession(context.Background(), "w1", offer) // the answer is never applied
		require.NoError(t, err)
		require.Equal(t, EndConnectTimeout, waitEnd(t, ends))
	})
	t.Run("server closes", func(t *testing.T) {
		stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
		srv, _ := testServer(t, stream)
		ends := newEndRecorder()
		srv.OnSessionEnd = ends.record
		c, err := dialWHEP(t, srv, "w1", clientOptions{})
		require.NoError(t, err)
		c.waitAU(t, 5*time.Second)
		srv.Close()
		require.Equal(t, EndServerClosed, waitEnd(t, ends))
		_, _, err = srv.NewSession(context.Background(), "w1", "v=0")
		require.ErrorIs(t, err, apperr.Unavailable)
	})
}

func waitEnd(t *testing.T, e *endRecorder) string {
	t.Helper()
	select {
	case r := <-e.ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end")
		return ""
	}
}

// TestWHEPPLIResendsIDR: a PLI from the viewer gets it the GOP again, from
// the cached IDR, without asking the camera: this camera sends one IDR,
// then P-frames only.
func TestWHEPPLIResendsIDR(t *testing.T) {
	units := cameraUnits(t)
	oneIDR := []*media.Unit{units[0]}
	for range 10 {
		oneIDR = append(oneIDR, units[1:testGOP]...)
	}
	stream := NewStream("w1", cameraTrack(t), testLogger(t))
	t.Cleanup(stream.Close)
	startPublisher(t, stream, oneIDR, false)
	time.Sleep(100 * time.Millisecond)
	srv, _ := testServer(t, stream)
	c, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.NoError(t, err)
	first := c.waitAU(t, 5*time.Second)
	require.True(t, first.IDR)
	// Let the start's replay and some live P-frames pass (replays are at
	// least 500 ms apart).
	var last whepclient.AU
	for until := time.Now().Add(700 * time.Millisecond); time.Now().Before(until); {
		last = c.waitAU(t, 2*time.Second)
		require.False(t, last.IDR)
	}
	c.sendPLI(t)
	sent := time.Now()
	for {
		au := c.waitAU(t, 2*time.Second)
		if au.IDR {
			t.Logf("IDR after PLI in %s", au.Arrived.Sub(sent))
			require.Less(t, au.Arrived.Sub(sent), time.Second)
			require.Greater(t, au.RTPTimestamp-first.RTPTimestamp, last.RTPTimestamp-first.RTPTimestamp, "the replay comes after what was sent")
			break
		}
		last = au
	}
	st := stream.Stats()
	require.Len(t, st.PerReader, 1)
	require.Equal(t, uint64(2), st.PerReader[0].Replays)
}

func TestWHEPPublicIPs(t *testing.T) {
	stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
	reg := &Registry{}
	reg.Add(stream)
	srv := &WebRTCServer{Streams: reg, PublicIPs: []string{"203.0.113.7"}, Logger: testLogger(t)}
	require.NoError(t, srv.Initialize())
	t.Cleanup(srv.Close)
	c, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.NoError(t, err)
	require.Contains(t, c.Answer, fmt.Sprintf("203.0.113.7 %d typ host", srv.LocalUDPPort()))
	local := regexp.MustCompile(fmt.Sprintf(`a=candidate:\S+ 1 udp \d+ (\S+) %d typ host`, srv.LocalUDPPort()))
	var addrs []string
	for _, m := range local.FindAllStringSubmatch(c.Answer, -1) {
		addrs = append(addrs, m[1])
	}
	require.Contains(t, addrs, "203.0.113.7")
	require.Greater(t, len(addrs), 1, "local addresses stay: %v", addrs)
	c.waitAU(t, 5*time.Second)

	bad := &WebRTCServer{Streams: reg, PublicIPs: []string{"example.com"}}
	require.Error(t, bad.Initialize())
	bad = &WebRTCServer{Streams: reg, Interfaces: []string{"no-such-interface0"}}
	require.Error(t, bad.Initialize())
}

func TestWHEPAudio(t *testing.T) {
	stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
	stream.SetAudioTrack(media.Track{Codec: media.PCMA, ClockRate: 8000, Channels: 1})
	srv, _ := testServer(t, stream)
	c, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.NoError(t, err)
	require.Contains(t, c.Answer, "PCMA/8000")
	c.waitAU(t, 5*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			stream.WriteAudio(&media.Unit{PTS: int64(i) * 1800, Payload: bytes.Repeat([]byte{0xd5}, 160)})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-done }()
	var prev uint32
	for i := 0; i < 5; i++ {
		select {
		case p := <-c.audioPkts:
			require.Len(t, p.Payload, 160)
			if i > 0 {
				require.Equal(t, uint32(160), p.Timestamp-prev)
			}
			prev = p.Timestamp
		case <-time.After(5 * time.Second):
			t.Fatal("no audio")
		}
	}
}

// TestWHEPICEFailureEndsSession: a viewer that vanishes without a word
// (no DTLS close) is ended by ICE.
func TestWHEPICEFailureEndsSession(t *testing.T) {
	stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
	reg := &Registry{}
	reg.Add(stream)
	srv := &WebRTCServer{Streams: reg, Logger: testLogger(t)}
	srv.tune = func(se *webrtc.SettingEngine) {
		se.SetICETimeouts(200*time.Millisecond, 300*time.Millisecond, 100*time.Millisecond)
		se.DisableCloseByDTLS(true) // the close_notify is ignored: as if the viewer's network went away
	}
	require.NoError(t, srv.Initialize())
	t.Cleanup(srv.Close)
	ends := newEndRecorder()
	srv.OnSessionEnd = ends.record
	c, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.NoError(t, err)
	c.waitAU(t, 5*time.Second)
	c.Close()
	require.Equal(t, EndFailed, waitEnd(t, ends))
	require.Zero(t, srv.Viewers("w1"))
}

// TestWHEPH265 answers an H.265 offer for an H.265 camera and sends it.
func TestWHEPH265(t *testing.T) {
	s := NewStream("w1", media.Track{Codec: media.H265}, nil)
	t.Cleanup(s.Close)
	vps, sps, pps := []byte{0x40, 0x01, 0x0c}, []byte{0x42, 0x01, 0x01}, []byte{0x44, 0x01, 0xc0}
	s.WriteVideo(&media.Unit{AU: [][]byte{vps, sps, pps, append([]byte{0x26, 0x01}, make([]byte, 3000)...)}})
	srv, _ := testServer(t, s)

	me := &webrtc.MediaEngine{}
	require.NoError(t, me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH265, ClockRate: 90000,
			SDPFmtpLine: "level-id=93;profile-id=1;tier-flag=0;tx-mode=SRST"},
		PayloadType: 49,
	}, webrtc.RTPCodecTypeVideo))
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	require.NoError(t, err)
	_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly})
	require.NoError(t, err)
	got := make(chan []byte, 16)
	var wg sync.WaitGroup
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		wg.Add(1)
		defer wg.Done()
		d := &codecs.H265Depacketizer{}
		for {
			p, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			if b, err := d.Unmarshal(p.Payload); err == nil && len(b) > 0 {
				select {
				case got <- b:
				default:
				}
			}
		}
	})
	defer func() {
		_ = pc.GracefulClose()
		wg.Wait()
	}()
	offer, err := pc.CreateOffer(nil)
	require.NoError(t, err)
	gathered := webrtc.GatheringCompletePromise(pc)
	require.NoError(t, pc.SetLocalDescription(offer))
	<-gathered
	_, answer, err := srv.NewSession(context.Background(), "w1", pc.LocalDescription().SDP)
	require.NoError(t, err)
	require.Contains(t, answer, "H265/90000")
	require.NoError(t, pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}))
	select {
	case b := <-got:
		nalus := splitAnnexB(b)
		require.Equal(t, vps, nalus[0], "the IRAP starts with its VPS")
	case <-time.After(5 * time.Second):
		t.Fatal("no H.265 received")
	}
}

func TestAnnouncedAddresses(t *testing.T) {
	udp := func(ip string) net.Addr { return &net.UDPAddr{IP: net.ParseIP(ip), Port: 8189} }
	lan, lo, bridge := udp("192.168.1.5"), udp("127.0.0.1"), udp("172.17.0.1")
	tests := []struct {
		name    string
		addrs   []net.Addr
		allowed map[string]bool
		want    []net.Addr
	}{
		{"loopback dropped when another is left", []net.Addr{lo, lan, bridge}, nil, []net.Addr{lan, bridge}},
		{"loopback alone stays", []net.Addr{lo}, nil, []net.Addr{lo}},
		{"interfaces filter", []net.Addr{lo, lan, bridge}, map[string]bool{"192.168.1.5": true}, []net.Addr{lan}},
		{"filter leaves nothing", []net.Addr{lo, lan}, map[string]bool{"10.0.0.1": true}, nil},
		{"loopback listed stays", []net.Addr{lo, lan, bridge}, map[string]bool{"127.0.0.1": true, "192.168.1.5": true}, []net.Addr{lo, lan}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, announced(tt.addrs, tt.allowed))
		})
	}
}

// TestWHEPNoICEFreesSlot: offers whose client never uses the answer (no
// ICE check ever comes) take the window's viewer slots only until
// ICEStartTimeout, not ConnectTimeout; a real viewer is not ended by it.
func TestWHEPNoICEFreesSlot(t *testing.T) {
	stream, _ := liveStream(t, "w1", 100*time.Millisecond, false)
	reg := &Registry{}
	reg.Add(stream)
	srv := &WebRTCServer{Streams: reg, MaxViewersPerStream: 3, ConnectTimeout: 10 * time.Minute,
		ICEStartTimeout: 500 * time.Millisecond, Logger: testLogger(t)}
	require.NoError(t, srv.Initialize())
	t.Cleanup(srv.Close)
	ends := newEndRecorder()
	srv.OnSessionEnd = ends.record

	real, err := dialWHEP(t, srv, "w1", clientOptions{})
	require.NoError(t, err)
	real.waitAU(t, 10*time.Second)
	for range 2 {
		pc, offer := newClientPeer(t)
		_, _, err := srv.NewSession(context.Background(), "w1", offer)
		require.NoError(t, err)
		require.NoError(t, pc.Close()) // never sets the answer: no ICE
	}
	require.Equal(t, 3, srv.Viewers("w1"))
	_, _, err = srv.NewSession(context.Background(), "w1", mustOffer(t))
	require.ErrorIs(t, err, apperr.Conflict, "the window is full")
	for range 2 {
		select {
		case reason := <-ends.ch:
			require.Equal(t, EndNoICE, reason)
		case <-time.After(20 * time.Second):
			t.Fatal("the sessions without ICE were not ended (ConnectTimeout is 10 minutes)")
		}
	}
	require.Equal(t, 1, srv.Viewers("w1"), "the real viewer stays")
	srv.mu.Lock()
	for _, ss := range srv.sessions {
		require.True(t, ss.iceStarted(), "the real viewer's checks are seen")
	}
	srv.mu.Unlock()
	real.waitAU(t, 10*time.Second)
}

func mustOffer(t testing.TB) string {
	t.Helper()
	pc, offer := newClientPeer(t)
	require.NoError(t, pc.Close())
	return offer
}
