package streaming

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// SegmentInfo describes one recorded segment: what an index (ClickHouse)
// stores, what ScanSegments rebuilds from disk.
//
// Segments of one StreamID share a timeline: a segment that does not
// follow a gap starts exactly where the previous one ended
// (prev.EndDTS == next.StartDTS), so clips stitch without overlap or hole.
type SegmentInfo struct {
	// Window is the stream's id.
	Window string `json:"window"`
	// StreamID identifies the timeline StartDTS and EndDTS are on: one per
	// Recorder (a restart begins a new timeline).
	StreamID string `json:"stream_id"`
	// Path is the segment's file. Not in the sidecar: it is where the
	// file was found.
	Path string `json:"-"`
	// Seq numbers the window's segments, 1, 2, ...; it continues across
	// restarts of the recorder.
	Seq uint64 `json:"seq"`
	// Start is the wall-clock time of the first frame (the camera's NTP
	// time); End is Start + Duration.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// StartDTS and EndDTS (exclusive) are the segment's decode times on
	// the stream's timeline, in 90 kHz ticks.
	StartDTS int64 `json:"start_dts"`
	EndDTS   int64 `json:"end_dts"`
	// Duration is EndDTS - StartDTS.
	Duration time.Duration `json:"duration_ns"`
	// Frames is the number of video frames, Keyframes of them IDRs.
	Frames    int `json:"frames"`
	Keyframes int `json:"keyframes"`
	// Bytes is the size of the file's complete part: the whole file once
	// closed, up to the last complete fragment after a crash.
	Bytes int64 `json:"bytes"`
	// GapBefore tells that the previous segment did not end where this
	// one starts: a discontinuity (reconnect, timestamp or clock jump),
	// frames lost by the recorder, a write error or a restart.
	GapBefore bool `json:"gap_before"`
	// Codec and picture size, from the SPS.
	Codec  media.Codec `json:"codec"`
	Width  int         `json:"width"`
	Height int         `json:"height"`
	// Closed tells that the recorder closed the segment cleanly. It is
	// false in the OnSegment call when a segment opens, and for a segment
	// recovered from its fragments after a crash or a write error.
	Closed bool `json:"closed"`
}

// recordMeta is what a segment knows when it opens, written as JSON in
// its moov/udta/slmd box: with the fragments, it is enough to rebuild the
// segment's SegmentInfo.
type recordMeta struct {
	Version   int         `json:"v"`
	Window    string      `json:"window"`
	StreamID  string      `json:"stream_id"`
	Seq       uint64      `json:"seq"`
	Start     time.Time   `json:"start"`
	StartDTS  int64       `json:"start_dts"`
	GapBefore bool        `json:"gap_before"`
	Codec     media.Codec `json:"codec"`
	Width     int         `json:"width"`
	Height    int         `json:"height"`
}

func (m recordMeta) info(path string) SegmentInfo {
	return SegmentInfo{
		Window: m.Window, StreamID: m.StreamID, Path: path, Seq: m.Seq,
		Start: m.Start, End: m.Start, StartDTS: m.StartDTS, EndDTS: m.StartDTS,
		GapBefore: m.GapBefore, Codec: m.Codec, Width: m.Width, Height: m.Height,
	}
}

// ErrNotSegment is returned by ReadSegment for a file that is not a
// segment (or whose init part was never completely written).
var ErrNotSegment = errors.New("not a recorded segment")

// ReadSegment rebuilds a segment's SegmentInfo from its file alone: the
// metadata in its init part and the fragments after it, up to the last
// complete one (the end of a file cut by a crash is ignored). Closed is
// false: only the sidecar knows that the recorder closed it.
func ReadSegment(path string) (SegmentInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return SegmentInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return SegmentInfo{}, err
	}
	size := st.Size()

	var (
		info      SegmentInfo
		timescale uint32
		sawInit   bool
		end       uint64 // decode time after the last complete fragment
		buf       []byte
	)
	// box reads the header of the box at off: its type, payload offset
	// and end; ok is false when the box does not fit in the file.
	box := func(off int64) (typ string, payload, boxEnd int64, ok bool, err error) {
		var h [16]byte
		if off+8 > size {
			return "", 0, 0, false, nil
		}
		if _, err := f.ReadAt(h[:8], off); err != nil {
			return "", 0, 0, false, err
		}
		n, hdr := int64(binary.BigEndian.Uint32(h[:])), int64(8)
		switch n {
		case 0:
			n = size - off
		case 1:
			if off+16 > size {
				return "", 0, 0, false, nil
			}
			if _, err := f.ReadAt(h[8:16], off+8); err != nil {
				return "", 0, 0, false, err
			}
			n, hdr = int64(binary.BigEndian.Uint64(h[8:])), 16
		}
		if n < hdr {
			return "", 0, 0, false, fmt.Errorf("%w: box at %d has size %d", ErrNotSegment, off, n)
		}
		return string(h[4:8]), off + hdr, off + n, off+n <= size, nil
	}
	read := func(from, to int64, limit int) ([]byte, error) {
		if to-from > int64(limit) {
			return nil, fmt.Errorf("%w: box of %d bytes at %d", ErrNotSegment, to-from, from)
		}
		buf = slices.Grow(buf[:0], int(to-from))[:to-from]
		_, err := f.ReadAt(buf, from)
		return buf, err
	}

	off := int64(0)
loop:
	for off < size {
		typ, payload, boxEnd, ok, err := box(off)
		if err != nil {
			return SegmentInfo{}, err
		}
		if !ok {
			break // cut by a crash
		}
		switch typ {
		case "moov":
			p, err := read(payload, boxEnd, recMaxInitSize)
			if err != nil {
				return SegmentInfo{}, err
			}
			meta, ts, err := parseInit(p)
			if err != nil {
				return SegmentInfo{}, fmt.Errorf("%w: %w", ErrNotSegment, err)
			}
			var m recordMeta
			if err := json.Unmarshal(meta, &m); err != nil {
				return SegmentInfo{}, fmt.Errorf("%w: metadata: %w", ErrNotSegment, err)
			}
			info, timescale, sawInit = m.info(path), ts, true
		case "moof":
			if !sawInit {
				return SegmentInfo{}, fmt.Errorf("%w: moof before moov", ErrNotSegment)
			}
			p, err := read(payload, boxEnd, recMaxMoofSize)
			if err != nil {
				return SegmentInfo{}, err
			}
			fi, err := parseMoof(p)
			if err != nil {
				break loop // a damaged fragment ends what can be played
			}
			mtyp, _, mdatEnd, ok, err := box(boxEnd)
			if err != nil {
				return SegmentInfo{}, err
			}
			if !ok || mtyp != "mdat" || uint64(mdatEnd-boxEnd-recMdatHeader) < fi.dataBytes {
				break loop
			}
			info.Frames += fi.samples
			info.Keyframes += fi.syncs
			end = fi.baseTime + fi.duration
			boxEnd = mdatEnd
		}
		off = boxEnd
	}
	if !sawInit {
		return SegmentInfo{}, fmt.Errorf("%w: no complete moov in %s", ErrNotSegment, path)
	}
	info.Bytes = off
	ticks := int64(end) * media.ClockRate / int64(timescale)
	info.EndDTS = info.StartDTS + ticks
	info.Duration = ticksToDuration(ticks)
	info.End = info.Start.Add(info.Duration)
	return info, nil
}

// sidecarPath is where the JSON SegmentInfo of a closed segment lives.
func sidecarPath(segment string) string {
	return strings.TrimSuffix(segment, filepath.Ext(segment)) + ".json"
}

// writeSidecar writes info next to its segment atomically (a temporary
// file, synced, then renamed).
func writeSidecar(info SegmentInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	path := sidecarPath(info.Path)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sidecar-*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(append(b, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if err2 := tmp.Close(); err == nil {
		err = err2
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("write sidecar of %s: %w", info.Path, err)
	}
	return nil
}

// readSidecar returns the SegmentInfo in a segment's sidecar, if it has
// one that matches the file: the file holds at least the bytes the
// sidecar counts (a closed segment never grows; a recovered one may have
// an incomplete fragment at its end).
func readSidecar(path string) (SegmentInfo, bool) {
	b, err := os.ReadFile(sidecarPath(path))
	if err != nil {
		return SegmentInfo{}, false
	}
	var info SegmentInfo
	if json.Unmarshal(b, &info) != nil || info.Bytes <= 0 {
		return SegmentInfo{}, false
	}
	if st, err := os.Stat(path); err != nil || st.Size() < info.Bytes {
		return SegmentInfo{}, false
	}
	info.Path = path
	return info, true
}

// RepairSegment makes a segment that a crash left open whole again: it
// cuts the file after its last complete fragment (ffmpeg refuses a file
// that ends inside a moof box, and an incomplete last fragment only plays
// in part) and writes its sidecar, with Closed false. A segment with a
// valid sidecar is left alone. The recorder repairs the newest segment of
// its window when it starts.
func RepairSegment(path string) (SegmentInfo, error) {
	if info, ok := readSidecar(path); ok {
		return info, nil
	}
	info, err := ReadSegment(path)
	if err != nil {
		return info, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return info, err
	}
	if st.Size() > info.Bytes {
		if err := os.Truncate(path, info.Bytes); err != nil {
			return info, fmt.Errorf("repair segment: %w", err)
		}
	}
	return info, writeSidecar(info)
}

// readSegmentInfo returns a segment's SegmentInfo from its sidecar when
// there is a valid one, else from the file (ReadSegment).
func readSegmentInfo(path string) (SegmentInfo, error) {
	if info, ok := readSidecar(path); ok {
		return info, nil
	}
	return ReadSegment(path)
}

// ScanSegments rebuilds the index of the segments under dir (a
// Recorder's Dir, or one window's directory in it) from disk: from each
// segment's sidecar, or from its file when it has none (a crash) or the
// sidecar does not match it. Segments are sorted by window, then start.
// Files that cannot be read are left out and reported in err, joined;
// the segments found are returned all the same.
func ScanSegments(dir string) ([]SegmentInfo, error) {
	var (
		out  []SegmentInfo
		errs []error
	)
	walkErr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			errs = append(errs, err)
			return nil
		}
		if d.IsDir() || !isSegmentName(d.Name()) {
			return nil
		}
		info, err := readSegmentInfo(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("segment %s: %w", path, err))
			return nil
		}
		out = append(out, info)
		return nil
	})
	if walkErr != nil {
		return nil, fmt.Errorf("scan segments in %s: %w", dir, walkErr)
	}
	sortSegments(out)
	return out, errors.Join(errs...)
}

func sortSegments(s []SegmentInfo) {
	slices.SortFunc(s, func(a, b SegmentInfo) int {
		return cmp.Or(
			cmp.Compare(a.Window, b.Window),
			a.Start.Compare(b.Start),
			cmp.Compare(a.Seq, b.Seq),
		)
	})
}

func isSegmentName(name string) bool {
	return strings.HasSuffix(name, ".mp4") && !strings.HasPrefix(name, ".")
}

// latestSegment returns the newest segment file under a window's
// directory (YYYY/MM/DD/name), descending the newest non-empty
// directories rather than walking the whole tree; "" if there is none.
func latestSegment(windowDir string) (string, error) {
	var descend func(dir string, depth int) (string, error)
	descend = func(dir string, depth int) (string, error) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", nil
			}
			return "", err
		}
		// ReadDir sorts by name: our names sort by time.
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			if depth < 3 {
				if !e.IsDir() {
					continue
				}
				p, err := descend(filepath.Join(dir, e.Name()), depth+1)
				if p != "" || err != nil {
					return p, err
				}
				continue
			}
			if !e.IsDir() && isSegmentName(e.Name()) {
				return filepath.Join(dir, e.Name()), nil
			}
		}
		return "", nil
	}
	return descend(windowDir, 0)
}

// ticksToDuration converts 90 kHz ticks to a duration, rounded to the
// nanosecond.
func ticksToDuration(ticks int64) time.Duration {
	sec, rem := ticks/media.ClockRate, ticks%media.ClockRate
	return time.Duration(sec)*time.Second + time.Duration((rem*int64(time.Second)+media.ClockRate/2)/media.ClockRate)
}
