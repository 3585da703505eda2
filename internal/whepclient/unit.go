package whepclient

import (
	"bytes"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// H.264 NAL unit types (RFC 6184) an AU's users look at.
const (
	NALSlice = 1
	NALIDR   = 5
	NALSEI   = 6
	NALSPS   = 7
	NALPPS   = 8
)

// AU is one received H.264 access unit.
type AU struct {
	// AnnexB is the unit's NAL units, each with a start code.
	AnnexB []byte
	// NALTypes is the type of each NAL unit, in order.
	NALTypes []byte
	// IDR is true when the unit holds an IDR slice.
	IDR bool
	// Complete is false when a packet of the unit was lost (or did not
	// depacketize); its AnnexB then holds what arrived.
	Complete bool
	// RTPTimestamp is the unit's RTP timestamp.
	RTPTimestamp uint32
	// Arrived is when its last packet was in order at the viewer.
	Arrived time.Time
}

// unitBuilder rebuilds access units from packets in sequence order (see
// Reorderer), as a browser's depacketizer does.
type unitBuilder struct {
	out func(AU)

	depack codecs.H264Packet
	cur    AU
	active bool
}

// packet takes the next packet in order; gap says packets were lost just
// before it.
func (b *unitBuilder) packet(p *rtp.Packet, gap bool) {
	if b.active && p.Timestamp != b.cur.RTPTimestamp {
		b.cur.Complete = false // its marker packet is missing
		b.finish()
	}
	if !b.active {
		b.active = true
		b.cur = AU{RTPTimestamp: p.Timestamp, Complete: true}
		b.depack = codecs.H264Packet{} // no fragment of an earlier unit
	}
	if gap {
		b.cur.Complete = false
	}
	data, err := b.depack.Unmarshal(p.Payload)
	if err != nil {
		b.cur.Complete = false
	}
	b.cur.AnnexB = append(b.cur.AnnexB, data...)
	if p.Marker {
		b.finish()
	}
}

func (b *unitBuilder) finish() {
	au := b.cur
	b.cur, b.active = AU{}, false
	au.NALTypes = nalTypes(au.AnnexB)
	au.IDR = bytes.IndexByte(au.NALTypes, NALIDR) >= 0
	au.Arrived = time.Now()
	b.out(au)
}

// nalTypes lists the types of the NAL units after each start code.
func nalTypes(annexB []byte) []byte {
	var types []byte
	for i := 0; i+3 < len(annexB); i++ {
		if annexB[i] == 0 && annexB[i+1] == 0 && annexB[i+2] == 1 {
			types = append(types, annexB[i+3]&0x1f)
			i += 3
		}
	}
	return types
}
