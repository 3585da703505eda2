package streaming

import (
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// repairStats counts a session's loss repair: the NACKs its viewer sent,
// the packets they asked for, and the packets resent (by pion's NACK
// responder, from the session's history). Asked for but not resent is a
// loss not repaired: the packet had left the history (the viewer then
// asks for a keyframe, which replays the GOP).
type repairStats struct {
	nacks, asked, resent atomic.Uint64
}

// repairCounter is an interceptor, placed after the NACK responder (nearer
// the network), that fills a session's repairStats: it reads the viewer's
// RTCP for NACKs and watches the RTP going out for sequence numbers that
// go back (a retransmission: the session has no RTX stream, so a resend
// carries its original number).
type repairCounter struct {
	interceptor.NoOp
	stats *repairStats
}

type repairCounterFactory struct{ stats *repairStats }

func (f repairCounterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &repairCounter{stats: f.stats}, nil
}

func (c *repairCounter) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		if attr == nil {
			attr = interceptor.Attributes{}
		}
		pkts, err := attr.GetRTCPPackets(b[:n])
		if err != nil {
			return n, attr, nil // not ours to judge
		}
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				c.stats.nacks.Add(1)
				for _, pair := range nack.Nacks {
					c.stats.asked.Add(uint64(len(pair.PacketList())))
				}
			}
		}
		return n, attr, nil
	})
}

func (c *repairCounter) BindLocalStream(_ *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	// The newest sequence number sent, -1 before any. New packets come
	// from one goroutine (the fanout); resends, from the responder's,
	// only read it.
	var last atomic.Int32
	last.Store(-1)
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if l := last.Load(); l >= 0 && int16(h.SequenceNumber-uint16(l)) <= 0 {
			c.stats.resent.Add(1)
		} else {
			last.Store(int32(h.SequenceNumber))
		}
		return writer.Write(h, payload, a)
	})
}
