package livebench

import (
	"time"

	"github.com/pion/rtp"

	"github.com/sunlight-gov/sunlight/internal/whepclient"
	"github.com/sunlight-gov/sunlight/simulator"
)

// The RTP payload types of H.264 (RFC 6184) the assembler reads, besides
// single NAL units.
const (
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

// assemblerStats counts what a viewer's packets and frames came to.
type assemblerStats struct {
	whepclient.ReorderStats
	Broken uint64 // access units begun but not received whole
}

// assembler rebuilds H.264 access units from a viewer's packets in
// sequence order (whepclient's Reorderer puts retransmissions back in
// place), just far enough to tell whether each is complete: every packet
// from its first NAL unit to its marker packet, no fragment missing, a
// slice, the send-time SEI, and SPS and PPS with an IDR. It hands complete
// ones to onFrame; the others are counted as broken (their frame counter
// then shows a gap).
//
// It does not copy slices: only their NAL types and the SEI matter.
type assembler struct {
	onFrame func(frameRec)

	// atBoundary is set when the last packet processed ended a frame and
	// none was lost since: the next packet starts a frame.
	atBoundary bool
	cur        auState

	broken uint64
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
	return &assembler{onFrame: onFrame}
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
	if typ == whepclient.NALSEI {
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
	if typ == whepclient.NALSPS || ourSEI {
		a.cur.clean = true
	}
}

func (a *assembler) nalType(typ byte) {
	switch typ {
	case whepclient.NALSPS:
		a.cur.sps = true
	case whepclient.NALPPS:
		a.cur.pps = true
	case whepclient.NALIDR:
		a.cur.idr, a.cur.slice = true, true
	case whepclient.NALSlice:
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
		a.broken++
		return
	}
	a.onFrame(frameRec{Seq: c.stamp.Seq, Sent: c.stamp.Time.UnixNano(), Arrived: now.UnixNano(), IDR: c.idr})
}
