package streaming

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

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
				// take over (see "Several parts; other parameter sets"
				// in clip.go).
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
