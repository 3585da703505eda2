package livebench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// viewer is one WHEP client: a receive-only pion peer that offers H.264
// (constrained baseline, packetization mode 1, as a browser does), NACKs
// lost packets and sends receiver reports, and reassembles what it gets
// (see assembler).
type viewer struct {
	camera   string
	pc       *webrtc.PeerConnection
	http     *http.Client
	location string    // the session's URL, for the DELETE
	posted   time.Time // just before the offer was POSTed
	gotIDR   chan struct{}
	idrOnce  sync.Once
	wg       sync.WaitGroup // the track reader

	connected atomic.Int64 // Unix ns the peer connected; 0 before

	mu sync.Mutex
	// Guarded by mu.
	frames      []frameRec // complete frames, each frame counter once, in order
	haveSeq     bool
	maxSeq      uint64
	firstIDR    int64 // Unix ns of the first complete IDR; 0 before
	firstWasIDR bool  // the first complete frame was an IDR
	replayed    uint64
	asm         assemblerStats
}

// loopbackInterfaces returns the names of the loopback interfaces.
func loopbackInterfaces() map[string]bool {
	names := map[string]bool{}
	ifaces, err := net.Interfaces()
	if err != nil {
		return names
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagLoopback != 0 {
			names[iface.Name] = true
		}
	}
	return names
}

// newViewerPeer builds the receiving peer: loopback only, no mDNS.
func newViewerPeer(loopback map[string]bool) (*webrtc.PeerConnection, error) {
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: fb,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		},
		PayloadType: 102,
	}, webrtc.RTPCodecTypeVideo)
	if err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureNack(me, reg); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetInterfaceFilter(func(name string) bool { return loopback[name] })
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A packet resent after a NACK may come hundreds of packets after a
	// GOP replay's burst: browsers keep a wider window than pion's 64.
	se.SetSRTPReplayProtectionWindow(1024)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	return api.NewPeerConnection(webrtc.Configuration{})
}

// dialViewer joins a camera's stream at whepURL (the WHEP endpoint of
// the camera's window). It returns once the answer is applied; media
// follows.
func dialViewer(ctx context.Context, client *http.Client, whepURL, camera string, loopback map[string]bool) (*viewer, error) {
	pc, err := newViewerPeer(loopback)
	if err != nil {
		return nil, fmt.Errorf("viewer %s: peer: %w", camera, err)
	}
	v := &viewer{camera: camera, pc: pc, http: client, gotIDR: make(chan struct{})}
	fail := func(err error) (*viewer, error) {
		_ = pc.Close()
		v.wg.Wait()
		return nil, fmt.Errorf("viewer %s: %w", camera, err)
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			v.connected.CompareAndSwap(0, time.Now().UnixNano())
		}
	})
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		v.wg.Add(1)
		defer v.wg.Done()
		v.read(track)
	})
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo,
		webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		return fail(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fail(ctx.Err())
	}

	v.posted = time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, whepURL, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := client.Do(req)
	if err != nil {
		return fail(err)
	}
	answer, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fail(fmt.Errorf("POST %s: %s: %s", whepURL, resp.Status, strings.TrimSpace(string(answer))))
	}
	loc, err := resp.Location()
	if err != nil {
		return fail(fmt.Errorf("POST %s: no Location: %w", whepURL, err))
	}
	v.location = loc.String()
	err = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)})
	if err != nil {
		v.hangUp()
		return fail(err)
	}
	return v, nil
}

// read reads the video track until the peer closes.
func (v *viewer) read(track *webrtc.TrackRemote) {
	if track.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	asm := newAssembler(v.onFrame)
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		asm.push(p)
		v.mu.Lock()
		v.asm = asm.stats
		v.mu.Unlock()
	}
}

func (v *viewer) onFrame(f frameRec) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.haveSeq && f.Seq <= v.maxSeq {
		v.replayed++ // a GOP replayed again: not new
		return
	}
	if !v.haveSeq {
		v.firstWasIDR = f.IDR
	}
	v.haveSeq, v.maxSeq = true, f.Seq
	v.frames = append(v.frames, f)
	if f.IDR && v.firstIDR == 0 {
		v.firstIDR = f.Arrived
		v.idrOnce.Do(func() { close(v.gotIDR) })
	}
}

// hangUp sends the WHEP DELETE; errors are of no interest at the end.
func (v *viewer) hangUp() {
	if v.location == "" {
		return
	}
	req, err := http.NewRequest(http.MethodDelete, v.location, nil)
	if err != nil {
		return
	}
	if resp, err := v.http.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// close ends the session and the peer, and waits for the reader.
func (v *viewer) close() {
	v.hangUp()
	_ = v.pc.Close()
	v.wg.Wait()
}

// viewerReport is what one viewer saw.
type viewerReport struct {
	Camera string `json:"camera"`
	// From the POST to the peer connected (ICE, DTLS) and to the first
	// complete IDR access unit, in ms.
	ConnectMs   float64 `json:"connect_ms"`
	FirstIDRMs  float64 `json:"first_idr_ms"`
	FirstWasIDR bool    `json:"first_was_idr"`
	// Frames of the measurement window: sent by the camera (from the
	// frame counters around the window), received whole, and lost.
	Expected int `json:"expected"`
	Received int `json:"received"`
	Lost     int `json:"lost"`
	// TailUnknown: no frame sent after the window arrived, so frames lost
	// at its very end could not be counted.
	TailUnknown bool           `json:"tail_unknown,omitempty"`
	Replayed    uint64         `json:"replayed"`
	Assembler   assemblerStats `json:"assembler"`
}

// window reports the frames the camera sent in [t0, t1) (Unix ns) and
// returns their latencies (arrival − send).
func (v *viewer) window(t0, t1 int64) (viewerReport, []time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := viewerReport{Camera: v.camera, FirstWasIDR: v.firstWasIDR, Replayed: v.replayed, Assembler: v.asm}
	if c := v.connected.Load(); c != 0 {
		r.ConnectMs = ms(time.Duration(c - v.posted.UnixNano()))
	}
	if v.firstIDR != 0 {
		r.FirstIDRMs = ms(time.Duration(v.firstIDR - v.posted.UnixNano()))
	}
	if len(v.frames) == 0 {
		return r, nil
	}
	// The window's frame counters: after the last frame sent before t0,
	// up to the first frame sent at or after t1.
	lo, hi := v.frames[0].Seq, v.frames[len(v.frames)-1].Seq
	r.TailUnknown = true
	for _, f := range v.frames {
		if f.Sent < t0 {
			lo = f.Seq + 1
		}
		if f.Sent >= t1 {
			hi = f.Seq - 1
			r.TailUnknown = false
			break
		}
	}
	if hi < lo {
		return r, nil
	}
	var lat []time.Duration
	for _, f := range v.frames {
		if f.Seq >= lo && f.Seq <= hi {
			r.Received++
			lat = append(lat, time.Duration(f.Arrived-f.Sent))
		}
	}
	r.Expected = int(hi - lo + 1)
	r.Lost = r.Expected - r.Received
	return r, lat
}

// viewerURL joins the WHEP base URL and a window id.
func viewerURL(base, window string) string {
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(window)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
