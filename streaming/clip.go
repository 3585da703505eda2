package streaming

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"
)

// Clip assembly: an MP4 cut from recorded segments by wall-clock time,
// without re-encoding, served at random (HTTP Range) without being built
// in memory.
//
// The clip is one non-fragmented MP4, moov first (faststart):
//
//	ftyp
//	moov
//	  mvhd                    timescale 90000, duration = the edits' sum
//	  trak
//	    tkhd
//	    edts/elst             one edit per run that starts with pre-roll
//	    mdia(mdhd 90000, hdlr, minf(vmhd, dinf, stbl(
//	      stsd                the first segment's sample entry (avc1/hvc1)
//	      stts, stss, stsc, stsz, stco|co64)))
//	mdat                      the samples, copied from the segments' mdat
//	                          boxes as they are read (64-bit size past 4 GiB)
//
// Only the ftyp, moov and mdat header are in memory (~20 bytes a frame:
// ~600 KB for 30 minutes at 15 fps); ReadAt reads the rest from the
// segment files, which stay open until Close.
//
// # Exact start: an edit list, pre-roll of one tick
//
// A part starting between two keyframes takes its samples from the last
// IDR at or before its first frame (so they decode) and an edit (elst
// entry) whose media_time is the decode time of the first frame to show:
// the pre-roll samples are decoded, not shown. The pre-roll samples also
// get a duration of one tick (1/90000 s) in stts, so that decode times
// still increase and a player that ignored edit lists would show them for
// a few ticks, not for up to a GOP. Evidence (ffmpeg 5.1, Chromium; see
// clip_test.go and clip_browser_test.go): ffmpeg's mov demuxer marks the
// pre-roll packets discard, so ffprobe's nb_read_frames and format
// duration count only what the edits show, and the decoded frames are
// exactly the source's from the requested one; headless Chromium (which
// plays MP4 through the same demuxer) reports the edits' duration,
// presents the first frame at media time 0 and presents (and counts in
// getVideoPlaybackQuality) no pre-roll frame, with one edit or two.
// Zero-duration samples alone (no edit list) were the other choice:
// samples sharing a decode time are not monotonic, and ffmpeg shows them
// (the frame count and the first picture would be wrong).
//
// Consecutive runs without pre-roll (segments that stitch exactly) share
// one edit; each part, and each run after a gap inside a part, adds one.
// With several edits ffmpeg logs a warning (not an error) "DTS ... out of
// order": it reads one discarded keyframe past each edit's end, then the
// next edit's pre-roll. Decoding is not affected.
//
// # Frame boundaries
//
// A part's first frame is the first whose middle is at or after From: the
// nearest frame boundary, within half a frame. The part then shows the
// frames whose middle lies before that boundary plus To − From, so a
// fully covered part shows round(L × fps) frames (L = To − From, halves
// rounded down) and lasts L within half a frame (ffprobe's duration is the
// sum of the edits: exactly the frames shown).
//
// Samples map to wall-clock time as SegmentInfo.Start plus their decode
// time in the segment. Segments of a part may overlap (a clock set back):
// a sample that would start before the last one shown ends is skipped.
//
// # Several parts; other parameter sets
//
// Parts are laid out in the order given, decode times continuing across
// them. The clip has one sample entry: the first segment's. A segment
// whose parameter sets (SPS/PPS, picture size) differ relies on those its
// IDRs carry in band, which every recorded IDR does (the stream prepends
// them when the camera does not send them) and BuildClip checks at each
// run's IDR (else ErrClipParams). Several sample entries (stsd with one
// per parameter sets, stsc pointing to them) were tried and dropped:
// Chromium played them, but ffmpeg 5.1 decoded the first frame after a
// switch with the old parameter sets ("cbp too large", a frame lost).
// H.264 and H.265 segments cannot be mixed in one clip (ErrClipCodecs).

// Clip is an assembled MP4, readable at random: with io.NewSectionReader
// it serves Range requests through http.ServeContent. It is safe for
// concurrent use. Close it to close its segment files.
type Clip struct {
	header   []byte      // ftyp, moov, mdat header
	chunks   []clipChunk // the mdat's payload, by output offset
	size     int64
	duration int64 // ticks shown
	frames   int
	coverage []ClipCoverage
	sources  []*clipSource

	mu     sync.Mutex // guards sum, summed, closed
	sum    [32]byte
	summed bool
	closed bool
}

// clipChunk is a run of samples contiguous in a source file.
type clipChunk struct {
	out    int64 // offset in the clip
	src    *clipSource
	srcOff int64
	n      int64
}

// ErrClipClosed is returned by a Clip's ReadAt and SHA256 after Close.
var ErrClipClosed = errors.New("clip closed")

// Size returns the clip's length in bytes.
func (c *Clip) Size() int64 { return c.size }

// Duration returns the length of what the clip shows (the sum of its
// edits).
func (c *Clip) Duration() time.Duration { return ticksToDuration(c.duration) }

// Frames returns the number of frames the clip shows (pre-roll frames,
// decoded but not shown, are not counted).
func (c *Clip) Frames() int { return c.frames }

// Coverage returns, per part, the spans covered and the gaps.
func (c *Clip) Coverage() []ClipCoverage { return slices.Clone(c.coverage) }

// ReadAt reads the clip's bytes at off (io.ReaderAt): from the header in
// memory, then from the segment files.
func (c *Clip) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("clip: negative offset")
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, ErrClipClosed
	}
	n := 0
	if off < int64(len(c.header)) {
		n = copy(p, c.header[off:])
	}
	// The first chunk that ends after off+n.
	i := sort.Search(len(c.chunks), func(i int) bool { return c.chunks[i].out+c.chunks[i].n > off+int64(n) })
	for n < len(p) && i < len(c.chunks) {
		ch := c.chunks[i]
		at := off + int64(n) - ch.out
		want := min(int64(len(p)-n), ch.n-at)
		m, err := ch.src.file.ReadAt(p[n:n+int(want)], ch.srcOff+at)
		n += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the segment shrank
			}
			return n, fmt.Errorf("clip: read %s: %w", ch.src.info.Path, err)
		}
		i++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// SHA256 returns the SHA-256 of the whole clip, reading it once; the
// result is kept.
func (c *Clip) SHA256() ([32]byte, error) {
	c.mu.Lock()
	if c.summed {
		defer c.mu.Unlock()
		return c.sum, nil
	}
	c.mu.Unlock()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(c, 0, c.size), make([]byte, 1<<20)); err != nil {
		return [32]byte{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	copy(c.sum[:], h.Sum(nil))
	c.summed = true
	return c.sum, nil
}

// Close closes the segment files. Reads after it fail with ErrClipClosed.
func (c *Clip) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	var errs []error
	for _, s := range c.sources {
		if err := s.file.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

var _ io.ReaderAt = (*Clip)(nil)
