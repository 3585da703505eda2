// Package whepclient is a small WHEP (RFC 9725) viewer built on pion, for
// tests and load tools: it posts a complete recvonly offer, plays the H.264
// answer, and hands out the received access units.
package whepclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// AU is one received H.264 access unit.
type AU struct {
	// AnnexB is the unit's NAL units, each with a start code.
	AnnexB []byte
	// IDR is true when the unit holds an IDR slice.
	IDR bool
	// Complete is false when a packet of the unit was lost.
	Complete bool
	// RTPTimestamp is the unit's RTP timestamp.
	RTPTimestamp uint32
	// Arrived is when its last packet arrived.
	Arrived time.Time
}

// Client is one WHEP viewer.
type Client struct {
	// Posted is when the offer was posted.
	Posted time.Time
	// Location is the session URL from the answer.
	Location string

	pc     *webrtc.PeerConnection
	header http.Header
	units  chan AU
	done   chan struct{}
	wg     sync.WaitGroup
	once   sync.Once
}

// Dial posts an offer to endpoint (a WHEP URL) with the given extra headers
// (say, Authorization) and returns once the answer is applied. Received
// units queue in a buffer of queue units; when it is full the newest are
// dropped (and a gap is visible in the timestamps).
func Dial(ctx context.Context, endpoint string, header http.Header, queue int) (*Client, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		PayloadType: 102,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, err
	}
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	c := &Client{pc: pc, header: header, units: make(chan AU, queue), done: make(chan struct{})}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		pc.Close()
		return nil, err
	}
	pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if track.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.read(track)
		}()
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		pc.Close()
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		pc.Close()
		return nil, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		pc.Close()
		return nil, ctx.Err()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		pc.Close()
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/sdp")
	c.Posted = time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pc.Close()
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		pc.Close()
		return nil, fmt.Errorf("WHEP POST: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	loc, err := url.Parse(endpoint)
	if err == nil {
		if ref, err := url.Parse(resp.Header.Get("Location")); err == nil {
			c.Location = loc.ResolveReference(ref).String()
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		pc.Close()
		return nil, fmt.Errorf("apply answer: %w", err)
	}
	return c, nil
}

// Units is the channel of received access units; it is closed when the
// session ends.
func (c *Client) Units() <-chan AU { return c.units }

// Next waits for the next unit.
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

func (c *Client) read(track *webrtc.TrackRemote) {
	defer close(c.units)
	var (
		depack   codecs.H264Packet
		buf      bytes.Buffer
		complete = true
		lastSeq  uint16
		haveSeq  bool
	)
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		if haveSeq && pkt.SequenceNumber != lastSeq+1 {
			complete = false
		}
		lastSeq, haveSeq = pkt.SequenceNumber, true
		annexB, err := depack.Unmarshal(pkt.Payload)
		if err != nil {
			complete = false
		} else {
			buf.Write(annexB)
		}
		if !pkt.Marker {
			continue
		}
		data := append([]byte(nil), buf.Bytes()...)
		au := AU{AnnexB: data, IDR: hasIDR(data), Complete: complete, RTPTimestamp: pkt.Timestamp, Arrived: time.Now()}
		buf.Reset()
		complete = true
		select {
		case c.units <- au:
		case <-c.done:
			return
		default:
		}
	}
}

// hasIDR looks for an IDR slice (NAL type 5) after a start code.
func hasIDR(b []byte) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 && b[i+3]&0x1f == 5 {
			return true
		}
	}
	return false
}

// Close ends the session: a DELETE on its Location (errors ignored: the
// server may be gone) and the peer connection closed. Calling it again
// does nothing.
func (c *Client) Close() {
	c.once.Do(c.close)
}

func (c *Client) close() {
	if c.Location != "" {
		req, err := http.NewRequest(http.MethodDelete, c.Location, nil)
		if err == nil {
			for k, v := range c.header {
				req.Header[k] = v
			}
			if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	close(c.done)
	_ = c.pc.Close()
	c.wg.Wait()
}
