package streaming

import (
	"context"
	"sync/atomic"
	"time"
)

// Reader defaults.
const (
	defaultQueueSize         = 256 // frames: ~17 s of 15 fps video, ~4 s with 50 audio packets a second
	defaultMinReplayInterval = 500 * time.Millisecond
)

// Delivery is what Reader.Next hands out.
type Delivery struct {
	// Frames to send, in order. The slice is only valid until the next
	// call of Next.
	Frames []*Frame
	// Replay marks the cached GOP, from the newest IDR to the newest frame,
	// handed out when a reader starts and when it asks for a keyframe. All
	// but the last of its frames are in the past: a viewer should send
	// them at once and show only the last (see Session).
	Replay bool
}

// ReaderStats is a snapshot of a reader's counters.
type ReaderStats struct {
	Name      string
	Queued    int
	Delivered uint64
	// Drops counts frames that the reader lost because its queue was full
	// or because it was waiting for the next IDR after such a loss.
	Drops   uint64
	Replays uint64
}

// ReaderConfig configures a reader. The zero value works.
type ReaderConfig struct {
	// Name appears in stats and logs.
	Name string
	// QueueSize is how many frames may wait for the reader before it drops
	// frames. Default 256.
	QueueSize int
	// Audio asks for audio frames too. Default: video only.
	Audio bool
	// MinReplayInterval is the least time between two GOP replays asked
	// by RequestKeyframe; requests in between are coalesced. Default 500ms.
	MinReplayInterval time.Duration
}

// Reader is one consumer of a stream, with its own bounded queue. Next is
// called from one goroutine; RequestKeyframe and Stats from any.
type Reader struct {
	stream    *Stream
	name      string
	audio     bool
	minReplay time.Duration
	ch        chan *Frame
	wake      chan struct{}
	notify    chan struct{} // nil, or shared with other readers: see addReader
	done      chan struct{} // closed on removal; err says why
	err       error
	keyframe  atomic.Bool // a GOP replay is wanted
	delivered atomic.Uint64

	// Guarded by stream.mu.
	waitIDR bool // feed nothing but an IDR
	fed     bool // whether the reader has been fed (drops count after)
	drops   uint64
	replays uint64

	// Used by Next's goroutine only.
	lastReplay time.Time
	one        [1]*Frame
}

// offerVideo queues a video frame for r without blocking. Caller holds
// stream.mu.
func (r *Reader) offerVideo(f *Frame) {
	if r.waitIDR && !f.IDR {
		if r.fed {
			r.drops++
		}
		return
	}
	if r.offer(f) {
		r.waitIDR = false
		r.fed = true
	} else {
		r.waitIDR = true
	}
}

// offer queues f without blocking and counts a drop when the queue is full.
func (r *Reader) offer(f *Frame) bool {
	select {
	case r.ch <- f:
		r.signal()
		return true
	default:
		r.drops++
		return false
	}
}

// RequestKeyframe asks for the cached GOP to be replayed to this reader
// (a viewer's PLI or FIR): the camera is not asked. Requests closer than
// MinReplayInterval are coalesced, and a live IDR answers a pending one.
func (r *Reader) RequestKeyframe() {
	r.keyframe.Store(true)
	select {
	case r.wake <- struct{}{}:
	default:
	}
	r.signal()
}

// signal tells the goroutine polling r, if any, that r may have something.
func (r *Reader) signal() {
	if r.notify == nil {
		return
	}
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// tryNext is Next without blocking: ok is false when nothing is ready.
func (r *Reader) tryNext() (d Delivery, ok bool, err error) {
	select {
	case <-r.done:
		return Delivery{}, false, r.err
	default:
	}
	if r.keyframe.Load() && r.stream.now().Sub(r.lastReplay) >= r.minReplay {
		if gop, ok := r.stream.replay(r); ok {
			r.lastReplay = r.stream.now()
			r.delivered.Add(uint64(len(gop)))
			return Delivery{Frames: gop, Replay: true}, true, nil
		}
	}
	select {
	case f := <-r.ch:
		if f.Kind == KindVideo && f.IDR {
			r.keyframe.Store(false) // a live IDR answers a pending request
		}
		r.delivered.Add(1)
		r.one[0] = f
		return Delivery{Frames: r.one[:]}, true, nil
	default:
		return Delivery{}, false, nil
	}
}

// Next returns the next frames for the reader, blocking until there are
// some, the context ends, or the reader is removed (ErrReaderClosed,
// ErrStreamClosed or ErrCodecChanged).
func (r *Reader) Next(ctx context.Context) (Delivery, error) {
	for {
		if r.keyframe.Load() && r.stream.now().Sub(r.lastReplay) >= r.minReplay {
			if gop, ok := r.stream.replay(r); ok {
				r.lastReplay = r.stream.now()
				r.delivered.Add(uint64(len(gop)))
				return Delivery{Frames: gop, Replay: true}, nil
			}
		}
		select {
		case <-r.done:
			return Delivery{}, r.err
		case <-ctx.Done():
			return Delivery{}, ctx.Err()
		case <-r.wake:
		case f := <-r.ch:
			if f.Kind == KindVideo && f.IDR {
				r.keyframe.Store(false) // a live IDR answers a pending request
			}
			r.delivered.Add(1)
			r.one[0] = f
			return Delivery{Frames: r.one[:]}, nil
		}
	}
}

// Stats returns the reader's counters.
func (r *Reader) Stats() ReaderStats {
	r.stream.mu.Lock()
	defer r.stream.mu.Unlock()
	return ReaderStats{
		Name:      r.name,
		Queued:    len(r.ch),
		Delivered: r.delivered.Load(),
		Drops:     r.drops,
		Replays:   r.replays,
	}
}
