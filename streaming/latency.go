package streaming

import (
	"sync/atomic"
	"time"
)

// latencyHist is a fixed-bucket histogram of durations (0.1 ms buckets up
// to 50 ms, then one overflow bucket), written by one goroutine and read
// by any.
type latencyHist struct {
	buckets [latencyBuckets + 1]atomic.Uint64
}

const (
	latencyBucket  = 100 * time.Microsecond
	latencyBuckets = 500
)

func (h *latencyHist) observe(d time.Duration) {
	i := int(d / latencyBucket)
	if i < 0 {
		i = 0
	}
	if i > latencyBuckets {
		i = latencyBuckets
	}
	h.buckets[i].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q (0 when
// empty; the overflow bucket reads as 50 ms).
func (h *latencyHist) quantile(q float64) time.Duration {
	var counts [latencyBuckets + 1]uint64
	var total uint64
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
		total += counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	if rank >= total {
		rank = total - 1
	}
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen > rank {
			return time.Duration(min(i+1, latencyBuckets)) * latencyBucket
		}
	}
	return latencyBuckets * latencyBucket
}
