package streaming

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// historySize is how many of its latest video packets a session can
// resend: ~1.5 s of a 1 Mbit/s stream at ~100 packets/s, ten round trips
// of the slowest network we serve.
const historySize = 1024

// repairStats counts a session's loss repair: the NACKs its viewer sent,
// the packets they asked for, and the packets resent. Asked for but not
// resent is a loss not repaired: the packet had left the history, and the
// session replays the GOP to that viewer instead.
type repairStats struct {
	nacks, asked, resent atomic.Uint64
}

// repairer is a session's NACK responder: an interceptor that keeps the
// latest historySize video packets the session sent and resends those a
// NACK asks for, as RTX (RFC 4588: its own SSRC, sequence numbers and
// payload type, the original sequence number first in the payload) when
// the viewer offered RTX, as browsers do, else as they were.
//
// pion has a responder, but it sends RTX only from a history of copies of
// every packet (header and payload, per viewer); this one keeps headers
// and the stream's shared payloads (see viewerTrack), which never change:
// 1024 headers per viewer, no copy on the send path.
type repairer struct {
	interceptor.NoOp
	stats *repairStats
	// lost is called when a NACK asks for a packet gone from the
	// history: the viewer cannot decode until the next keyframe.
	lost func()

	mu      sync.Mutex
	streams map[uint32]*sentHistory // guarded by mu; by media SSRC
}

// sentHistory is one local stream's sent packets and its RTX stream.
type sentHistory struct {
	writer  interceptor.RTPWriter
	rtxSSRC uint32 // 0: no RTX negotiated
	rtxPT   uint8

	mu     sync.Mutex
	ring   [historySize]sentPacket // guarded by mu: by sequence number
	rtxSeq uint16                  // guarded by mu
}

type sentPacket struct {
	hdr     rtp.Header
	payload []byte
	ok      bool
}

type repairFactory struct {
	stats *repairStats
	lost  func()
}

func (f repairFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &repairer{stats: f.stats, lost: f.lost, streams: map[uint32]*sentHistory{}}, nil
}

// wantsNACK tells whether a stream negotiated generic NACK (video does,
// audio does not).
func wantsNACK(info *interceptor.StreamInfo) bool {
	for _, fb := range info.RTCPFeedback {
		if fb.Type == "nack" && fb.Parameter == "" {
			return true
		}
	}
	return false
}

func (r *repairer) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !wantsNACK(info) {
		return writer
	}
	h := &sentHistory{writer: writer, rtxSSRC: info.SSRCRetransmission, rtxPT: info.PayloadTypeRetransmission,
		rtxSeq: uint16(rand.Uint32())}
	if h.rtxPT == 0 {
		h.rtxSSRC = 0
	}
	r.mu.Lock()
	r.streams[info.SSRC] = h
	r.mu.Unlock()
	ssrc := info.SSRC
	return interceptor.RTPWriterFunc(func(hdr *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if hdr.SSRC == ssrc {
			h.mu.Lock()
			h.ring[hdr.SequenceNumber%historySize] = sentPacket{hdr: *hdr, payload: payload, ok: true}
			h.mu.Unlock()
		}
		return writer.Write(hdr, payload, a)
	})
}

func (r *repairer) UnbindLocalStream(info *interceptor.StreamInfo) {
	r.mu.Lock()
	delete(r.streams, info.SSRC)
	r.mu.Unlock()
}

func (r *repairer) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
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
			return n, attr, nil // not ours to judge: the session skips it
		}
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				r.resend(nack)
			}
		}
		return n, attr, nil
	})
}

// resend answers one NACK, on the RTCP reader's goroutine: the writes
// only queue the packets (batchConn).
func (r *repairer) resend(nack *rtcp.TransportLayerNack) {
	r.stats.nacks.Add(1)
	r.mu.Lock()
	h := r.streams[nack.MediaSSRC]
	r.mu.Unlock()
	missing := false
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			r.stats.asked.Add(1)
			if h == nil || !h.resend(seq) {
				missing = true
				continue
			}
			r.stats.resent.Add(1)
		}
	}
	if missing && r.lost != nil {
		r.lost()
	}
}

// resend sends packet seq again, if the history still has it.
func (h *sentHistory) resend(seq uint16) bool {
	h.mu.Lock()
	p := h.ring[seq%historySize]
	if !p.ok || p.hdr.SequenceNumber != seq {
		h.mu.Unlock()
		return false
	}
	hdr, payload := p.hdr, p.payload
	if h.rtxSSRC != 0 {
		rtx := make([]byte, 2+len(payload))
		rtx[0], rtx[1] = byte(seq>>8), byte(seq)
		copy(rtx[2:], payload)
		hdr.SSRC, hdr.PayloadType, hdr.SequenceNumber = h.rtxSSRC, h.rtxPT, h.rtxSeq
		h.rtxSeq++
		payload = rtx
	}
	h.mu.Unlock()
	_, err := h.writer.Write(&hdr, payload, nil)
	return err == nil
}
