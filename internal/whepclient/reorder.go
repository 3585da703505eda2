package whepclient

import (
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

const (
	// HoleTimeout is how long a missing packet is waited for before the
	// packets after it are delivered with a gap. A NACK's retransmission
	// takes a round trip (well under a millisecond on loopback) plus the
	// NACK generator's interval (100 ms); browsers wait about as long.
	HoleTimeout = 500 * time.Millisecond
	// MaxPending bounds the packets held behind a hole.
	MaxPending = 2048
)

// ReorderStats counts what a Reorderer saw.
type ReorderStats struct {
	Packets     uint64 // RTP packets received
	Duplicates  uint64 // packets received twice, or after their hole was given up
	LostPackets uint64 // packets never received (holes given up)
}

// Reorderer puts a viewer's RTP packets back in sequence order, as a
// browser's jitter buffer does: retransmissions after a NACK arrive late,
// so a packet after a hole is held until the hole is filled or HoleTimeout
// (or MaxPending) gives it up. It hands every packet once, in order, to
// emit; gap is true when packets just before it were given up.
//
// Push is called from one goroutine; Stats may be read from any.
type Reorderer struct {
	emit func(p *rtp.Packet, gap bool)
	now  func() time.Time

	started bool
	next    uint16 // the next sequence number to emit
	pending map[uint16]pendingPacket

	packets, duplicates, lost atomic.Uint64
}

type pendingPacket struct {
	p  *rtp.Packet
	at time.Time
}

// NewReorderer returns a Reorderer that emits to emit; now is its clock
// (nil: time.Now).
func NewReorderer(emit func(p *rtp.Packet, gap bool), now func() time.Time) *Reorderer {
	if now == nil {
		now = time.Now
	}
	return &Reorderer{emit: emit, now: now, pending: make(map[uint16]pendingPacket)}
}

// Stats returns the counts so far.
func (r *Reorderer) Stats() ReorderStats {
	return ReorderStats{Packets: r.packets.Load(), Duplicates: r.duplicates.Load(), LostPackets: r.lost.Load()}
}

// Push takes the next packet as it arrived.
func (r *Reorderer) Push(p *rtp.Packet) {
	now := r.now()
	r.packets.Add(1)
	if !r.started {
		r.started, r.next = true, p.SequenceNumber
	}
	switch d := int16(p.SequenceNumber - r.next); {
	case d < 0:
		r.duplicates.Add(1)
		return
	case d == 0:
		r.emit(p, false)
		r.next++
		r.drain()
	default:
		if _, dup := r.pending[p.SequenceNumber]; dup {
			r.duplicates.Add(1)
			return
		}
		r.pending[p.SequenceNumber] = pendingPacket{p: p, at: now}
	}
	// Give up on a hole that is too old: go on from the oldest packet held.
	for len(r.pending) > 0 {
		var (
			oldest  time.Time
			minDist = -1
			minSeq  uint16
		)
		for seq, pp := range r.pending {
			if oldest.IsZero() || pp.at.Before(oldest) {
				oldest = pp.at
			}
			if d := int(uint16(seq - r.next)); minDist < 0 || d < minDist {
				minDist, minSeq = d, seq
			}
		}
		if now.Sub(oldest) < HoleTimeout && len(r.pending) <= MaxPending {
			return
		}
		r.lost.Add(uint64(minDist))
		r.next = minSeq
		pp := r.pending[minSeq]
		delete(r.pending, minSeq)
		r.emit(pp.p, true)
		r.next++
		r.drain()
	}
}

// drain emits the packets held that are now in order.
func (r *Reorderer) drain() {
	for {
		pp, ok := r.pending[r.next]
		if !ok {
			return
		}
		delete(r.pending, r.next)
		r.emit(pp.p, false)
		r.next++
	}
}
