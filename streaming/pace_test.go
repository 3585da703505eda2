package streaming

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The pacer lets a burst through at once, then the paced rate: a GOP
// replay reaches a viewer at paceFactor times the stream's bitrate.
func TestPacer(t *testing.T) {
	frame := func(ts int64, size int) *Frame {
		return &Frame{TS: ts, ClockRate: 90000, Packets: []Packet{{Payload: make([]byte, size-12)}}}
	}
	// A 2 s GOP at 15 fps: a 40 KB IDR and 29 frames of 7 KB, ~1 Mbit/s.
	gop := []*Frame{frame(0, 40<<10)}
	for i := 1; i < 30; i++ {
		gop = append(gop, frame(int64(i)*6000, 7<<10))
	}
	bytes := 0
	for _, f := range gop {
		bytes += frameBytes(f)
	}
	var p pacer
	ok, _ := p.allow(time.Unix(0, 0))
	require.True(t, ok, "no GOP yet: no pacing")

	now := time.Unix(100, 0)
	p.setRate(gop, now)
	require.InDelta(t, paceFactor*float64(bytes)/2, p.rate, 1, "paceFactor × the GOP's bitrate")

	// Replay the GOP as the fanout would, on a clock that jumps to the
	// time the pacer asks for.
	sent, start := 0, now
	var waited []time.Duration
	for sent < len(gop) {
		ok, wait := p.allow(now)
		if !ok {
			require.Positive(t, wait)
			waited = append(waited, wait)
			now = now.Add(wait)
			continue
		}
		p.spend(gop[sent])
		sent++
	}
	took := now.Sub(start)
	// The burst goes at once (the IDR first), the rest at the rate.
	want := time.Duration(float64(bytes-paceBurst) / p.rate * float64(time.Second))
	require.InDelta(t, want.Seconds(), took.Seconds(), 0.05, "a replay of %d bytes took %s", bytes, took)
	require.NotEmpty(t, waited, "the replay was paced")
	require.Less(t, took, 2*time.Second/paceFactor+50*time.Millisecond, "faster than real time by about paceFactor")
}
