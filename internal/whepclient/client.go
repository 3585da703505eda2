// Package whepclient is the WHEP (RFC 9725) viewer of Sunlight's tests and
// benchmarks, built on pion: a receive-only peer that offers what a
// browser offers (H.264 in several profiles, NACK and PLI feedback,
// receiver reports, optionally audio), posts a complete offer, applies the
// answer, puts the RTP packets back in order (Reorderer) and hands out the
// received access units, or the ordered packets to a caller's own
// assembler.
package whepclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Options configure a viewer. The zero value is a browser-like video
// viewer that signals over HTTP.
type Options struct {
	// Header is added to the POST and the DELETE (say, Authorization).
	Header http.Header
	// HTTPClient posts the offer and deletes the session; nil means
	// http.DefaultClient (and a 5 s timeout for the DELETE).
	HTTPClient *http.Client
	// Signal, when set, replaces the HTTP POST: it gets the offer and
	// returns the answer and the session's location (for an in-process
	// server, its session id). Close then sends no DELETE.
	Signal func(ctx context.Context, offer string) (answer, location string, err error)
	// AnswerFilter, when set, rewrites the answer before it is applied.
	AnswerFilter func(answer string) string
	// Interfaces, when set, are the only network interfaces whose
	// addresses become candidates, and mDNS is off: a load tool's viewers
	// on the server's own host list the loopback interfaces.
	Interfaces []string
	// Audio offers to receive audio too (Opus, PCMU, PCMA), as a browser
	// does; its packets go to OnAudio (dropped when it is nil).
	Audio   bool
	OnAudio func(*rtp.Packet)
	// RTX offers RTX (RFC 4588) with every H.264 format, as browsers do:
	// resends then come on a stream of their own, which pion unwraps.
	RTX bool
	// OnPacket, when set, gets the video packets in sequence order (see
	// Reorderer) instead of the built-in access unit assembly; Units then
	// stays empty. It runs on the track's reader goroutine.
	OnPacket func(p *rtp.Packet, gap bool)
	// Queue is how many access units Units buffers (0 means 256); when it
	// is full the newest are dropped (a gap shows in the timestamps).
	Queue int
}

// Client is one WHEP viewer.
type Client struct {
	// Posted is when the offer was posted (or handed to Signal).
	Posted time.Time
	// Location is the session URL from the answer (or Signal's location).
	Location string
	// Answer is the SDP answer as the server sent it.
	Answer string

	opts      Options
	pc        *webrtc.PeerConnection
	units     chan AU
	done      chan struct{} // closed when the peer is closed or failed
	doneOnce  sync.Once
	closeOnce sync.Once
	wg        sync.WaitGroup // the track readers
	connected atomic.Int64   // Unix ns the peer connected; 0 before
	videoSSRC atomic.Uint32
	reorder   atomic.Pointer[Reorderer]
}

// NewPeer builds the receiving peer and its offer, with every ICE
// candidate gathered (WHEP has no trickle here).
func NewPeer(opts Options) (*webrtc.PeerConnection, string, error) {
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
		if opts.RTX {
			err := me.RegisterCodec(webrtc.RTPCodecParameters{
				RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000,
					SDPFmtpLine: fmt.Sprintf("apt=%d", c.pt)},
				PayloadType: c.pt + 1,
			}, webrtc.RTPCodecTypeVideo)
			if err != nil {
				return nil, "", err
			}
		}
	}
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}
	if opts.Audio {
		kinds = append(kinds, webrtc.RTPCodecTypeAudio)
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
	if len(opts.Interfaces) > 0 {
		se.SetInterfaceFilter(func(name string) bool { return slices.Contains(opts.Interfaces, name) })
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
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
	for _, kind := range kinds {
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

// Dial posts an offer to endpoint (a WHEP URL; unused with opts.Signal)
// and returns once the answer is applied; media follows.
func Dial(ctx context.Context, endpoint string, opts Options) (*Client, error) {
	if opts.Queue <= 0 {
		opts.Queue = 256
	}
	pc, offer, err := NewPeer(opts)
	if err != nil {
		return nil, fmt.Errorf("WHEP viewer: peer: %w", err)
	}
	c := &Client{opts: opts, pc: pc, units: make(chan AU, opts.Queue), done: make(chan struct{})}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			c.connected.CompareAndSwap(0, time.Now().UnixNano())
		case webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateFailed:
			c.doneOnce.Do(func() { close(c.done) })
		}
	})
	c.wg.Add(1) // released by Close; OnTrack handlers add themselves first
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		defer c.wg.Done()
		c.read(track)
	})
	fail := func(err error) (*Client, error) {
		c.wg.Done()
		_ = pc.Close()
		return nil, err
	}
	c.Posted = time.Now()
	if opts.Signal != nil {
		c.Answer, c.Location, err = opts.Signal(ctx, offer)
	} else {
		c.Answer, c.Location, err = c.post(ctx, endpoint, offer)
	}
	if err != nil {
		return fail(err)
	}
	answer := c.Answer
	if opts.AnswerFilter != nil {
		answer = opts.AnswerFilter(answer)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.hangUp()
		return fail(fmt.Errorf("WHEP viewer: apply answer: %w", err))
	}
	return c, nil
}

// post sends the offer and returns the answer and the session's URL.
func (c *Client) post(ctx context.Context, endpoint, offer string) (answer, location string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := c.httpClient(0).Do(req)
	if err != nil {
		return "", "", err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", "", fmt.Errorf("WHEP POST %s: %s: %s", endpoint, resp.Status, bytes.TrimSpace(body))
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return "", "", err
	}
	ref, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		return "", "", fmt.Errorf("WHEP POST %s: no Location in the answer", endpoint)
	}
	return string(body), base.ResolveReference(ref).String(), nil
}

func (c *Client) httpClient(timeout time.Duration) *http.Client {
	if c.opts.HTTPClient != nil {
		return c.opts.HTTPClient
	}
	if timeout > 0 {
		return &http.Client{Timeout: timeout}
	}
	return http.DefaultClient
}

// read reads one track until the peer closes.
func (c *Client) read(track *webrtc.TrackRemote) {
	if track.Kind() == webrtc.RTPCodecTypeAudio {
		for {
			p, _, err := track.ReadRTP()
			if err != nil {
				return
			}
			if c.opts.OnAudio != nil {
				c.opts.OnAudio(p)
			}
		}
	}
	c.videoSSRC.Store(uint32(track.SSRC()))
	emit := c.opts.OnPacket
	if emit == nil {
		defer close(c.units)
		b := &unitBuilder{out: func(au AU) {
			select {
			case c.units <- au:
			default:
			}
		}}
		emit = b.packet
	}
	r := NewReorderer(emit, nil)
	c.reorder.Store(r)
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		r.Push(p)
	}
}

// Units is the channel of received access units; it is closed when the
// video track ends.
func (c *Client) Units() <-chan AU { return c.units }

// Next waits for the next access unit.
func (c *Client) Next(timeout time.Duration) (AU, error) {
	select {
	case au, ok := <-c.units:
		if !ok {
			return AU{}, errors.New("session ended")
		}
		return au, nil
	case <-time.After(timeout):
		return AU{}, fmt.Errorf("no video for %s", timeout)
	}
}

// Connected returns when the peer connection first connected (ICE and
// DTLS done), or the zero time.
func (c *Client) Connected() time.Time {
	if ns := c.connected.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Done is closed when the peer connection is closed or has failed.
func (c *Client) Done() <-chan struct{} { return c.done }

// Stats returns the video packets' counts (zero before the track starts).
func (c *Client) Stats() ReorderStats {
	if r := c.reorder.Load(); r != nil {
		return r.Stats()
	}
	return ReorderStats{}
}

// PLI asks the server for a keyframe, as a browser does after a loss.
func (c *Client) PLI() error {
	ssrc := c.videoSSRC.Load()
	if ssrc == 0 {
		return errors.New("no video track yet")
	}
	return c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// hangUp sends the WHEP DELETE; errors are ignored (the server may be
// gone).
func (c *Client) hangUp() {
	if c.opts.Signal != nil || c.Location == "" {
		return
	}
	req, err := http.NewRequest(http.MethodDelete, c.Location, nil)
	if err != nil {
		return
	}
	for k, v := range c.opts.Header {
		req.Header[k] = v
	}
	if resp, err := c.httpClient(5 * time.Second).Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// Close ends the session: the DELETE (over HTTP), the peer connection
// closed, and its readers waited for. Calling it again does nothing.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		c.hangUp()
		_ = c.pc.GracefulClose()
		c.doneOnce.Do(func() { close(c.done) })
		c.wg.Done()
		c.wg.Wait()
	})
}
