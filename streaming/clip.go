package streaming

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/internal/apperr"
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

// ErrNoFootage is returned by BuildClip when no recording covers a part:
// the error, a *ClipNoFootageError, says which. It is of kind
// apperr.NotFound.
var ErrNoFootage = fmt.Errorf("no recorded footage: %w", apperr.NotFound)

// ErrClipCodecs is returned by BuildClip for parts recorded in different
// codecs (H.264 and H.265). It is of kind apperr.Invalid.
var ErrClipCodecs = fmt.Errorf("a clip cannot mix H.264 and H.265: %w", apperr.Invalid)

// ClipNoFootageError lists the parts of a clip without any footage. It
// matches ErrNoFootage with errors.Is.
type ClipNoFootageError struct {
	// Parts are the indexes of the parts without footage, in order.
	Parts []int
	// Coverage is every part's coverage, for the message shown to a user.
	Coverage []ClipCoverage
}

func (e *ClipNoFootageError) Error() string {
	var b strings.Builder
	b.WriteString("no recorded footage for")
	for i, p := range e.Parts {
		if i > 0 {
			b.WriteString(",")
		}
		c := e.Coverage[p]
		fmt.Fprintf(&b, " part %d (window %q, %s to %s)", p, c.Window,
			c.From.UTC().Format(time.RFC3339Nano), c.To.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNoFootage) and errors.Is(err,
// apperr.NotFound) true.
func (e *ClipNoFootageError) Is(target error) bool {
	return target == ErrNoFootage || target == apperr.NotFound
}

// ClipPart is one time range of one window's recording.
type ClipPart struct {
	Window   string
	From, To time.Time
	// Segments are the window's segments that overlap [From, To), in any
	// order (others are ignored).
	Segments []SegmentInfo
}

// ClipRange is a span of wall-clock time.
type ClipRange struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ClipCoverage is what a clip holds of one part.
type ClipCoverage struct {
	Window string    `json:"window"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Covered are the spans shown, in order, as the frames' wall-clock
	// times (so within half a frame of From and To); Gaps the spans of
	// [From, To) without footage.
	Covered []ClipRange `json:"covered"`
	Gaps    []ClipRange `json:"gaps"`
	// Frames is the number of frames shown; Duration their length.
	Frames   int           `json:"frames"`
	Duration time.Duration `json:"duration_ns"`
}

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

// clipRun is a sequence of samples of one source taken for the clip: the
// first pre decode without being shown.
type clipRun struct {
	src      *clipSource
	first    int // index in src.samples
	pre      int // samples before the first shown
	shown    int
	entryIdx int   // 1-based sample description index
	shownDur int64 // ticks
}

// BuildClip lays out a clip of parts, concatenated in the order given,
// from the segments' fragment indexes: it reads their init parts and
// moofs, not their media. When a part has no footage at all it returns a
// *ClipNoFootageError (errors.Is ErrNoFootage).
func BuildClip(parts []ClipPart) (_ *Clip, err error) {
	if len(parts) == 0 {
		return nil, apperr.New(apperr.Invalid, "a clip needs at least one part")
	}
	c := &Clip{}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	opened := map[string]*clipSource{}
	var (
		runs    []clipRun
		empty   []int
		entries [][]byte
		codec   string
	)
	for pi, part := range parts {
		if !part.To.After(part.From) {
			return nil, apperr.New(apperr.Invalid, "clip part %d: To (%s) is not after From (%s)", pi, part.To, part.From)
		}
		cov := ClipCoverage{Window: part.Window, From: part.From, To: part.To, Covered: []ClipRange{}, Gaps: []ClipRange{}}
		segs := slices.Clone(part.Segments)
		slices.SortStableFunc(segs, func(a, b SegmentInfo) int { return a.Start.Compare(b.Start) })
		var (
			shownEnd time.Time // wall-clock end of the last sample shown
			end      time.Time // where the part's frames end; set at its first
			maxDur   int64     // the longest sample shown, in ticks
		)
		for _, seg := range segs {
			ended := seg.End.After(seg.Start) // else still open: End unknown
			if (part.Window != "" && seg.Window != part.Window) || !seg.Start.Before(part.To) || (ended && !seg.End.After(part.From)) {
				continue
			}
			src := opened[seg.Path]
			if src == nil {
				if src, err = openClipSource(seg); err != nil {
					return nil, fmt.Errorf("clip part %d: %w", pi, err)
				}
				opened[seg.Path] = src
				c.sources = append(c.sources, src)
			}
			lower := part.From
			if shownEnd.After(lower) {
				lower = shownEnd
			}
			run, ok := selectSamples(src, lower, end)
			if !ok {
				continue
			}
			if end.IsZero() {
				// The part's first frame: the part ends its length
				// after it when it starts within half a frame of From.
				start := src.info.Start.Add(ticksToDuration(src.samples[run.first+run.pre].dts))
				end = part.To
				if shift := start.Sub(part.From); shift.Abs() <= ticksToDuration(int64(src.samples[run.first+run.pre].dur)/2) {
					end = part.To.Add(shift)
				}
				if run, ok = selectSamples(src, lower, end); !ok {
					continue
				}
			}
			// One codec, one sample entry: the first.
			typ := clipEntryType(src.entry)
			if codec == "" {
				codec = typ
			} else if typ != codec {
				return nil, fmt.Errorf("%w: %s and %s", ErrClipCodecs, codec, typ)
			}
			if entries == nil {
				entries = [][]byte{src.entry}
			} else if !bytes.Equal(entries[0], src.entry) {
				// Other parameter sets: those in band at the run's IDR
				// take over (see "Several parts; other parameter sets").
				if err := checkInBandParams(src, run.first, typ); err != nil {
					return nil, fmt.Errorf("clip part %d: %w", pi, err)
				}
			}
			run.entryIdx = 1
			runs = append(runs, run)

			first := src.samples[run.first+run.pre]
			last := src.samples[run.first+run.pre+run.shown-1]
			from := src.info.Start.Add(ticksToDuration(first.dts))
			to := src.info.Start.Add(ticksToDuration(last.dts + int64(last.dur)))
			shownEnd = to
			if n := len(cov.Covered); n > 0 && from.Sub(cov.Covered[n-1].To).Abs() < time.Millisecond {
				cov.Covered[n-1].To = to
			} else {
				cov.Covered = append(cov.Covered, ClipRange{From: from, To: to})
			}
			for _, s := range src.samples[run.first+run.pre : run.first+run.pre+run.shown] {
				maxDur = max(maxDur, int64(s.dur))
			}
			cov.Frames += run.shown
			cov.Duration += ticksToDuration(run.shownDur)
		}
		if maxDur == 0 {
			maxDur = defaultFrameTicks
		}
		// The frames shown start and end within half a frame of the
		// part's ends: a gap is more than that.
		cov.Gaps = clipGaps(part.From, part.To, cov.Covered, ticksToDuration(maxDur/2)+time.Millisecond)
		if cov.Frames == 0 {
			empty = append(empty, pi)
		}
		c.coverage = append(c.coverage, cov)
	}
	if len(empty) > 0 {
		return nil, &ClipNoFootageError{Parts: empty, Coverage: c.coverage}
	}
	c.layout(runs, entries)
	return c, nil
}

// selectSamples picks the samples of src to show in [lower, to): those
// whose middle lies in it, with the pre-roll from the last sync sample
// before them. With to zero, it picks the first such sample only.
func selectSamples(src *clipSource, lower, to time.Time) (clipRun, bool) {
	s := src.samples
	mid := func(i int) time.Time {
		return src.info.Start.Add(ticksToDuration(s[i].dts + int64(s[i].dur)/2))
	}
	a := sort.Search(len(s), func(i int) bool { return !mid(i).Before(lower) })
	b := a
	for b < len(s) && (to.IsZero() || mid(b).Before(to)) {
		b++
		if to.IsZero() {
			break
		}
	}
	if a == b {
		return clipRun{}, false
	}
	p := a
	for p >= 0 && !s[p].sync {
		p--
	}
	if p < 0 {
		return clipRun{}, false // cannot be decoded: not ours
	}
	run := clipRun{src: src, first: p, pre: a - p, shown: b - a}
	for i := a; i < b; i++ {
		run.shownDur += int64(s[i].dur)
	}
	return run, true
}

// clipGaps returns the spans of [from, to) that covered (in order) leaves
// out, ignoring those up to tolerance long.
func clipGaps(from, to time.Time, covered []ClipRange, tolerance time.Duration) []ClipRange {
	gaps := []ClipRange{}
	at := from
	for _, c := range covered {
		if c.From.Sub(at) > tolerance {
			gaps = append(gaps, ClipRange{From: at, To: c.From})
		}
		if c.To.After(at) {
			at = c.To
		}
	}
	if to.Sub(at) > tolerance {
		gaps = append(gaps, ClipRange{From: at, To: to})
	}
	return gaps
}

// ErrClipParams is returned by BuildClip when a segment's parameter sets
// differ from those of the clip's first segment and its IDR does not
// carry them in band. It is of kind apperr.Invalid.
var ErrClipParams = fmt.Errorf("a clip's segments have different parameter sets, not in band: %w", apperr.Invalid)

// checkInBandParams checks that sample i of src (an IDR) carries its
// parameter sets in band.
func checkInBandParams(src *clipSource, i int, entryType string) error {
	s := src.samples[i]
	b := make([]byte, s.size)
	if _, err := src.file.ReadAt(b, s.off); err != nil {
		return fmt.Errorf("segment %s: %w", src.info.Path, err)
	}
	want := map[int]bool{7: false, 8: false} // SPS, PPS
	h265 := entryType == "hvc1" || entryType == "hev1"
	if h265 {
		want = map[int]bool{h265NALVPS: false, h265NALSPS: false, h265NALPPS: false}
	}
	for len(b) >= 5 {
		n := int(binary.BigEndian.Uint32(b))
		if n < 1 || n > len(b)-4 {
			break
		}
		t := int(b[4] & 0x1f)
		if h265 {
			t = int(b[4]>>1) & 0x3f
		}
		if _, ok := want[t]; ok {
			want[t] = true
		}
		b = b[4+n:]
	}
	for _, ok := range want {
		if !ok {
			return fmt.Errorf("%w: segment %s", ErrClipParams, src.info.Path)
		}
	}
	return nil
}

// clipEntryType is the four-character type of a sample entry box.
func clipEntryType(entry []byte) string {
	if len(entry) < 8 {
		return ""
	}
	return string(entry[4:8])
}

// clipEdit is one elst entry, in ticks.
type clipEdit struct {
	mediaTime, duration int64
}

// layout builds the header (ftyp, moov, mdat header) and the chunk map
// of the runs.
func (c *Clip) layout(runs []clipRun, entries [][]byte) {
	var (
		edits     []clipEdit
		durs      []uint32
		sizes     []uint32
		syncs     []uint32
		stsc      []clipStsc
		chunkOffs []int64 // relative to the mdat's payload
		payload   int64
		media     int64 // decode time in the clip
	)
	for _, r := range runs {
		shownAt := media
		lastChunkSamples := uint32(0)
		prevEnd := int64(-1)
		for i := r.first; i < r.first+r.pre+r.shown; i++ {
			s := r.src.samples[i]
			if i == r.first+r.pre {
				shownAt = media
			}
			if s.off != prevEnd || len(c.chunks) == 0 || c.chunks[len(c.chunks)-1].src != r.src {
				// A new chunk.
				if lastChunkSamples > 0 {
					stsc = appendStsc(stsc, uint32(len(chunkOffs)), lastChunkSamples, uint32(r.entryIdx))
				}
				c.chunks = append(c.chunks, clipChunk{out: payload, src: r.src, srcOff: s.off})
				chunkOffs = append(chunkOffs, payload)
				lastChunkSamples = 0
			}
			c.chunks[len(c.chunks)-1].n += int64(s.size)
			lastChunkSamples++
			prevEnd = s.off + int64(s.size)
			payload += int64(s.size)
			dur := s.dur
			if i < r.first+r.pre {
				dur = 1 // pre-roll: see "Exact start" above
			}
			durs = append(durs, dur)
			sizes = append(sizes, s.size)
			if s.sync {
				syncs = append(syncs, uint32(len(sizes)))
			}
			media += int64(dur)
		}
		stsc = appendStsc(stsc, uint32(len(chunkOffs)), lastChunkSamples, uint32(r.entryIdx))
		// prevEnd resets per run: a run never shares a chunk with the
		// previous one.
		if n := len(edits); n > 0 && r.pre == 0 && edits[n-1].mediaTime+edits[n-1].duration == shownAt {
			edits[n-1].duration += r.shownDur
		} else {
			edits = append(edits, clipEdit{mediaTime: shownAt, duration: r.shownDur})
		}
		c.duration += r.shownDur
		c.frames += r.shown
	}

	var w boxWriter
	w.start("ftyp")
	w.fourcc("isom")
	w.u32(0x200)
	for _, b := range []string{"isom", "iso2", clipEntryType(entries[0]), "mp41"} {
		w.fourcc(b)
	}
	w.end()

	width, height := runs[0].src.info.Width, runs[0].src.info.Height
	long := c.duration >= 1<<32 || media >= 1<<32
	ver := byte(0)
	if long {
		ver = 1
	}
	timeField := func(v int64) {
		if long {
			w.u64(uint64(v))
		} else {
			w.u32(uint32(v))
		}
	}
	w.start("moov")
	w.fullStart("mvhd", ver, 0)
	timeField(0) // creation
	timeField(0) // modification
	w.u32(recTimescale)
	timeField(c.duration)
	w.u32(0x00010000)
	w.u16(0x0100)
	w.zeros(10)
	w.matrix()
	w.zeros(24)
	w.u32(recTrackID + 1)
	w.end()

	w.start("trak")
	w.fullStart("tkhd", ver, 3)
	timeField(0)
	timeField(0)
	w.u32(recTrackID)
	w.u32(0)
	timeField(c.duration)
	w.zeros(8)
	w.u16(0)
	w.u16(0)
	w.u16(0)
	w.u16(0)
	w.matrix()
	w.u32(uint32(width) << 16)
	w.u32(uint32(height) << 16)
	w.end()

	w.start("edts")
	w.fullStart("elst", ver, 0)
	w.u32(uint32(len(edits)))
	for _, e := range edits {
		timeField(e.duration)
		timeField(e.mediaTime)
		w.u16(1) // media rate 1.0
		w.u16(0)
	}
	w.end()
	w.end()

	w.start("mdia")
	w.fullStart("mdhd", ver, 0)
	timeField(0)
	timeField(0)
	w.u32(recTimescale)
	timeField(media)
	w.u16(0x55c4) // "und"
	w.u16(0)
	w.end()
	w.videoHandlerAndMinf()

	w.start("stbl")
	w.fullStart("stsd", 0, 0)
	w.u32(uint32(len(entries)))
	for _, e := range entries {
		w.raw(e)
	}
	w.end()

	w.fullStart("stts", 0, 0)
	n := 0
	at := len(w.b)
	w.u32(0)
	for i := 0; i < len(durs); {
		j := i + 1
		for j < len(durs) && durs[j] == durs[i] {
			j++
		}
		w.u32(uint32(j - i))
		w.u32(durs[i])
		n++
		i = j
	}
	binary.BigEndian.PutUint32(w.b[at:], uint32(n))
	w.end()

	if len(syncs) < len(sizes) {
		w.fullStart("stss", 0, 0)
		w.u32(uint32(len(syncs)))
		for _, s := range syncs {
			w.u32(s)
		}
		w.end()
	}

	w.fullStart("stsc", 0, 0)
	w.u32(uint32(len(stsc)))
	for _, e := range stsc {
		w.u32(e.firstChunk)
		w.u32(e.perChunk)
		w.u32(e.entry)
	}
	w.end()

	w.fullStart("stsz", 0, 0)
	w.u32(0)
	w.u32(uint32(len(sizes)))
	for _, s := range sizes {
		w.u32(s)
	}
	w.end()

	// Chunk offsets: relative for now, the header's length added below
	// (its length does not depend on them).
	co64 := payload+int64(len(w.b))+int64(len(chunkOffs))*8+1<<20 >= 1<<32
	tab := "stco"
	if co64 {
		tab = "co64"
	}
	w.fullStart(tab, 0, 0)
	w.u32(uint32(len(chunkOffs)))
	offsAt := len(w.b)
	for range chunkOffs {
		if co64 {
			w.u64(0)
		} else {
			w.u32(0)
		}
	}
	w.end()
	w.end() // stbl
	w.end() // minf
	w.end() // mdia
	w.end() // trak
	w.end() // moov

	// mdat, with a 64-bit size if need be.
	if payload+8 < 1<<32 {
		w.u32(uint32(8 + payload))
		w.fourcc("mdat")
	} else {
		w.u32(1)
		w.fourcc("mdat")
		w.u64(uint64(16 + payload))
	}
	base := int64(len(w.b))
	for i, o := range chunkOffs {
		if co64 {
			binary.BigEndian.PutUint64(w.b[offsAt+8*i:], uint64(base+o))
		} else {
			binary.BigEndian.PutUint32(w.b[offsAt+4*i:], uint32(base+o))
		}
	}
	for i := range c.chunks {
		c.chunks[i].out += base
	}
	c.header = w.b
	c.size = base + payload
}

// clipStsc is an stsc entry: from firstChunk (1-based) on, chunks of
// perChunk samples of sample entry entry.
type clipStsc struct{ firstChunk, perChunk, entry uint32 }

// appendStsc adds chunk (1-based) of n samples to the stsc runs.
func appendStsc(runs []clipStsc, chunk, n, entry uint32) []clipStsc {
	if k := len(runs); k > 0 && runs[k-1].perChunk == n && runs[k-1].entry == entry {
		return runs
	}
	return append(runs, clipStsc{chunk, n, entry})
}

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
