package streaming

import "time"

// A viewer joining (or asking for a keyframe) gets the cached GOP: at
// 1 Mbit/s and a 2 s GOP some 250 KB, and the live frames queued behind
// it. Sent in one burst that is more than a default UDP receive buffer
// (about 208 KB on Linux) holds: an ordinary client drops part of the
// replay and then of the live stream. So each session's writes go through
// a token bucket: a burst of at most paceBurst bytes, then paceFactor
// times the stream's bitrate. The IDR, first in a replay, goes at once
// (the first picture is not delayed); the rest of the GOP follows at the
// paced rate, and live frames, smaller than the bitrate on average, pass
// unthrottled once the replay is through.
//
// The factor is a trade-off, measured with livebench at 16×4 with 16
// viewers joining during the window (make bench; the README's table): the
// most a viewer received within 10 ms was 246 KB unpaced, 79 KB at 4×,
// 82 KB at 8× and 104 KB at 16×, while the live frames queued behind the
// replay of a viewer that just joined arrived up to 337, 154 and 68 ms
// late. 8× (8 Mbit/s for a 1 Mbit/s camera, for a quarter of a second)
// keeps a 10 ms stall of the client well inside a default buffer and
// suits an ordinary office link.
const (
	paceFactor  = 8
	paceBurst   = 64 << 10  // bytes
	paceMinRate = 256 << 10 // bytes/s: the floor of a stream's paced rate
)

// pacer is a session's token bucket, used by the fanout goroutine only.
// A zero rate lets everything through (no GOP seen yet).
type pacer struct {
	rate   float64 // bytes per second
	tokens float64
	at     time.Time
}

// setRate paces at paceFactor times the bitrate of gop (the frames of a
// replay, in order), with a floor.
func (p *pacer) setRate(gop []*Frame, now time.Time) {
	if len(gop) == 0 {
		return
	}
	bytes := 0
	for _, f := range gop {
		bytes += frameBytes(f)
	}
	// The span of n frames is n frame periods, the last one included.
	first, last := gop[0], gop[len(gop)-1]
	span := float64(last.TS-first.TS) / float64(max(first.ClockRate, 1))
	if len(gop) > 1 {
		span *= float64(len(gop)) / float64(len(gop)-1)
	}
	rate := float64(paceMinRate)
	if span > 0 {
		rate = max(rate, paceFactor*float64(bytes)/span)
	}
	if p.rate == 0 {
		p.tokens, p.at = paceBurst, now
	}
	p.rate = rate
}

// allow tells whether a frame may be written now and, if not, how long
// until it may. A frame is written whole once the bucket is not empty: the
// bucket may go negative by one frame.
func (p *pacer) allow(now time.Time) (bool, time.Duration) {
	if p.rate == 0 {
		return true, 0
	}
	p.tokens = min(paceBurst, p.tokens+p.rate*now.Sub(p.at).Seconds())
	p.at = now
	if p.tokens > 0 {
		return true, 0
	}
	return false, time.Duration(-p.tokens/p.rate*float64(time.Second)) + time.Millisecond
}

// spend takes a written frame's bytes from the bucket.
func (p *pacer) spend(f *Frame) {
	if p.rate != 0 {
		p.tokens -= float64(frameBytes(f))
	}
}

// frameBytes is what a frame puts on the wire, RTP headers included.
func frameBytes(f *Frame) int {
	n := 0
	for _, pk := range f.Packets {
		n += len(pk.Payload) + 12
	}
	return n
}
