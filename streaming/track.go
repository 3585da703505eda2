package streaming

import (
	"strings"
	"sync"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// viewerTrack is the local track of one viewer's PeerConnection. It sends
// the stream's shared payloads under this viewer's header (sequence
// number, timestamp, SSRC, payload type).
//
// pion's TrackLocalStaticRTP would do, but it writes every packet from a
// pooled header that it resets afterwards, so the NACK responder must copy
// each packet (header and payload) into its history: a sixth of the send
// path and ~1.5 MB per viewer. viewerTrack gives each packet a header of
// its own and the payloads never change, so the responder keeps both
// without copying (nack.DisableCopy).
type viewerTrack struct {
	codec    webrtc.RTPCodecCapability
	id       string
	streamID string

	mu sync.RWMutex
	// Guarded by mu: the binding (one: a viewerTrack has one peer).
	w    webrtc.TrackLocalWriter
	ssrc uint32
	pt   uint8
}

func newViewerTrack(codec webrtc.RTPCodecCapability, id, streamID string) *viewerTrack {
	return &viewerTrack{codec: codec, id: id, streamID: streamID}
}

// Bind takes the negotiated codec of our MIME type: the media engine of a
// session has only the one codec picked from the offer.
func (t *viewerTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.codec.MimeType) {
			t.mu.Lock()
			t.w, t.ssrc, t.pt = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(c.PayloadType)
			t.mu.Unlock()
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
}

// Unbind drops the binding: later writes are no-ops.
func (t *viewerTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
	return nil
}

func (t *viewerTrack) ID() string       { return t.id }
func (t *viewerTrack) RID() string      { return "" }
func (t *viewerTrack) StreamID() string { return t.streamID }

func (t *viewerTrack) Kind() webrtc.RTPCodecType {
	if strings.HasPrefix(t.codec.MimeType, "audio/") {
		return webrtc.RTPCodecTypeAudio
	}
	return webrtc.RTPCodecTypeVideo
}

// writeRTP sends one packet; a write before Bind or after Unbind is
// dropped, as pion's own tracks do.
func (t *viewerTrack) writeRTP(marker bool, seq uint16, ts uint32, payload []byte) error {
	t.mu.RLock()
	w, ssrc, pt := t.w, t.ssrc, t.pt
	t.mu.RUnlock()
	if w == nil {
		return nil
	}
	h := &rtp.Header{Version: 2, Marker: marker, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc}
	_, err := w.WriteRTP(h, payload)
	return err
}
