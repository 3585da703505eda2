package ingest

import (
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// CameraKeyframeLimit is the longest keyframe interval that does not slow
// viewers down: a new viewer waits up to one interval for its first picture.
const CameraKeyframeLimit = 2 * time.Second

// CameraHealth is one camera's stats over one HealthInterval.
type CameraHealth struct {
	Window string
	// Time is the end of the interval.
	Time time.Time
	// State at the end of the interval (see CameraState).
	State string
	// BitrateBps is the RTP payload (video and audio) in bits per second.
	BitrateBps float64
	// FPS is video frames per second.
	FPS float64
	// KeyframeInterval is the last observed time between two IDRs (by
	// PTS), 0 until two were seen. It is kept across intervals.
	KeyframeInterval time.Duration
	// Lost is RTP packets lost in the interval (gortsplib's count from
	// sequence gaps, video and audio).
	Lost uint64
	// Reordered is video packets that reached Sunlight out of order in the
	// interval. gortsplib reorders UDP packets itself (64-packet buffer)
	// before Sunlight sees them, so this counts only what it could not;
	// TCP never reorders.
	Reordered uint64
	// JitterMs is the RFC 3550 interarrival jitter of the video, in ms, at
	// the end of the interval.
	JitterMs float64
	// Reconnects is sessions that came up again in the interval.
	Reconnects uint64
	// KeyframeTooLong is KeyframeInterval > CameraKeyframeLimit: the
	// camera's GOP slows every viewer's start; shorten it in the camera.
	KeyframeTooLong bool
}

// cameraStats gathers a camera's health. The packet and unit methods are
// called from gortsplib's goroutines (with UDP, one per track at once),
// snapshot from the health goroutine.
type cameraStats struct {
	mu sync.Mutex // guards every field below

	// counters of the current interval
	start      time.Time
	bytes      uint64
	frames     uint64
	lost       uint64
	reordered  uint64
	reconnects uint64

	// video sequence tracking, per session
	haveSeq bool
	highest uint16 // highest sequence number seen

	// RFC 3550 jitter of the video, per session, in RTP clock units
	clockRate   int
	jitter      float64
	haveTransit bool
	lastArrival time.Time
	lastTS      uint32

	// keyframes: PTS of the last IDR of the session, last interval seen
	haveIDR    bool
	lastIDRPTS int64
	keyframe   time.Duration
}

func newCameraStats(now time.Time) *cameraStats {
	return &cameraStats{start: now}
}

// sessionStarted forgets the per-session state: sequence numbers, RTP
// timestamps and PTS start afresh with every session (and after gortsplib
// switches a session to TCP).
func (s *cameraStats) sessionStarted(clockRate int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.haveSeq, s.haveTransit, s.haveIDR = false, false, false
	s.jitter = 0
	s.clockRate = clockRate
}

// reconnected counts a session that came up again.
func (s *cameraStats) reconnected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reconnects++
}

// videoPacket counts a video RTP packet that arrived at now.
func (s *cameraStats) videoPacket(now time.Time, pkt *rtp.Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += uint64(len(pkt.Payload))

	if s.haveSeq {
		if d := int16(pkt.SequenceNumber - s.highest); d <= 0 {
			// behind the highest seen: late (a duplicate counts too)
			s.reordered++
			return
		}
	}
	s.haveSeq = true
	s.highest = pkt.SequenceNumber

	// RFC 3550 A.8: D = (Rj - Ri) - (Sj - Si) in RTP units; J += (|D| - J)/16
	if s.haveTransit && s.clockRate > 0 {
		arrival := now.Sub(s.lastArrival).Seconds() * float64(s.clockRate)
		d := arrival - float64(int32(pkt.Timestamp-s.lastTS))
		if d < 0 {
			d = -d
		}
		s.jitter += (d - s.jitter) / 16
	}
	s.haveTransit = true
	s.lastArrival = now
	s.lastTS = pkt.Timestamp
}

// audioPacket counts an audio RTP packet.
func (s *cameraStats) audioPacket(pkt *rtp.Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bytes += uint64(len(pkt.Payload))
}

// videoFrame counts a frame; timed says whether it has a PTS (and went to
// the sink).
func (s *cameraStats) videoFrame(pts int64, idr, timed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames++
	if !idr || !timed {
		return
	}
	if s.haveIDR && pts > s.lastIDRPTS {
		s.keyframe = time.Duration((pts - s.lastIDRPTS) * int64(time.Second) / media.ClockRate)
	}
	s.haveIDR = true
	s.lastIDRPTS = pts
}

// packetsLost is gortsplib's OnPacketsLost.
func (s *cameraStats) packetsLost(n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lost += n
}

// snapshot returns the interval that ends at now and starts the next one.
func (s *cameraStats) snapshot(now time.Time, window, state string) CameraHealth {
	s.mu.Lock()
	defer s.mu.Unlock()

	h := CameraHealth{
		Window:           window,
		Time:             now,
		State:            state,
		KeyframeInterval: s.keyframe,
		Lost:             s.lost,
		Reordered:        s.reordered,
		Reconnects:       s.reconnects,
		KeyframeTooLong:  s.keyframe > CameraKeyframeLimit,
	}
	if secs := now.Sub(s.start).Seconds(); secs > 0 {
		h.BitrateBps = float64(s.bytes) * 8 / secs
		h.FPS = float64(s.frames) / secs
	}
	if s.clockRate > 0 && state == CameraOnline {
		h.JitterMs = s.jitter * 1000 / float64(s.clockRate)
	}

	s.start = now
	s.bytes, s.frames, s.lost, s.reordered, s.reconnects = 0, 0, 0, 0, 0
	return h
}
