package streaming

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// Recorder defaults and limits.
const (
	defaultSegmentDuration = 60 * time.Second
	defaultPartDuration    = time.Second
	// recorderQueueSize is the recorder's reader queue: ~68 s at 15 fps,
	// room for a slow disk to catch up before frames are lost.
	recorderQueueSize = 1024
	// defaultFrameTicks is the duration given to a segment's last frame
	// when nothing follows it and no frame came before it.
	defaultFrameTicks = media.ClockRate / 15
	// maxClockDrift is how far a frame's wall clock may stray from the
	// segment's start plus the media time before the segment is closed
	// as after a jump of the clock.
	maxClockDrift = 5 * time.Second
	// errorLogInterval limits the logging of repeated write errors.
	errorLogInterval = time.Minute
)

// Recorder records one stream (one camera, one window) as fragmented MP4
// segments: one more reader of the stream. A segment starts at an IDR and
// is cut at the first IDR at or after SegmentDuration, when the parameter
// sets change, and at a gap: a discontinuity of the camera (reconnect,
// timestamp or wall-clock jump) or frames the recorder lost; the segment
// after a gap has GapBefore. Every fragment (~PartDuration) is written
// when complete, so a crash (kill -9) loses at most the fragment being
// assembled; a segment that was not closed is found and read back by
// ScanSegments and ReadSegment, and cut after its last complete fragment
// by RepairSegment (which the next Initialize runs).
//
// Segment files are named after the window and their start (see
// segmentPath): Dir/<window>/YYYY/MM/DD/<window>_<20060102T150405.000Z>.mp4,
// with their SegmentInfo in a JSON sidecar (.json) once closed.
//
// Only video is recorded (H.264 or H.265, without B-frames: the stream's
// timeline has no decode times of its own).
type Recorder struct {
	// Stream is the stream to record. Required.
	Stream *Stream
	// Dir is the root of the recordings. Required.
	Dir string
	// SegmentDuration is the target length of a segment; segments are cut
	// only at IDRs, so they are as long as a whole number of GOPs. Default
	// 60s.
	SegmentDuration time.Duration
	// PartDuration is the length of a fragment (moof+mdat): what a crash
	// may lose. Default 1s.
	PartDuration time.Duration
	// Fsync syncs the file after every fragment, so that a power loss
	// (not only a crash of the process) loses no more than a fragment.
	// Default false: segments are synced when they close.
	Fsync bool
	// Now is the clock, for segments of frames without a wall-clock time
	// and to rate-limit logs. Default time.Now.
	Now func() time.Time
	// Logger logs segments (debug), gaps (info) and errors (warn, rate
	// limited). Default: discard.
	Logger *slog.Logger
	// OnSegment, if set, is called from the recorder's goroutine when a
	// segment opens (Closed false, no frames yet) and when it ends (Closed
	// true, or false after a write error); and by Initialize for the
	// segment a crash left open, once repaired (see RepairSegment). It
	// must not block for long: the recorder loses frames while it waits.
	OnSegment func(SegmentInfo)

	queueSize int // the reader's queue; tests set it

	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	counters  recorderCounters
	rec       *recording // used by the goroutine only
}

// RecorderStats is a snapshot of a recorder's counters.
type RecorderStats struct {
	// Received counts the video frames the stream handed the recorder.
	Received uint64
	// Frames counts the frames written to segments, Bytes the bytes.
	Frames uint64
	Bytes  uint64
	// Skipped counts frames not recorded: before the first IDR, after a
	// gap until the next IDR, after a write error.
	Skipped uint64
	// Segments counts the segments opened, Gaps the segments closed by a
	// gap, Errors the failed writes.
	Segments uint64
	Gaps     uint64
	Errors   uint64
}

type recorderCounters struct {
	received, frames, bytes, skipped, segments, gaps, errors atomic.Uint64
}

// prepare makes the recording state of a new recorder and continues the
// numbering of the window's segments.
func (r *Recorder) prepare(logger *slog.Logger, windowDir string) (*recording, error) {
	var id [8]byte
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	rec := &recording{
		dir:       r.Dir,
		window:    r.Stream.ID(),
		streamID:  hex.EncodeToString(id[:]),
		segTicks:  durationToTicks(r.SegmentDuration),
		partTicks: durationToTicks(r.PartDuration),
		fsync:     r.Fsync,
		now:       r.Now,
		logger:    logger,
		onSegment: r.OnSegment,
		counters:  &r.counters,
		nextSeq:   1,
	}
	if err := rec.resume(windowDir); err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	return rec, nil
}

// Initialize checks the configuration, continues the window's segment
// numbering from the newest segment on disk (repairing it and reporting
// it through OnSegment if a crash left it open) and starts recording.
func (r *Recorder) Initialize() error {
	if r.Stream == nil {
		return errors.New("recorder: no stream")
	}
	if r.Dir == "" {
		return errors.New("recorder: no directory")
	}
	if r.SegmentDuration <= 0 {
		r.SegmentDuration = defaultSegmentDuration
	}
	if r.PartDuration <= 0 {
		r.PartDuration = defaultPartDuration
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.queueSize <= 0 {
		r.queueSize = recorderQueueSize
	}
	logger := r.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	window := r.Stream.ID()
	logger = logger.With("component", "recorder", "window", window)
	windowDir := filepath.Join(r.Dir, windowDirName(window))
	if err := os.MkdirAll(windowDir, 0o755); err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	rec, err := r.prepare(logger, windowDir)
	if err != nil {
		return err
	}
	rd, err := r.addReader()
	if err != nil {
		return fmt.Errorf("recorder: %w", err)
	}
	r.rec = rec
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.done = make(chan struct{})
	go r.run(rd)
	return nil
}

func (r *Recorder) addReader() (*Reader, error) {
	return r.Stream.AddReader(ReaderConfig{Name: "recorder", QueueSize: r.queueSize})
}

// Close stops recording: the frames already queued for the recorder are
// written, the current segment is closed (its last fragment, duration
// and sidecar written). It waits for the recorder's goroutine.
func (r *Recorder) Close() {
	if r.done == nil {
		return
	}
	r.closeOnce.Do(r.cancel)
	<-r.done
}

// Done is closed when the recorder has stopped: after Close, or when its
// stream was closed (or removed the recorder's reader). Call it after a
// successful Initialize.
func (r *Recorder) Done() <-chan struct{} { return r.done }

// Stats returns the recorder's counters.
func (r *Recorder) Stats() RecorderStats {
	c := &r.counters
	return RecorderStats{
		Received: c.received.Load(),
		Frames:   c.frames.Load(),
		Bytes:    c.bytes.Load(),
		Skipped:  c.skipped.Load(),
		Segments: c.segments.Load(),
		Gaps:     c.gaps.Load(),
		Errors:   c.errors.Load(),
	}
}

// run reads the stream until Close or the stream's end. A codec change
// ends the reader: the recorder closes its segment and reads again.
func (r *Recorder) run(rd *Reader) {
	defer close(r.done)
	rec := r.rec
	for {
		drops := func() uint64 { return rd.Stats().Drops }
		rec.drops = 0
		var err error
		for err == nil {
			var d Delivery
			if d, err = rd.Next(r.ctx); err == nil {
				for _, f := range d.Frames {
					rec.handle(f, d.Replay, drops)
				}
			}
		}
		if r.ctx.Err() != nil {
			r.Stream.RemoveReader(rd)
		}
		// Next picks at random between queued frames and the reader's
		// end: record what the stream had already handed over.
		for _, f := range queuedFrames(rd) {
			rec.handle(f, false, drops)
		}
		if r.ctx.Err() == nil && errors.Is(err, ErrCodecChanged) {
			rec.endSegment("codec changed")
			if rd, err = r.addReader(); err == nil {
				continue
			}
		}
		rec.stop()
		if r.ctx.Err() == nil {
			rec.logger.Info("recorder stopped", "reason", err)
		}
		return
	}
}

// queuedFrames empties the queue of a removed reader (no frame is added
// to it any more).
func queuedFrames(rd *Reader) []*Frame {
	var frames []*Frame
	for {
		select {
		case f := <-rd.ch:
			frames = append(frames, f)
		default:
			return frames
		}
	}
}

// recording is the recorder's state: which segment is open, what came
// before. It is used by the recorder's goroutine only (and by Initialize
// before it starts).
type recording struct {
	dir, window, streamID string
	segTicks, partTicks   int64
	fsync                 bool
	now                   func() time.Time
	logger                *slog.Logger
	onSegment             func(SegmentInfo)
	counters              *recorderCounters

	nextSeq  uint64 // Seq of the next segment
	gapNext  bool   // the next segment has GapBefore
	lastSeq  uint64 // Seq of the last frame seen
	drops    uint64 // the reader's drops as last seen
	prev     *Frame // the last video frame seen
	seg      *segmentFile
	segClock bool   // the segment's Start is a camera wall-clock time
	pending  *Frame // the segment's last frame, waiting for its duration
	lastDur  int64  // the duration of the frame before it

	spareBuf  []byte // the buffers of the last segment, for the next
	sparePart []fragSample

	errLogged  time.Time // when an error was last logged
	suppressed int       // errors not logged since
}

// resume continues the numbering of a window's segments from the newest
// on disk. One that a crash left without its sidecar is repaired (see
// RepairSegment) and reported. The first segment after a restart follows a
// gap.
func (rec *recording) resume(windowDir string) error {
	path, err := latestSegment(windowDir)
	if err != nil || path == "" {
		return err
	}
	info, fromSidecar := readSidecar(path)
	if !fromSidecar {
		info, err = RepairSegment(path)
		if errors.Is(err, ErrNotSegment) {
			// Cut before its init part was written: it holds no video.
			rec.logger.Warn("cannot read the newest segment: numbering restarts", "path", path, "err", err)
			rec.gapNext = true
			return nil
		}
		if err != nil {
			return err
		}
		rec.logger.Info("repaired a segment left open", "path", path,
			"frames", info.Frames, "duration", info.Duration)
		if rec.onSegment != nil {
			rec.onSegment(info)
		}
	}
	rec.nextSeq = info.Seq + 1
	rec.gapNext = true
	return nil
}

// handle records one frame. drops returns the reader's drop count.
func (rec *recording) handle(f *Frame, replay bool, drops func() uint64) {
	if f.Kind != KindVideo || f.Unit == nil {
		return
	}
	if rec.lastSeq != 0 && f.Seq <= rec.lastSeq {
		return // seen already (a replayed GOP)
	}
	rec.counters.received.Add(1)
	defer func() { rec.prev = f }()

	// A gap: frames lost, or a discontinuity of the camera.
	gap, lost := "", false
	if rec.lastSeq != 0 && f.Seq != rec.lastSeq+1 {
		if replay {
			gap, lost = "frames skipped by a replay", true
		} else if d := drops(); d > rec.drops {
			rec.drops = d
			gap, lost = "frames dropped", true
		}
	}
	rec.lastSeq = f.Seq
	if gap == "" {
		gap = rec.discontinuity(f)
	}
	if gap != "" && rec.seg != nil {
		dur := f.TS - rec.pending.TS
		if lost || dur <= 0 {
			dur = rec.lastFrameTicks()
		}
		rec.closeSegment(dur, gap)
		rec.gapNext = true
		rec.counters.gaps.Add(1)
	}

	// The end of a segment: a new IDR after SegmentDuration, or one
	// with other parameter sets.
	if rec.seg != nil && f.IDR {
		reason := ""
		switch {
		case f.Codec != rec.seg.params.codec || !rec.seg.params.sameParams(f.Unit.AU):
			reason = "parameter sets changed"
		case f.TS-rec.seg.info.StartDTS >= rec.segTicks:
			reason = "duration"
		}
		if reason != "" {
			rec.closeSegment(f.TS-rec.pending.TS, reason)
		}
	}

	if rec.seg == nil {
		if !f.IDR || !rec.open(f) {
			rec.counters.skipped.Add(1)
		}
		return
	}
	dur := f.TS - rec.pending.TS
	rec.seg.add(rec.pending, dur)
	rec.lastDur = dur
	rec.pending = f
	if rec.seg.partTicks >= rec.partTicks {
		rec.flush()
	}
}

// discontinuity tells why f does not continue the previous frame, if it
// does not: the camera said so, its timestamps jumped (the stream's
// timeline hides the jump, not the camera's PTS), or its wall clock
// strayed from the media time.
func (rec *recording) discontinuity(f *Frame) string {
	if f.Unit.Discontinuity {
		return "discontinuity"
	}
	p := rec.prev
	if p == nil || p.Unit == nil {
		return ""
	}
	if d := f.Unit.PTS - p.Unit.PTS; d < 0 || (d > 0 && d != f.TS-p.TS) {
		return "timestamp jump"
	}
	if rec.seg != nil && rec.segClock && !f.Unit.NTP.IsZero() {
		want := rec.seg.info.Start.Add(ticksToDuration(f.TS - rec.seg.info.StartDTS))
		if d := f.Unit.NTP.Sub(want); d > maxClockDrift || d < -maxClockDrift {
			return "wall-clock jump"
		}
	}
	return ""
}

func (rec *recording) lastFrameTicks() int64 {
	if rec.lastDur > 0 {
		return rec.lastDur
	}
	return defaultFrameTicks
}

// open starts a segment at the IDR f.
func (rec *recording) open(f *Frame) bool {
	params, err := newVideoParams(f.Codec, f.Unit.AU)
	if err != nil {
		rec.logError("cannot start a segment", err)
		return false
	}
	start, clock := f.Unit.NTP, true
	if start.IsZero() {
		start, clock = f.Written, false
		if start.IsZero() {
			start = rec.now()
		}
	}
	start = start.UTC() // as read back from the file and the sidecar
	meta := recordMeta{
		Version:   1,
		Window:    rec.window,
		StreamID:  rec.streamID,
		Seq:       rec.nextSeq,
		Start:     start,
		StartDTS:  f.TS,
		GapBefore: rec.gapNext,
		Codec:     f.Codec,
		Width:     params.width,
		Height:    params.height,
	}
	seg, err := createSegment(rec.dir, meta, params, rec.fsync)
	if err != nil {
		rec.counters.errors.Add(1)
		rec.logError("cannot start a segment", err)
		rec.gapNext = true
		return false
	}
	if rec.spareBuf != nil {
		seg.buf, seg.part = rec.spareBuf, rec.sparePart
	}
	rec.nextSeq++
	rec.gapNext = false
	rec.seg, rec.segClock, rec.pending = seg, clock, f
	rec.counters.segments.Add(1)
	rec.counters.bytes.Add(uint64(seg.info.Bytes))
	rec.logger.Debug("segment opened", "path", seg.info.Path, "seq", meta.Seq, "gap_before", meta.GapBefore)
	if rec.onSegment != nil {
		rec.onSegment(seg.info)
	}
	return true
}

// flush writes the fragment being assembled.
func (rec *recording) flush() {
	frames, bytes := rec.seg.info.Frames, rec.seg.info.Bytes
	err := rec.seg.flush()
	rec.counted(frames, bytes)
	if err != nil {
		rec.fail(err)
	}
}

func (rec *recording) counted(frames int, bytes int64) {
	rec.counters.frames.Add(uint64(rec.seg.info.Frames - frames))
	rec.counters.bytes.Add(uint64(rec.seg.info.Bytes - bytes))
}

// closeSegment ends the segment with its pending frame, of dur ticks.
func (rec *recording) closeSegment(dur int64, reason string) {
	rec.seg.add(rec.pending, dur)
	rec.lastDur = dur
	frames, bytes := rec.seg.info.Frames, rec.seg.info.Bytes
	info, err := rec.seg.close()
	rec.counted(frames, bytes)
	rec.keepBuffers()
	rec.seg, rec.pending = nil, nil
	if err != nil {
		rec.counters.errors.Add(1)
		rec.logError("cannot close a segment", err)
		rec.gapNext = true
	}
	level := slog.LevelDebug
	if reason != "duration" && reason != "parameter sets changed" {
		level = slog.LevelInfo
	}
	rec.logger.Log(context.Background(), level, "segment closed", "path", info.Path, "reason", reason,
		"frames", info.Frames, "duration", info.Duration)
	if rec.onSegment != nil {
		rec.onSegment(info)
	}
}

// endSegment closes the open segment, if any, as at a gap.
func (rec *recording) endSegment(reason string) {
	if rec.seg != nil {
		rec.closeSegment(rec.lastFrameTicks(), reason)
		rec.counters.gaps.Add(1)
	}
	rec.gapNext = true
}

// stop closes the open segment when the recorder stops.
func (rec *recording) stop() {
	if rec.seg != nil {
		rec.closeSegment(rec.lastFrameTicks(), "recorder stopped")
	}
}

// fail abandons the segment after a write error: what was written stays
// (ScanSegments reads it), the next segment starts at the next IDR.
func (rec *recording) fail(err error) {
	info := rec.seg.abort()
	rec.keepBuffers()
	if rec.pending != nil {
		rec.counters.skipped.Add(1)
	}
	rec.seg, rec.pending = nil, nil
	rec.gapNext = true
	rec.counters.errors.Add(1)
	rec.logError("segment abandoned", err)
	if rec.onSegment != nil {
		rec.onSegment(info)
	}
}

// keepBuffers keeps the segment's buffers for the next one.
func (rec *recording) keepBuffers() {
	if rec.seg.buf != nil {
		rec.spareBuf, rec.sparePart = rec.seg.buf[:0], rec.seg.part[:0]
	}
}

// logError logs an error at most once per errorLogInterval.
func (rec *recording) logError(msg string, err error) {
	now := rec.now()
	if !rec.errLogged.IsZero() && now.Sub(rec.errLogged) < errorLogInterval {
		rec.suppressed++
		return
	}
	rec.logger.Warn(msg, "err", err, "suppressed", rec.suppressed)
	rec.errLogged, rec.suppressed = now, 0
}

func durationToTicks(d time.Duration) int64 {
	return int64(d/time.Second*media.ClockRate) + int64(d%time.Second)*media.ClockRate/int64(time.Second)
}
