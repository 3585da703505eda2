package livebench

import (
	"time"

	"github.com/pion/rtp"

	"github.com/sunlight-gov/sunlight/simulator"
)

const (
	// holeTimeout is how long a missing packet is waited for before the
	// frames around it are given up as lost. A NACK's retransmission
	// takes a round trip (well under a millisecond on loopback) plus the
	// NACK generator's interval (100 ms); browsers wait about as long.
	holeTimeout = 500 * time.Millisecond
	// maxPending bounds the packets held behind a hole.
	maxPending = 2048
)

// H.264 NAL unit types (RFC 6184) the assembler looks at.
const (
	nalSlice = 1
	nalIDR   = 5
	nalSEI   = 6
	nalSPS   = 7
	nalPPS   = 8
	nalSTAPA = 24
	nalFUA   = 28
)

// frameRec is an access unit a viewer received whole.
type frameRec struct {
	Seq     uint64 // the camera's frame counter, from the SEI
	Sent    int64  // Unix ns the camera sent it, from the SEI
	Arrived int64  // Unix ns its last packet was in order at the viewer
	IDR     bool
}

// assemblerStats counts what an assembler saw.
type assemblerStats struct {
	Packets     uint64 // RTP packets received
	Duplicates  uint64 // packets received twice, or after their hole was given up
	LostPackets uint64 // packets never received (holes given up)
	Broken      uint64 // access units begun but not received whole
}

// assembler puts a viewer's RTP packets back in order (retransmissions
// arrive late) and rebuilds H.264 access units from them, just far enough
// to tell whether each is complete: every packet from its first NAL unit
// to its marker packet, no fragment missing, a slice, the send-time SEI,
// and SPS and PPS with an IDR. It hands complete ones to onFrame; the
// others are counted as broken (their frame counter then shows a gap).
//
// It does not copy slices: only their NAL types and the SEI matter.
type assembler struct {
	onFrame func(frameRec)
	now     func() time.Time

	started bool
	next    uint16 // the next sequence number to process
	pending map[uint16]pendingPacket

	// atBoundary is set when the last packet processed ended a frame and
	// none was lost since: the next packet starts a frame.
	atBoundary bool
	cur        auState

	stats assemblerStats
}

type pendingPacket struct {
	p  *rtp.Packet
	at time.Time
}

// auState is the access unit being assembled.
type auState struct {
	active bool
	ts     uint32
	// clean: nothing of the unit can have been lost before the first
	// packet seen (it followed a marker, or it begins with an SPS or the
	// send-time SEI, which go first).
	clean   bool
	first   bool // no NAL unit seen yet
	broken  bool
	fuOpen  bool
	fuType  byte
	sps     bool
	pps     bool
	idr     bool
	slice   bool
	stamped bool
	stamp   simulator.SendStamp
}

func newAssembler(onFrame func(frameRec)) *assembler {
	return &assembler{onFrame: onFrame, now: time.Now, pending: make(map[uint16]pendingPacket)}
}

// push takes the next packet as it arrived.
func (a *assembler) push(p *rtp.Packet) {
	now := a.now()
	a.stats.Packets++
	if !a.started {
		a.started, a.next = true, p.SequenceNumber
	}
	switch d := int16(p.SequenceNumber - a.next); {
	case d < 0:
		a.stats.Duplicates++
		return
	case d == 0:
		a.process(p, false, now)
		a.next++
		a.drain(now)
	default:
		if _, dup := a.pending[p.SequenceNumber]; dup {
			a.stats.Duplicates++
			return
		}
		a.pending[p.SequenceNumber] = pendingPacket{p: p, at: now}
	}
	// Give up on a hole that is too old: go on from the oldest packet held.
	for len(a.pending) > 0 {
		var (
			oldest  time.Time
			minDist = -1
			minSeq  uint16
		)
		for seq, pp := range a.pending {
			if oldest.IsZero() || pp.at.Before(oldest) {
				oldest = pp.at
			}
			if d := int(uint16(seq - a.next)); minDist < 0 || d < minDist {
				minDist, minSeq = d, seq
			}
		}
		if now.Sub(oldest) < holeTimeout && len(a.pending) <= maxPending {
			return
		}
		a.stats.LostPackets += uint64(minDist)
		a.next = minSeq
		pp := a.pending[minSeq]
		delete(a.pending, minSeq)
		a.process(pp.p, true, now)
		a.next++
		a.drain(now)
	}
}

// drain processes the packets held that are now in order.
func (a *assembler) drain(now time.Time) {
	for {
		pp, ok := a.pending[a.next]
		if !ok {
			return
		}
		delete(a.pending, a.next)
		a.process(pp.p, false, now)
		a.next++
	}
}

// process takes the packets in order; gap says packets were lost just
// before p.
func (a *assembler) process(p *rtp.Packet, gap bool, now time.Time) {
	if gap {
		if a.cur.active {
			a.cur.broken = true
		}
		a.atBoundary = false
	}
	if a.cur.active && p.Timestamp != a.cur.ts {
		a.cur.broken = true // its marker packet is missing
		a.finish(now)
		a.atBoundary = false
	}
	if !a.cur.active {
		a.cur = auState{active: true, ts: p.Timestamp, clean: a.atBoundary, first: true}
	}
	a.depacketize(p.Payload)
	if p.Marker {
		a.finish(now)
		a.atBoundary = true
	}
}

// depacketize reads the NAL units of one RTP payload (RFC 6184: single
// NAL unit, STAP-A, FU-A).
func (a *assembler) depacketize(payload []byte) {
	if len(payload) == 0 {
		a.cur.broken = true
		return
	}
	switch t := payload[0] & 0x1f; t {
	case nalSTAPA:
		b := payload[1:]
		for len(b) > 0 {
			if len(b) < 2 {
				a.cur.broken = true
				return
			}
			n := int(b[0])<<8 | int(b[1])
			b = b[2:]
			if n == 0 || n > len(b) {
				a.cur.broken = true
				return
			}
			a.nal(b[:n])
			b = b[n:]
		}
	case nalFUA:
		if len(payload) < 2 {
			a.cur.broken = true
			return
		}
		start, end, typ := payload[1]&0x80 != 0, payload[1]&0x40 != 0, payload[1]&0x1f
		switch {
		case start:
			if a.cur.fuOpen {
				a.cur.broken = true // the previous fragmented unit lost its end
			}
			a.cur.fuOpen, a.cur.fuType = true, typ
			a.firstNAL(typ, false)
		case !a.cur.fuOpen || a.cur.fuType != typ:
			a.cur.broken = true // its start is missing
			return
		}
		if end {
			a.cur.fuOpen = false
			a.nalType(typ)
		}
	default:
		if t == 0 || t > nalSTAPA {
			a.cur.broken = true // STAP-B, MTAP, FU-B: never sent by the server
			return
		}
		a.nal(payload)
	}
}

// nal takes a whole NAL unit.
func (a *assembler) nal(n []byte) {
	typ := n[0] & 0x1f
	ours := false
	if typ == nalSEI {
		if st, ok := simulator.ParseSendStampSEI(n); ok {
			ours = true
			a.cur.stamped, a.cur.stamp = true, st
		}
	}
	a.firstNAL(typ, ours)
	a.nalType(typ)
}

// firstNAL marks the unit clean when its first NAL unit is one that
// always comes first.
func (a *assembler) firstNAL(typ byte, ourSEI bool) {
	if !a.cur.first {
		return
	}
	a.cur.first = false
	if typ == nalSPS || ourSEI {
		a.cur.clean = true
	}
}

func (a *assembler) nalType(typ byte) {
	switch typ {
	case nalSPS:
		a.cur.sps = true
	case nalPPS:
		a.cur.pps = true
	case nalIDR:
		a.cur.idr, a.cur.slice = true, true
	case nalSlice:
		a.cur.slice = true
	}
}

// finish ends the current unit: complete ones go to onFrame.
func (a *assembler) finish(now time.Time) {
	c := a.cur
	a.cur = auState{}
	if !c.active {
		return
	}
	ok := !c.broken && c.clean && !c.fuOpen && c.slice && c.stamped && (!c.idr || (c.sps && c.pps))
	if !ok {
		a.stats.Broken++
		return
	}
	a.onFrame(frameRec{Seq: c.stamp.Seq, Sent: c.stamp.Time.UnixNano(), Arrived: now.UnixNano(), IDR: c.idr})
}
