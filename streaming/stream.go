package streaming

import (
	"bytes"
	"log/slog"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/media"
)

// Limits of the GOP cache. A camera whose GOP exceeds them (a misconfigured
// keyframe interval) gets no cache: new viewers then wait for its next IDR.
const (
	maxGOPFrames = 900      // 60 s at 15 fps
	maxGOPBytes  = 16 << 20 // 16 MiB
)

// staleAfter is how long a stream may go without video before Ready calls
// it unavailable.
const staleAfter = 10 * time.Second

// FrameKind tells video frames from audio packets.
type FrameKind uint8

// The frame kinds.
const (
	KindVideo FrameKind = iota + 1
	KindAudio
)

// Frame is one unit of a stream as readers see it: written once by the
// stream, shared by every reader, never modified after WriteVideo or
// WriteAudio returns.
type Frame struct {
	Kind  FrameKind
	Codec media.Codec
	// Seq numbers the frames of a stream (video and audio together).
	Seq uint64
	// TS is the frame's time on the stream's continuous timeline, in the
	// track's clock (90 kHz for video, the track's clock rate for audio).
	// Unlike the camera's PTS it never jumps back: a reconnect or a jump
	// continues it one frame after the previous frame.
	TS int64
	// ClockRate is the clock of TS.
	ClockRate int
	// IDR marks a random access point. Its Unit holds the parameter sets
	// (prepended by the stream when the camera did not send them in band).
	IDR bool
	// Unit is the unit as written (with parameter sets prepended to an IDR).
	Unit *media.Unit
	// Packets is the unit packetized once for RTP (RFC 6184 / RFC 7798 for
	// video, one packet per audio unit).
	Packets []Packet
	// Written is when the stream received the unit.
	Written time.Time
}

// StreamStats is a snapshot of a stream's counters.
type StreamStats struct {
	ID         string
	Codec      media.Codec
	Readers    int
	VideoUnits uint64
	AudioUnits uint64
	// GOPFrames is the number of frames in the GOP cache.
	GOPFrames int
	// Drops counts the frames every reader (current and removed) dropped.
	Drops     uint64
	PerReader []ReaderStats
}

// Stream fans one camera's media out to its readers (WebRTC viewers, the
// recorder). The writer (ingest) never blocks on readers: each reader has a
// bounded queue, and a reader that falls behind loses frames, counts them,
// and is not fed again until the next IDR, so no decoder ever gets a
// P-frame after a gap.
//
// The stream keeps the last GOP, from the newest IDR (with its SPS/PPS),
// and packetizes every unit once; readers share the frames and the RTP
// payloads.
type Stream struct {
	id     string
	logger *slog.Logger
	now    func() time.Time

	mu sync.Mutex
	// The fields below are guarded by mu.
	video      media.Track
	audio      media.Track
	gop        []*Frame // from the newest IDR; elements are never replaced in place
	gopBytes   int
	readers    map[*Reader]struct{}
	closed     bool
	seq        uint64
	vtl, atl   timeline
	videoUnits uint64
	audioUnits uint64
	lastVideo  time.Time
	pastDrops  uint64 // drops of removed readers
	gopTooBig  bool   // whether the too-big GOP was logged
}

// NewStream creates the stream of a camera. video describes its video
// track (its SPS/PPS are prepended to IDRs that lack them); it may be
// updated by SetVideoTrack. A nil logger discards.
func NewStream(id string, video media.Track, logger *slog.Logger) *Stream {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Stream{
		id:      id,
		logger:  logger.With("component", "stream", "stream", id),
		now:     time.Now,
		readers: make(map[*Reader]struct{}),
	}
	s.video = cloneTrack(video)
	return s
}

// ID returns the stream's id (the window).
func (s *Stream) ID() string { return s.id }

// VideoTrack returns the current video track.
func (s *Stream) VideoTrack() media.Track {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneTrack(s.video)
}

// AudioTrack returns the audio track and whether there is one.
func (s *Stream) AudioTrack() (media.Track, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return cloneTrack(s.audio), s.audio.Codec != ""
}

// SetVideoTrack updates the video track, as on a reconnect, when the SPS
// and PPS may change. The next IDRs get the new parameter sets. If the
// codec changed, every reader is ended with ErrCodecChanged.
func (s *Stream) SetVideoTrack(t media.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.video.Codec
	s.video = cloneTrack(t)
	if old != "" && t.Codec != "" && old != t.Codec {
		s.logger.Info("video codec changed: ending readers", "from", old, "to", t.Codec)
		s.gop, s.gopBytes = nil, 0
		for r := range s.readers {
			s.removeLocked(r, ErrCodecChanged)
		}
	}
}

// SetAudioTrack sets the audio track (a zero Track: no audio). Readers of
// audio end with ErrCodecChanged if the audio codec changed.
func (s *Stream) SetAudioTrack(t media.Track) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.audio
	s.audio = cloneTrack(t)
	if old.Codec == t.Codec && audioClockRate(old) == audioClockRate(t) && old.Channels == t.Channels {
		return // a reconnect: the timeline goes on
	}
	if old.Codec != "" {
		for r := range s.readers {
			if r.audio {
				s.removeLocked(r, ErrCodecChanged)
			}
		}
	}
	s.atl = timeline{}
}

// WriteVideo hands the stream a video access unit. It never blocks on
// readers. The stream keeps u and its NAL units (they must not be modified
// afterwards); the RTP payloads are copies.
func (s *Stream) WriteVideo(u *media.Unit) {
	if u == nil || len(u.AU) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	codec := s.video.Codec
	if codec == "" {
		codec = media.H264
	}
	idr := u.IDR || isRandomAccess(codec, u.AU)
	unit := u
	if idr {
		unit = s.withParameterSets(codec, u)
	}
	if u.Discontinuity && !idr {
		// A P-frame of a new camera session cannot follow the old GOP.
		s.gop, s.gopBytes = nil, 0
		for r := range s.readers {
			r.waitIDR = true
		}
	}
	now := s.now()
	s.seq++
	f := &Frame{
		Kind:      KindVideo,
		Codec:     codec,
		Seq:       s.seq,
		TS:        s.vtl.next(u.PTS, u.Discontinuity, media.ClockRate/15, 10*media.ClockRate),
		ClockRate: media.ClockRate,
		IDR:       idr,
		Unit:      unit,
		Packets:   packetizeVideo(codec, unit.AU),
		Written:   now,
	}
	if len(f.Packets) == 0 {
		return
	}
	s.videoUnits++
	s.lastVideo = now
	s.cache(f)
	for r := range s.readers {
		r.offerVideo(f)
	}
}

// withParameterSets returns u with the known parameter sets prepended if
// it lacks them, and learns those it carries.
func (s *Stream) withParameterSets(codec media.Codec, u *media.Unit) *media.Unit {
	vps, sps, pps := parameterSets(codec, u.AU)
	if vps != nil && !bytes.Equal(vps, s.video.VPS) {
		s.video.VPS = bytes.Clone(vps)
	}
	if sps != nil && !bytes.Equal(sps, s.video.SPS) {
		s.video.SPS = bytes.Clone(sps)
	}
	if pps != nil && !bytes.Equal(pps, s.video.PPS) {
		s.video.PPS = bytes.Clone(pps)
	}
	var prefix [][]byte
	if codec == media.H265 && vps == nil && s.video.VPS != nil {
		prefix = append(prefix, s.video.VPS)
	}
	if sps == nil && s.video.SPS != nil {
		prefix = append(prefix, s.video.SPS)
	}
	if pps == nil && s.video.PPS != nil {
		prefix = append(prefix, s.video.PPS)
	}
	nu := *u
	nu.IDR = true
	if len(prefix) > 0 {
		nu.AU = append(prefix, u.AU...)
	}
	return &nu
}

// cache puts a frame in the GOP cache. Caller holds mu.
func (s *Stream) cache(f *Frame) {
	size := 0
	for _, p := range f.Packets {
		size += len(p.Payload)
	}
	if f.IDR {
		// A new slice: readers may still be reading the old one.
		s.gop = make([]*Frame, 1, 64)
		s.gop[0] = f
		s.gopBytes = size
		return
	}
	if s.gop == nil {
		return
	}
	if len(s.gop) >= maxGOPFrames || s.gopBytes+size > maxGOPBytes {
		if !s.gopTooBig {
			s.gopTooBig = true
			s.logger.Warn("GOP too long to cache: new viewers wait for the next keyframe",
				"frames", len(s.gop), "bytes", s.gopBytes)
		}
		s.gop, s.gopBytes = nil, 0
		return
	}
	s.gop = append(s.gop, f)
	s.gopBytes += size
}

// WriteAudio hands the stream an audio packet; it is dropped when the
// stream has no audio track. It never blocks on readers.
func (s *Stream) WriteAudio(u *media.Unit) {
	if u == nil || len(u.Payload) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.audio.Codec == "" {
		return
	}
	rate := audioClockRate(s.audio)
	pts := u.PTS * int64(rate) / media.ClockRate
	var dur int64
	if s.audio.Codec == media.PCMA || s.audio.Codec == media.PCMU {
		dur = int64(len(u.Payload) / max(1, s.audio.Channels))
	}
	s.seq++
	f := &Frame{
		Kind:      KindAudio,
		Codec:     s.audio.Codec,
		Seq:       s.seq,
		TS:        s.atl.nextAudio(pts, u.Discontinuity, dur, int64(rate)),
		ClockRate: rate,
		Unit:      u,
		Packets:   []Packet{{Payload: bytes.Clone(u.Payload), Marker: true}},
		Written:   s.now(),
	}
	s.audioUnits++
	for r := range s.readers {
		if r.audio {
			r.offer(f)
		}
	}
}

// Ready reports whether a viewer could start now: nil, or an error of kind
// apperr.Unavailable saying why not.
func (s *Stream) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return apperr.NoVideo.New(apperr.P{"window": s.id}, "window %s is not streaming", s.id)
	case s.videoUnits == 0:
		return apperr.NoVideo.New(apperr.P{"window": s.id}, "window %s has sent no video yet", s.id)
	}
	if age := s.now().Sub(s.lastVideo); age > staleAfter {
		return apperr.NoVideo.New(apperr.P{"window": s.id}, "window %s has sent no video for %s", s.id, age.Round(time.Second))
	}
	return nil
}

// AddReader adds a reader. It starts with the cached GOP (see Delivery)
// or, when none is cached, at the next IDR.
func (s *Stream) AddReader(cfg ReaderConfig) (*Reader, error) {
	return s.addReader(cfg, nil)
}

// addReader adds a reader whose arrivals (frames, keyframe requests, its
// removal) are also signaled on notify, when not nil: a channel of
// capacity 1 that one goroutine shares among many readers, polling them
// with tryNext (see fanout).
func (s *Stream) addReader(cfg ReaderConfig, notify chan struct{}) (*Reader, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = defaultQueueSize
	}
	if cfg.MinReplayInterval <= 0 {
		cfg.MinReplayInterval = defaultMinReplayInterval
	}
	r := &Reader{
		stream:    s,
		name:      cfg.Name,
		audio:     cfg.Audio,
		minReplay: cfg.MinReplayInterval,
		ch:        make(chan *Frame, cfg.QueueSize),
		wake:      make(chan struct{}, 1),
		notify:    notify,
		done:      make(chan struct{}),
		waitIDR:   true,
	}
	r.keyframe.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrStreamClosed
	}
	s.readers[r] = struct{}{}
	return r, nil
}

// RemoveReader removes a reader: its Next returns ErrReaderClosed. Removing
// it twice is harmless.
func (s *Stream) RemoveReader(r *Reader) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(r, ErrReaderClosed)
}

func (s *Stream) removeLocked(r *Reader, err error) {
	if _, ok := s.readers[r]; !ok {
		return
	}
	delete(s.readers, r)
	s.pastDrops += r.drops
	r.err = err
	close(r.done)
	r.signal()
}

// Stats returns the stream's counters.
func (s *Stream) Stats() StreamStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StreamStats{
		ID:         s.id,
		Codec:      s.video.Codec,
		Readers:    len(s.readers),
		VideoUnits: s.videoUnits,
		AudioUnits: s.audioUnits,
		GOPFrames:  len(s.gop),
		Drops:      s.pastDrops,
	}
	for r := range s.readers {
		st.Drops += r.drops
		st.PerReader = append(st.PerReader, ReaderStats{
			Name:      r.name,
			Queued:    len(r.ch),
			Delivered: r.delivered.Load(),
			Drops:     r.drops,
			Replays:   r.replays,
		})
	}
	return st
}

// queued returns how many frames wait in all readers' queues.
func (s *Stream) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for r := range s.readers {
		n += len(r.ch)
	}
	return n
}

// Close ends the stream: every reader's Next returns ErrStreamClosed and
// later writes are ignored.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for r := range s.readers {
		s.removeLocked(r, ErrStreamClosed)
	}
	s.gop, s.gopBytes = nil, 0
}

// replay hands r the cached GOP, if there is one, and empties its queue
// (everything in it is older than the GOP's last frame).
func (s *Stream) replay(r *Reader) ([]*Frame, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.keyframe.Store(false)
	if len(s.gop) == 0 {
		return nil, false // wait for the next IDR
	}
	for drained := false; !drained; {
		select {
		case <-r.ch:
		default:
			drained = true
		}
	}
	r.waitIDR = false
	r.fed = true
	r.replays++
	return s.gop, true
}

func audioClockRate(t media.Track) int {
	switch {
	case t.Codec == media.Opus:
		return 48000
	case t.ClockRate > 0:
		return t.ClockRate
	default:
		return 8000
	}
}

func cloneTrack(t media.Track) media.Track {
	t.VPS = bytes.Clone(t.VPS)
	t.SPS = bytes.Clone(t.SPS)
	t.PPS = bytes.Clone(t.PPS)
	return t
}
