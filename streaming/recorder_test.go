package streaming

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
)

func TestRecorderSegments(t *testing.T) {
	clip := recordClip(t, media.H264, "320x240", 8)
	n := len(clip.units) // 120 frames, an IDR every 15
	dir := t.TempDir()
	s := NewStream("window 7/α", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	rec, log := recStart(t, s, dir, nil)

	recFeedFirst(t, rec, s, clip.units)
	recFeed(s, clip.units, 1, n, nil)
	recWaitReceived(t, rec, uint64(n))
	rec.Close()

	segs := log.closed()
	require.Len(t, segs, 4, "8 s in segments of 2 s")
	var md5s []string
	frames := 0
	for i, seg := range segs {
		require.True(t, seg.Closed)
		require.Equal(t, "window 7/α", seg.Window)
		require.Equal(t, uint64(i+1), seg.Seq)
		require.False(t, seg.GapBefore)
		require.Equal(t, 30, seg.Frames, "cut at the IDR at 2 s")
		require.Equal(t, 2, seg.Keyframes)
		require.Equal(t, int64(30*frameTicks), seg.EndDTS-seg.StartDTS)
		require.Equal(t, 2*time.Second, seg.Duration)
		require.Equal(t, recEpoch.Add(time.Duration(i)*2*time.Second), seg.Start.UTC())
		require.Equal(t, seg.Start.Add(seg.Duration), seg.End)
		require.Equal(t, 320, seg.Width)
		require.Equal(t, 240, seg.Height)
		require.Equal(t, filepath.Join(dir, "window%207%2F%CE%B1", "2025", "03", "14",
			"window%207%2F%CE%B1_"+seg.Start.Format(segmentTimeLayout)+".mp4"), seg.Path)
		st, err := os.Stat(seg.Path)
		require.NoError(t, err)
		require.Equal(t, st.Size(), seg.Bytes)
		for _, b := range recBoxes(t, seg.Path) {
			if b.typ == "moof" {
				require.Equal(t, b.off/recPageSize, (b.off+b.size-1)/recPageSize, "a moof within one page")
			}
		}
		if i > 0 {
			prev := segs[i-1]
			require.Equal(t, prev.EndDTS, seg.StartDTS, "segments stitch exactly")
			require.Equal(t, prev.StreamID, seg.StreamID)
		}
		p := recRequirePlays(t, seg)
		require.Equal(t, "h264", p.Codec)
		frames += seg.Frames
		md5s = append(md5s, recFrameMD5s(t, seg.Path)...)
	}
	require.Equal(t, n, frames, "no frame lost at the boundaries")
	require.Equal(t, recFrameMD5s(t, clip.raw), md5s, "the segments decode to the frames encoded")
	st := rec.Stats()
	require.Equal(t, uint64(n), st.Frames)
	require.Equal(t, uint64(4), st.Segments)
	require.Zero(t, st.Skipped+st.Gaps+st.Errors)

	// The index rebuilt from disk: from the sidecars, then from the files.
	scanned, err := ScanSegments(dir)
	require.NoError(t, err)
	require.Equal(t, segs, scanned)
	for _, seg := range segs {
		require.NoError(t, os.Remove(sidecarPath(seg.Path)))
	}
	scanned, err = ScanSegments(dir)
	require.NoError(t, err)
	for i := range segs {
		want := segs[i]
		want.Closed = false
		require.Equal(t, want, scanned[i])
	}
}

// A crash leaves every complete fragment playable: the file copied while
// open, or cut anywhere in its last fragment, is read back (by ffprobe,
// ReadSegment, ScanSegments) up to its last complete fragment, and the
// next recorder on the directory reports it and numbers on after it.
func TestRecorderCrashLeavesPlayableFragments(t *testing.T) {
	clip := recordClip(t, media.H264, "320x240", 8)
	source := recFrameMD5s(t, clip.raw)
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	rec, log := recStart(t, s, t.TempDir(), func(r *Recorder) {
		r.SegmentDuration = time.Minute
		r.PartDuration = time.Second
	})
	recFeedFirst(t, rec, s, clip.units)
	recFeed(s, clip.units, 1, 75, nil)
	recWaitReceived(t, rec, 75)
	// 5 s received: 4 fragments of 1 s written, the 5th being assembled.
	open := log.calls[0]
	require.False(t, open.Closed)
	crashDir := t.TempDir()
	rel, err := filepath.Rel(rec.Dir, open.Path)
	require.NoError(t, err)
	crashed := filepath.Join(crashDir, rel)
	recCopyTruncated(t, open.Path, crashed, 1<<40) // the file as a kill -9 leaves it
	rec.Close()

	info, err := ReadSegment(crashed)
	require.NoError(t, err)
	require.False(t, info.Closed)
	require.Equal(t, uint64(1), info.Seq)
	require.Equal(t, 60, info.Frames)
	require.Equal(t, 4, info.Keyframes)
	require.Equal(t, 4*time.Second, info.Duration)
	require.Equal(t, int64(60*frameTicks), info.EndDTS-info.StartDTS)
	p := recRequirePlays(t, info)
	require.Equal(t, 60, p.Frames)
	require.Equal(t, source[:60], recFrameMD5s(t, crashed))

	// Cut inside the last fragment: its moof, its mdat's header, its data.
	boxes := recBoxes(t, crashed)
	moof, mdat := boxes[len(boxes)-2], boxes[len(boxes)-1]
	require.Equal(t, "moof", moof.typ)
	require.Equal(t, "mdat", mdat.typ)
	for _, c := range []struct {
		name   string
		at     int64
		inMoof bool
	}{
		{"in moof header", moof.off + 5, true},
		{"in moof", moof.off + moof.size/2, true},
		{"in mdat header", mdat.off + 4, false},
		{"in mdat", mdat.off + mdat.size/2, false},
		{"one byte short", mdat.off + mdat.size - 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cut := filepath.Join(t.TempDir(), "cut.mp4")
			recCopyTruncated(t, crashed, cut, c.at)
			info, err := ReadSegment(cut)
			require.NoError(t, err)
			require.Equal(t, 45, info.Frames)
			require.Equal(t, 3*time.Second, info.Duration)
			require.Equal(t, moof.off, info.Bytes, "up to the last complete fragment")
			if !c.inMoof {
				// As cut, ffmpeg plays the complete fragments and the
				// whole samples of the cut one, complaining about the
				// cut sample. (A file that ends inside a moof, ffmpeg
				// 5.1 refuses to open: hence RepairSegment, and moofs
				// that never straddle a page.)
				p := recProbe(t, cut)
				require.GreaterOrEqual(t, p.Frames, 45)
				got := recFrameMD5s(t, cut)
				require.GreaterOrEqual(t, len(got), 45)
				require.Equal(t, source[:45], got[:45])
			}
			repaired, err := RepairSegment(cut)
			require.NoError(t, err)
			require.Equal(t, info, repaired)
			st, err := os.Stat(cut)
			require.NoError(t, err)
			require.Equal(t, info.Bytes, st.Size())
			p := recRequirePlays(t, repaired)
			require.Equal(t, 45, p.Frames)
			require.Equal(t, source[:45], recFrameMD5s(t, cut))
			again, err := RepairSegment(cut) // from the sidecar now
			require.NoError(t, err)
			require.Equal(t, info, again)
		})
	}

	// The index finds the crashed segment without a sidecar.
	scanned, err := ScanSegments(crashDir)
	require.NoError(t, err)
	require.Len(t, scanned, 1)
	require.Equal(t, info, scanned[0])

	// A recorder started on the directory reports the segment left open,
	// gives it a sidecar, and goes on numbering after a gap.
	s2 := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s2.Close()
	rec2, log2 := recStart(t, s2, crashDir, nil)
	require.Len(t, log2.calls, 1)
	require.Equal(t, info, log2.calls[0])
	_, err = os.Stat(sidecarPath(crashed))
	require.NoError(t, err)
	recFeedFirst(t, rec2, s2, clip.units)
	recFeed(s2, clip.units, 1, 30, nil)
	recWaitReceived(t, rec2, 30)
	rec2.Close()
	segs := log2.closed()
	require.Len(t, segs, 2)
	require.Equal(t, uint64(2), segs[1].Seq)
	require.True(t, segs[1].GapBefore, "the recorder was not running")
	require.NotEqual(t, info.StreamID, segs[1].StreamID, "a new timeline")
	scanned, err = ScanSegments(crashDir)
	require.NoError(t, err)
	require.Equal(t, segs, scanned)
}

// A discontinuity, a jump of the camera's timestamps or wall clock, or
// frames lost close the segment; the next starts at an IDR with GapBefore.
func TestRecorderGaps(t *testing.T) {
	clip := recordClip(t, media.H264, "320x240", 8)
	reconnect := func(at int, shift int64) func(int, *media.Unit) {
		return func(i int, u *media.Unit) {
			if i >= at {
				u.PTS += shift // the camera's clock restarted or jumped
				u.Discontinuity = i == at
			}
		}
	}
	for _, c := range []struct {
		name     string
		mutate   func(int, *media.Unit)
		received int   // frames the stream hands the recorder
		frames   []int // per segment
		gap      bool
		skipped  uint64
	}{
		{
			name:     "reconnect at an IDR",
			mutate:   reconnect(45, -45*frameTicks+123456),
			received: 90, frames: []int{45, 45}, gap: true,
		},
		{
			// The stream feeds no reader until the next IDR: a loss.
			name:     "reconnect at a P-frame",
			mutate:   reconnect(50, -50*frameTicks),
			received: 80, frames: []int{50, 30}, gap: true,
		},
		{
			name: "timestamp jump at an IDR",
			mutate: func(i int, u *media.Unit) {
				if i >= 45 {
					u.PTS += 100 * media.ClockRate
				}
			},
			received: 90, frames: []int{45, 45}, gap: true,
		},
		{
			name: "timestamp step back at a P-frame",
			mutate: func(i int, u *media.Unit) {
				if i >= 50 {
					u.PTS -= 20 * media.ClockRate
				}
			},
			received: 90, frames: []int{50, 30}, gap: true, skipped: 10,
		},
		{
			name: "wall-clock jump",
			mutate: func(i int, u *media.Unit) {
				if i >= 45 {
					u.NTP = u.NTP.Add(time.Hour)
				}
			},
			received: 90, frames: []int{45, 45}, gap: true,
		},
		{
			name: "wall-clock drift within the limit",
			mutate: func(i int, u *media.Unit) {
				u.NTP = u.NTP.Add(time.Duration(i) * 40 * time.Millisecond)
			},
			received: 90, frames: []int{90},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := NewStream("w1", media.Track{Codec: media.H264}, nil)
			defer s.Close()
			rec, log := recStart(t, s, t.TempDir(), func(r *Recorder) { r.SegmentDuration = time.Minute })
			recFeedFirst(t, rec, s, clip.units)
			recFeed(s, clip.units, 1, 90, c.mutate)
			recWaitReceived(t, rec, uint64(c.received))
			rec.Close()

			segs := log.closed()
			require.Len(t, segs, len(c.frames))
			for i, seg := range segs {
				require.Equal(t, c.frames[i], seg.Frames, "segment %d", i)
				require.Equal(t, i > 0 && c.gap, seg.GapBefore, "segment %d", i)
				require.Equal(t, int64(seg.Frames*frameTicks), seg.EndDTS-seg.StartDTS,
					"the last frame before a gap lasts as long as the one before it")
				recRequirePlays(t, seg)
			}
			st := rec.Stats()
			require.Equal(t, c.skipped, st.Skipped)
			if c.gap {
				require.Equal(t, uint64(1), st.Gaps)
			}
			if c.name == "wall-clock jump" {
				require.Equal(t, recEpoch.Add(3*time.Second+time.Hour), segs[1].Start.UTC())
			}
		})
	}
}

// Frames the recorder's reader loses (its queue full while the recorder
// is stuck) close the segment; recording resumes at the next IDR.
func TestRecorderDropsCloseTheSegment(t *testing.T) {
	clip := recordClip(t, media.H264, "320x240", 8)
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	log := &recSegmentLog{}
	unblock := make(chan struct{})
	rec := &Recorder{
		Stream: s, Dir: t.TempDir(), SegmentDuration: time.Minute, Logger: testLogger(t),
		queueSize: 8,
		OnSegment: func(info SegmentInfo) {
			log.add(info)
			if info.Seq == 1 && !info.Closed {
				<-unblock // a slow index
			}
		},
	}
	require.NoError(t, rec.Initialize())
	defer rec.Close()
	recFeedFirst(t, rec, s, clip.units) // the recorder now waits in OnSegment
	recFeed(s, clip.units, 1, 41, nil)  // 1-8 queued, 9-40 lost
	close(unblock)
	recWaitReceived(t, rec, 9)
	recFeed(s, clip.units, 41, 45, nil) // lost: not an IDR
	for i := 45; i < 90; i++ {          // recorded, at the recorder's pace
		recFeed(s, clip.units, i, i+1, nil)
		recWaitReceived(t, rec, uint64(9+i-44))
	}
	rec.Close()

	segs := log.closed()
	require.Len(t, segs, 2)
	require.Equal(t, 9, segs[0].Frames)
	require.Equal(t, 45, segs[1].Frames)
	require.True(t, segs[1].GapBefore)
	require.Equal(t, uint64(1), rec.Stats().Gaps)
	for _, seg := range segs {
		recRequirePlays(t, seg)
	}
}

// New parameter sets (the camera's resolution changed) start a new
// segment at their IDR, without a gap.
func TestRecorderParameterSetsChange(t *testing.T) {
	a := recordClip(t, media.H264, "320x240", 8)
	b := recordClip(t, media.H264, "160x120", 2)
	units := append(append([]*media.Unit{}, a.units[:30]...), b.units[:30]...)
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	rec, log := recStart(t, s, t.TempDir(), func(r *Recorder) { r.SegmentDuration = time.Minute })
	recFeedFirst(t, rec, s, units)
	recFeed(s, units, 1, 60, nil)
	recWaitReceived(t, rec, 60)
	rec.Close()

	segs := log.closed()
	require.Len(t, segs, 2)
	require.Equal(t, []int{320, 240, 30}, []int{segs[0].Width, segs[0].Height, segs[0].Frames})
	require.Equal(t, []int{160, 120, 30}, []int{segs[1].Width, segs[1].Height, segs[1].Frames})
	require.False(t, segs[1].GapBefore)
	require.Equal(t, segs[0].EndDTS, segs[1].StartDTS)
	for _, seg := range segs {
		recRequirePlays(t, seg)
	}
	require.Equal(t, recFrameMD5s(t, a.raw)[:30], recFrameMD5s(t, segs[0].Path))
	require.Equal(t, recFrameMD5s(t, b.raw)[:30], recFrameMD5s(t, segs[1].Path))
}

func TestRecorderH265(t *testing.T) {
	clip := recordClip(t, media.H265, "320x240", 4)
	s := NewStream("w1", media.Track{Codec: media.H265}, nil)
	defer s.Close()
	rec, log := recStart(t, s, t.TempDir(), nil)
	recFeedFirst(t, rec, s, clip.units)
	recFeed(s, clip.units, 1, 60, nil)
	recWaitReceived(t, rec, 60)
	rec.Close()

	segs := log.closed()
	require.Len(t, segs, 2)
	var md5s []string
	for _, seg := range segs {
		require.Equal(t, 30, seg.Frames)
		require.Equal(t, media.H265, seg.Codec)
		p := recRequirePlays(t, seg)
		require.Equal(t, "hevc", p.Codec)
		md5s = append(md5s, recFrameMD5s(t, seg.Path)...)
	}
	require.Equal(t, recFrameMD5s(t, clip.raw), md5s)
}

// A camera that comes back with another codec ends the recorder's
// reader: the recorder closes its segment and records the new codec.
func TestRecorderCodecChange(t *testing.T) {
	h264 := recordClip(t, media.H264, "320x240", 8)
	h265 := recordClip(t, media.H265, "320x240", 4)
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	rec, log := recStart(t, s, t.TempDir(), func(r *Recorder) { r.SegmentDuration = time.Minute })
	recFeedFirst(t, rec, s, h264.units)
	recFeed(s, h264.units, 1, 30, nil)
	recWaitReceived(t, rec, 30)

	s.SetVideoTrack(media.Track{Codec: media.H265})
	deadline := time.Now().Add(5 * time.Second)
	for len(log.closed()) == 0 || s.Stats().Readers == 0 {
		require.True(t, time.Now().Before(deadline), "the recorder did not read again")
		time.Sleep(2 * time.Millisecond)
	}
	units := append(append([]*media.Unit{}, h264.units[:30]...), h265.units[:30]...)
	recFeed(s, units, 30, 60, func(i int, u *media.Unit) { u.Discontinuity = i == 30 })
	recWaitReceived(t, rec, 60)
	rec.Close()

	segs := log.closed()
	require.Len(t, segs, 2)
	require.Equal(t, media.H264, segs[0].Codec)
	require.Equal(t, media.H265, segs[1].Codec)
	require.True(t, segs[1].GapBefore)
	for _, seg := range segs {
		require.Equal(t, 30, seg.Frames)
		recRequirePlays(t, seg)
	}
}

// The recorder stops with its stream, closing its segment with the
// frames the stream had handed it.
func TestRecorderStreamClosed(t *testing.T) {
	clip := recordClip(t, media.H264, "320x240", 8)
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	rec, log := recStart(t, s, t.TempDir(), nil)
	recFeedFirst(t, rec, s, clip.units)
	recFeed(s, clip.units, 1, 20, nil)
	s.Close()
	select {
	case <-rec.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the recorder did not stop with its stream")
	}
	segs := log.closed()
	require.Len(t, segs, 1)
	require.True(t, segs[0].Closed)
	require.Equal(t, 20, segs[0].Frames, "the frames queued when the stream closed are recorded")
	recRequirePlays(t, segs[0])
	rec.Close()
}

func TestRecorderConfig(t *testing.T) {
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	require.Error(t, (&Recorder{Dir: t.TempDir()}).Initialize())
	require.Error(t, (&Recorder{Stream: s}).Initialize())
	(&Recorder{}).Close() // never initialized: harmless
	s.Close()
	require.ErrorIs(t, (&Recorder{Stream: s, Dir: t.TempDir()}).Initialize(), ErrStreamClosed)
}

func TestScanSegmentsSkipsOtherFiles(t *testing.T) {
	clip := recordClip(t, media.H264, "320x240", 8)
	dir := t.TempDir()
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	rec, log := recStart(t, s, dir, nil)
	recFeedFirst(t, rec, s, clip.units)
	recFeed(s, clip.units, 1, 30, nil)
	recWaitReceived(t, rec, 30)
	rec.Close()

	// A plain MP4 and a file cut before its init part.
	plain := filepath.Join(dir, "w1", "plain.mp4")
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", clip.raw, "-c", "copy", plain).CombinedOutput()
	require.NoError(t, err, "%s", out)
	recCopyTruncated(t, log.closed()[0].Path, filepath.Join(dir, "w1", "empty.mp4"), 20)
	for _, p := range []string{plain, filepath.Join(dir, "w1", "empty.mp4")} {
		_, err := ReadSegment(p)
		require.ErrorIs(t, err, ErrNotSegment, p)
	}
	scanned, err := ScanSegments(dir)
	require.ErrorIs(t, err, ErrNotSegment)
	require.Equal(t, log.closed(), scanned)
}

// BenchmarkRecorder measures the recorder's cost per frame: a 320x240
// camera at 15 fps (~2 KB a frame) into 60 s segments of 1 s fragments,
// as the recorder's goroutine does it (no stream, no reader). ns/op is
// wall time, with the fsync of every closed segment; cpu-ns/frame the
// process's CPU time.
//
//	go test -run '^$' -bench Recorder -benchtime 9000x ./streaming/
func BenchmarkRecorder(b *testing.B) {
	clip := recordClip(b, media.H264, "320x240", 8)
	r := &Recorder{Stream: NewStream("bench", media.Track{Codec: media.H264}, nil), Dir: b.TempDir(),
		SegmentDuration: time.Minute, PartDuration: time.Second, Now: time.Now}
	rec, err := r.prepare(slog.New(slog.DiscardHandler), filepath.Join(r.Dir, "bench"))
	require.NoError(b, err)
	frames, units := make([]Frame, 256), make([]media.Unit, 256)
	size := 0
	for _, u := range clip.units {
		size += int(avccSize(u.AU))
	}
	b.SetBytes(int64(size / len(clip.units)))
	noDrops := func() uint64 { return 0 }
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		u := &units[i%len(units)]
		*u = *clip.units[i%len(clip.units)]
		u.PTS = int64(i) * frameTicks
		f := &frames[i%len(frames)]
		*f = Frame{Kind: KindVideo, Codec: media.H264, Seq: uint64(i + 1), TS: u.PTS,
			ClockRate: media.ClockRate, IDR: u.IDR, Unit: u}
		rec.handle(f, false, noDrops)
	}
	rec.stop()
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/frame")
	b.ReportMetric(float64(r.Stats().Segments), "segments")
}
