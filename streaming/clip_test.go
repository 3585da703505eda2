package streaming

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/media"
)

// clipRecording is 8 s of 320x240 H.264 at 15 fps (an IDR every second)
// recorded in 2 s segments, from recEpoch; and the MD5 of every source
// frame, by index.
type clipRecording struct {
	segs []SegmentInfo
	md5s []string
}

var (
	clipRecOnce sync.Once
	clipRec     clipRecording
)

func recordForClips(t *testing.T) clipRecording {
	t.Helper()
	clip := recordClip(t, media.H264, "320x240", 8)
	clipRecOnce.Do(func() {
		s := NewStream("w1", media.Track{Codec: media.H264}, nil)
		defer s.Close()
		dir := filepath.Join(testdataDir, "clips")
		r := &Recorder{Stream: s, Dir: dir, SegmentDuration: 2 * time.Second, Logger: testLogger(t)}
		require.NoError(t, r.Initialize())
		recFeedFirst(t, r, s, clip.units)
		recFeed(s, clip.units, 1, len(clip.units), nil)
		recWaitReceived(t, r, uint64(len(clip.units)))
		r.Close()
		segs, err := ScanSegments(dir)
		require.NoError(t, err)
		require.Len(t, segs, 4)
		clipRec = clipRecording{segs: segs, md5s: recFrameMD5s(t, clip.raw)}
	})
	require.Len(t, clipRec.segs, 4, "recording failed in an earlier test")
	return clipRec
}

// writeClip writes the whole clip, read through a SectionReader, to a
// file.
func writeClip(t *testing.T, c *Clip) (string, []byte) {
	t.Helper()
	b, err := io.ReadAll(io.NewSectionReader(c, 0, c.Size()))
	require.NoError(t, err)
	require.Len(t, b, int(c.Size()))
	path := filepath.Join(t.TempDir(), "clip.mp4")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path, b
}

func at(sec float64) time.Time { return recEpoch.Add(time.Duration(sec * float64(time.Second))) }

func TestClipExact(t *testing.T) {
	rec := recordForClips(t)
	segs := rec.segs
	type span struct {
		from, to float64 // seconds after recEpoch
		first    int     // index of the first source frame shown
	}
	for _, tc := range []struct {
		name  string
		parts []span
		segs  []SegmentInfo
	}{
		// 1.31 s is frame 19.65: frame 20 (1.333 s) is the nearest, 5 after
		// the IDR at 1 s.
		{"inside one segment, mid-GOP", []span{{1.31, 1.91, 20}}, segs},
		{"across three segments", []span{{1.71, 5.43, 26}}, segs},
		{"from the first frame to the end", []span{{0, 8, 0}}, segs},
		{"two parts", []span{{0.52, 1.49, 8}, {5.2, 7.12, 78}}, segs},
		{"a part ending before the next starts", []span{{3.11, 3.91, 47}, {3.91, 4.71, 59}}, segs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var parts []ClipPart
			var want time.Duration
			var wantFrames int
			var wantMD5s []string
			for _, p := range tc.parts {
				from, to := at(p.from), at(p.to)
				parts = append(parts, ClipPart{Window: "w1", From: from, To: to, Segments: tc.segs})
				l := to.Sub(from)
				want += l
				n := int(math.Round(l.Seconds() * testFPS))
				wantFrames += n
				wantMD5s = append(wantMD5s, rec.md5s[p.first:p.first+n]...)
			}
			c, err := BuildClip(parts)
			require.NoError(t, err)
			defer c.Close()
			require.Equal(t, wantFrames, c.Frames())
			require.InDelta(t, want, c.Duration(), float64(frameDur)/2*float64(len(parts)))
			cov := c.Coverage()
			require.Len(t, cov, len(parts))
			for _, cv := range cov {
				require.Empty(t, cv.Gaps)
				require.Len(t, cv.Covered, 1)
			}

			path, _ := writeClip(t, c)
			p := recProbe(t, path)
			require.Equal(t, "h264", p.Codec)
			require.Equal(t, 320, p.Width)
			require.Equal(t, wantFrames, p.Frames, "frames shown (pre-roll not counted)")
			require.InDelta(t, want, p.Duration, float64(frameDur), "ffprobe's duration")
			require.InDelta(t, c.Duration(), p.Duration, float64(time.Millisecond))
			require.Empty(t, recDecodeErrors(t, path))
			require.Equal(t, wantMD5s, recFrameMD5s(t, path), "the frames shown are the source's")
			boxes := recBoxes(t, path)
			require.Equal(t, []string{"ftyp", "moov", "mdat"}, []string{boxes[0].typ, boxes[1].typ, boxes[2].typ}, "moov first")
		})
	}
}

// A segment missing inside a part: the clip continues with the next one,
// and the coverage reports the gap.
func TestClipGap(t *testing.T) {
	rec := recordForClips(t)
	segs := []SegmentInfo{rec.segs[2], rec.segs[0]} // any order
	c, err := BuildClip([]ClipPart{{Window: "w1", From: at(1), To: at(5), Segments: segs}})
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, 30, c.Frames())
	require.Equal(t, 2*time.Second, c.Duration())
	cov := c.Coverage()[0]
	require.Equal(t, []ClipRange{{at(1), at(2)}, {at(4), at(5)}}, cov.Covered)
	require.Equal(t, []ClipRange{{at(2), at(4)}}, cov.Gaps)
	path, _ := writeClip(t, c)
	p := recProbe(t, path)
	require.Equal(t, 30, p.Frames)
	require.InDelta(t, 2*time.Second, p.Duration, float64(frameDur))
	require.Empty(t, recDecodeErrors(t, path))
	require.Equal(t, append(slicesClone(rec.md5s[15:30]), rec.md5s[60:75]...), recFrameMD5s(t, path))
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func TestClipNoFootage(t *testing.T) {
	rec := recordForClips(t)
	_, err := BuildClip([]ClipPart{
		{Window: "w1", From: at(1), To: at(2), Segments: rec.segs},
		{Window: "w1", From: at(20), To: at(30), Segments: rec.segs},
		{Window: "w2", From: at(1), To: at(2)},
	})
	require.ErrorIs(t, err, ErrNoFootage)
	require.ErrorIs(t, err, apperr.NotFound)
	var nf *ClipNoFootageError
	require.True(t, errors.As(err, &nf))
	require.Equal(t, []int{1, 2}, nf.Parts)
	require.Len(t, nf.Coverage, 3)
	require.Equal(t, []ClipRange{{at(20), at(30)}}, nf.Coverage[1].Gaps)
	require.Contains(t, err.Error(), `part 1 (window "w1"`)

	_, err = BuildClip(nil)
	require.ErrorIs(t, err, apperr.Invalid)
	_, err = BuildClip([]ClipPart{{Window: "w1", From: at(2), To: at(1), Segments: rec.segs}})
	require.ErrorIs(t, err, apperr.Invalid)
}

func TestClipReadAt(t *testing.T) {
	rec := recordForClips(t)
	c, err := BuildClip([]ClipPart{
		{Window: "w1", From: at(0.7), To: at(6.2), Segments: rec.segs},
		{Window: "w1", From: at(1.1), To: at(2.5), Segments: rec.segs},
	})
	require.NoError(t, err)
	_, full := writeClip(t, c)
	rng := rand.New(rand.NewPCG(1, 2))
	size := c.Size()
	for range 500 {
		off := rng.Int64N(size)
		n := rng.IntN(int(min(size-off, 200_000))) + 1
		if rng.IntN(10) == 0 {
			n += 100 // past the end
		}
		p := make([]byte, n)
		got, err := c.ReadAt(p, off)
		if off+int64(n) > size {
			require.ErrorIs(t, err, io.EOF)
			require.Equal(t, int(size-off), got)
		} else {
			require.NoError(t, err)
			require.Equal(t, n, got)
		}
		require.Equal(t, full[off:off+int64(got)], p[:got], "ReadAt(%d, %d)", n, off)
	}
	n, err := c.ReadAt(make([]byte, 10), size)
	require.Zero(t, n)
	require.ErrorIs(t, err, io.EOF)

	sum, err := c.SHA256()
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(full), sum)
	sum2, err := c.SHA256()
	require.NoError(t, err)
	require.Equal(t, sum, sum2)

	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	_, err = c.ReadAt(make([]byte, 10), 0)
	require.ErrorIs(t, err, ErrClipClosed)
}

var (
	clipBenchOnce sync.Once
	clipBenchSegs []SegmentInfo
)

// recordForClipBench records 30 minutes (the 8 s clip looped) in 60 s
// segments, once per run: the recorder runs as fast as the disk lets it.
func recordForClipBench(b *testing.B) []SegmentInfo {
	b.Helper()
	clip := recordClip(b, media.H264, "320x240", 8)
	clipBenchOnce.Do(func() {
		s := NewStream("bench", media.Track{Codec: media.H264}, nil)
		defer s.Close()
		dir := filepath.Join(testdataDir, "clipbench")
		r := &Recorder{Stream: s, Dir: dir, SegmentDuration: time.Minute}
		require.NoError(b, r.Initialize())
		recFeedFirst(b, r, s, clip.units)
		const total = 30 * 60 * testFPS
		for i := 1; i < total; i += 256 {
			to := min(i+256, total)
			recFeed(s, clip.units, i, to, nil)
			recWaitReceived(b, r, uint64(to))
		}
		r.Close()
		require.Zero(b, r.Stats().Gaps+r.Stats().Skipped)
		segs, err := ScanSegments(dir)
		require.NoError(b, err)
		clipBenchSegs = segs
	})
	require.Len(b, clipBenchSegs, 30)
	return clipBenchSegs
}

// BenchmarkClipAssembly builds a 30-minute clip (from 30 segments of a
// minute, starting mid-GOP) and reads it whole: MB/s of reading, and the
// time to first byte (BuildClip and a first ReadAt of 64 KiB).
func BenchmarkClipAssembly(b *testing.B) {
	segs := recordForClipBench(b)
	from, to := recEpoch.Add(300*time.Millisecond), recEpoch.Add(30*time.Minute-time.Second)
	buf := make([]byte, 1<<20)
	var ttfb, read time.Duration
	var bytes int64
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		c, err := BuildClip([]ClipPart{{Window: "bench", From: from, To: to, Segments: segs}})
		require.NoError(b, err)
		_, err = c.ReadAt(buf[:64<<10], 0)
		require.NoError(b, err)
		t1 := time.Now()
		n, err := io.CopyBuffer(io.Discard, io.NewSectionReader(c, 0, c.Size()), buf)
		require.NoError(b, err)
		read += time.Since(t1)
		ttfb += t1.Sub(t0)
		bytes += n
		require.NoError(b, c.Close())
	}
	b.ReportMetric(float64(bytes)/1e6/read.Seconds(), "MB/s")
	b.ReportMetric(float64(ttfb.Microseconds())/1e3/float64(b.N), "ms-ttfb")
	b.ReportMetric(float64(bytes)/float64(b.N)/1e6, "MB-clip")
}

// Two windows recorded at different picture sizes: one sample entry, the
// other parameter sets in band.
func TestClipOtherParameterSets(t *testing.T) {
	rec := recordForClips(t)
	small, segs2 := recordSmallForClips(t)
	c, err := BuildClip(twoSizeParts(rec.segs, segs2))
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, 45, c.Frames())
	path, _ := writeClip(t, c)
	require.Equal(t, 1, bytes.Count(c.header, []byte("avcC")), "one sample entry")
	require.Equal(t, 45, clipShownPackets(t, path), "packets not discarded by the edits")
	p := recProbe(t, path)
	require.Equal(t, 45, p.Frames)
	require.InDelta(t, 3*time.Second, p.Duration, float64(frameDur))
	require.Empty(t, recDecodeErrors(t, path))
	md5s := recFrameMD5s(t, path, "-autoscale", "0")
	require.Len(t, md5s, 45)
	require.Equal(t, rec.md5s[8:23], md5s[:15])
	require.Equal(t, recFrameMD5s(t, small.raw, "-autoscale", "0")[38:53], md5s[15:30])
	require.Equal(t, rec.md5s[98:113], md5s[30:])
}

// clipShownPackets counts the packets of a file that ffmpeg's demuxer
// does not mark discard (pre-roll outside the edits).
func clipShownPackets(t *testing.T, path string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=flags", "-of", "csv=p=0", path).Output()
	require.NoError(t, err, "%s", recErrOutput(err))
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.Contains(l, "D") {
			n++
		}
	}
	return n
}

// recordSmallForClips records 4 s of 160x120 as window w2.
func recordSmallForClips(t *testing.T) (*recClip, []SegmentInfo) {
	small := recordClip(t, media.H264, "160x120", 4)
	s := NewStream("w2", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	dir := t.TempDir()
	r := &Recorder{Stream: s, Dir: dir, SegmentDuration: 2 * time.Second, Logger: testLogger(t)}
	require.NoError(t, r.Initialize())
	recFeedFirst(t, r, s, small.units)
	recFeed(s, small.units, 1, len(small.units), nil)
	recWaitReceived(t, r, uint64(len(small.units)))
	r.Close()
	segs, err := ScanSegments(dir)
	require.NoError(t, err)
	require.Len(t, segs, 2)
	return small, segs
}

// twoSizeParts are 1 s of w1 (320x240), w2 (160x120), w1, each mid-GOP.
func twoSizeParts(w1, w2 []SegmentInfo) []ClipPart {
	return []ClipPart{
		{Window: "w1", From: at(0.51), To: at(1.51), Segments: w1},
		{Window: "w2", From: at(2.51), To: at(3.51), Segments: w2},
		{Window: "w1", From: at(6.51), To: at(7.51), Segments: w1},
	}
}
