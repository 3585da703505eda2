package streaming

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// FuzzWHEPOffer answers arbitrary SDP offers for a live stream: an offer
// is answered or refused with an error of a kind the API maps to a 4xx (or
// 503/409), in words of our own; nothing panics and no refusal is an
// internal error (a 500).
func FuzzWHEPOffer(f *testing.F) {
	stream, _ := liveStream(f, "w1", 100*time.Millisecond, false)
	reg := &Registry{}
	reg.Add(stream)
	srv := &WebRTCServer{Streams: reg, MaxViewersPerStream: 64, Logger: testLogger(f)}
	if err := srv.Initialize(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(srv.Close)
	offer := mustOffer(f)
	f.Add(offer)
	f.Add(strings.ReplaceAll(offer, "\r\n", "\n"))
	f.Add(dropMedia(offer, "video"))
	f.Add(strings.ReplaceAll(offer, "H264/90000", "VP8/90000"))
	f.Add(strings.ReplaceAll(offer, "a=setup:actpass", "a=setup:passive"))
	f.Add(strings.ReplaceAll(offer, "recvonly", "sendonly"))
	f.Add("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, sdp string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		id, _, err := srv.NewSession(ctx, "w1", sdp)
		if err == nil {
			if err := srv.CloseSession(id); err != nil {
				t.Fatalf("close: %v", err)
			}
			return
		}
		for _, kind := range []error{apperr.Invalid, apperr.Conflict, apperr.Unavailable} {
			if errors.Is(err, kind) {
				if _, coded := apperr.CodeOf(err); !coded {
					t.Fatalf("a refusal without a code: %v", err)
				}
				return
			}
		}
		t.Fatalf("offer %q: an error of no kind (a 500): %v", sdp, err)
	})
}
