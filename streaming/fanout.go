package streaming

import (
	"sync"
	"time"
)

// replayChunk is how many frames of a GOP replay a fanout writes to one
// viewer before serving the others: a viewer starting (or asking for a
// keyframe) does not hold the live frames of the others back for the
// whole GOP.
const replayChunk = 4

// fanout writes the media of one stream to all of its WebRTC sessions
// from one goroutine. Each session keeps its own Reader (its bounded
// queue, drops and GOP replays), but the readers share one notify
// channel: a frame wakes one goroutine per stream, not one per viewer,
// and that goroutine writes it to every viewer in turn. The scheduler's
// share of the send path (a futex wake-up and a context switch per viewer
// and frame) goes, and so does the latency of waiting for each viewer's
// goroutine to be scheduled.
//
// Writes to pion do not block on a viewer (UDP, one socket for all
// peers), so a slow viewer does not hold the others back: it loses frames
// in its own queue, as before. A GOP replay is written a few frames at a
// time between the others' frames.
//
// The WebRTCServer owns it: join starts its goroutine with the first
// session of a stream, leave stops it with the last.
type fanout struct {
	stream *Stream
	notify chan struct{} // shared by the readers of the sessions
	quit   chan struct{} // closed by leave with the last session
	flush  func()        // sends the round's packets (batchConn); may be nil

	mu sync.Mutex
	// Guarded by mu, held by run for a whole round of writes: once remove
	// returns, run no longer touches the session.
	sessions []*session

	refs int // guarded by WebRTCServer.mu: sessions joined, not yet left
}

// add makes run serve ss (its reader's notify is f.notify).
func (f *fanout) add(ss *session) {
	f.mu.Lock()
	f.sessions = append(f.sessions, ss)
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// remove stops serving ss; it waits for a round in progress.
func (f *fanout) remove(ss *session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range f.sessions {
		if s == ss {
			f.sessions = append(f.sessions[:i], f.sessions[i+1:]...)
			return
		}
	}
}

// run writes until quit: on each signal, rounds over the sessions (at most
// one delivery or one replay chunk per session per round) until none has
// anything more.
func (f *fanout) run() {
	// paced wakes the loop when a session held back by its pacer may
	// write again (no new frame may come meanwhile to wake it).
	paced := time.NewTimer(time.Hour)
	paced.Stop()
	defer paced.Stop()
	for {
		select {
		case <-f.quit:
			return
		case <-f.notify:
		case <-paced.C:
		}
		var wake time.Duration
		for busy := true; busy; {
			busy, wake = false, 0
			now := time.Now()
			f.mu.Lock()
			for _, ss := range f.sessions {
				wrote, wait := ss.step(now)
				busy = busy || wrote
				if wait > 0 && (wake == 0 || wait < wake) {
					wake = wait
				}
			}
			f.mu.Unlock()
			if f.flush != nil {
				f.flush()
			}
		}
		if wake > 0 {
			paced.Reset(wake)
		}
	}
}

// join returns the fanout of a stream, starting it if needed; each join is
// paired with a leave.
func (s *WebRTCServer) join(stream *Stream) *fanout {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fanouts[stream]
	if f == nil {
		f = &fanout{stream: stream, notify: make(chan struct{}, 1), quit: make(chan struct{})}
		if s.batch != nil {
			f.flush = s.batch.flush
		}
		s.fanouts[stream] = f
		s.fanWG.Add(1)
		go func() {
			defer s.fanWG.Done()
			f.run()
		}()
	}
	f.refs++
	return f
}

// leave undoes a join: ss (nil if never added) is no longer served, and
// the last to leave stops the fanout.
func (s *WebRTCServer) leave(f *fanout, ss *session) {
	if ss != nil {
		f.remove(ss)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.refs--; f.refs == 0 {
		delete(s.fanouts, f.stream)
		close(f.quit)
	}
}
