package streaming

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/stretchr/testify/require"
)

type sentRTP struct {
	hdr     rtp.Header
	payload []byte
}

// TestRepairerResends checks the responder's answers: a packet still in
// the history goes again (as RTX with its original sequence number first
// when RTX is negotiated), one gone from it counts as unrepaired and asks
// for a replay.
func TestRepairerResends(t *testing.T) {
	for _, rtx := range []bool{false, true} {
		var stats repairStats
		lost := 0
		it, err := repairFactory{stats: &stats, lost: func() { lost++ }}.NewInterceptor("")
		require.NoError(t, err)
		info := &interceptor.StreamInfo{SSRC: 111, RTCPFeedback: []interceptor.RTCPFeedback{{Type: "nack"}}}
		if rtx {
			info.SSRCRetransmission, info.PayloadTypeRetransmission = 222, 97
		}
		var out []sentRTP
		w := it.BindLocalStream(info, interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
			out = append(out, sentRTP{*h, p})
			return len(p), nil
		}))
		for seq := range 2000 {
			_, err := w.Write(&rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(seq), Timestamp: uint32(seq * 10), SSRC: 111},
				[]byte{byte(seq), byte(seq >> 8), 0xAA}, nil)
			require.NoError(t, err)
		}
		out = out[:0]
		nack := &rtcp.TransportLayerNack{MediaSSRC: 111, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{1990, 1991, 5})}
		raw, err := nack.Marshal()
		require.NoError(t, err)
		r := it.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
			return copy(b, raw), a, nil
		}))
		_, _, err = r.Read(make([]byte, 1500), nil)
		require.NoError(t, err)

		require.Len(t, out, 2, "rtx=%v: the two packets in the history", rtx)
		for i, seq := range []uint16{1990, 1991} {
			want := []byte{byte(seq), byte(seq >> 8), 0xAA}
			h := out[i].hdr
			require.Equal(t, uint32(seq*10), h.Timestamp)
			if rtx {
				require.Equal(t, uint32(222), h.SSRC)
				require.Equal(t, uint8(97), h.PayloadType)
				require.Equal(t, append([]byte{byte(seq >> 8), byte(seq)}, want...), out[i].payload, "OSN, then the payload")
				if i == 1 {
					require.Equal(t, out[0].hdr.SequenceNumber+1, h.SequenceNumber, "RTX has its own sequence")
				}
			} else {
				require.Equal(t, uint32(111), h.SSRC)
				require.Equal(t, seq, h.SequenceNumber)
				require.Equal(t, want, out[i].payload)
			}
		}
		require.Equal(t, uint64(1), stats.nacks.Load())
		require.Equal(t, uint64(3), stats.asked.Load())
		require.Equal(t, uint64(2), stats.resent.Load())
		require.Equal(t, 1, lost, "the packet gone from the history asks for a replay")
	}
}
