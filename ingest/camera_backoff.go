package ingest

import (
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is a capped exponential delay with jitter. The zero value gives
// 250 ms, 500 ms, 1 s, 2 s, 2 s, ..., each shortened by up to 20% at random,
// so a camera that comes back is playing again within about 3 s and a
// hall's cameras do not all knock at once after a switch reboots.
type Backoff struct {
	// First delay. It defaults to 250 ms.
	Min time.Duration
	// Longest delay. It defaults to 2 s.
	Max time.Duration
	// Growth per failed attempt. It defaults to 2.
	Factor float64
	// Share of each delay taken off at random: a delay d becomes one in
	// [d*(1-Jitter), d], so Max stays the cap. It defaults to 0.2; a
	// negative value disables jitter. Values above 1 count as 1.
	Jitter float64
}

// Delay returns how long to wait before retry attempt+1 (attempt counts
// the failures since the last stable session, from 0).
func (b Backoff) Delay(attempt int) time.Duration {
	return b.delay(attempt, rand.Float64())
}

// delay is Delay with the random draw r in [0,1) given, for tests.
func (b Backoff) delay(attempt int, r float64) time.Duration {
	lo, hi, factor, jitter := b.Min, b.Max, b.Factor, b.Jitter
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi <= 0 {
		hi = 2 * time.Second
	}
	if hi < lo {
		hi = lo
	}
	if factor < 1 {
		factor = 2
	}
	switch {
	case jitter == 0:
		jitter = 0.2
	case jitter < 0:
		jitter = 0
	case jitter > 1:
		jitter = 1
	}
	attempt = max(attempt, 0)

	d := float64(lo) * math.Pow(factor, float64(attempt))
	if d > float64(hi) || math.IsInf(d, 0) || math.IsNaN(d) {
		d = float64(hi)
	}
	return time.Duration(d * (1 - jitter*r))
}
