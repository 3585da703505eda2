package streaming

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Segment files are named
//
//	<Dir>/<window>/<YYYY>/<MM>/<DD>/<window>_<start>.mp4
//
// with the date and <start> (20060102T150405.000Z) in UTC, from the wall
// clock of the segment's first frame; <window> is the stream's id with
// the bytes other than [A-Za-z0-9._-] percent-encoded (and a leading or
// trailing dot, so that no id becomes "." or ".."; "" becomes "%"), so
// that two windows never share a directory. Names sort by start time. Should the name be taken
// (two segments starting in the same millisecond, the clock set back),
// _<seq> is appended. Next to a closed segment, <name>.json holds its
// SegmentInfo (the sidecar).
const segmentTimeLayout = "20060102T150405.000Z"

// windowDirName is a stream id made safe as one path element, one to
// one: bytes other than [A-Za-z0-9_-] and inner dots are written %XX.
func windowDirName(id string) string {
	if id == "" {
		return "%"
	}
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-',
			c == '.' && i > 0 && i < len(id)-1:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// segmentPath returns the path of a segment; with seq > 0, the name that
// avoids a collision.
func segmentPath(dir, window string, start time.Time, seq uint64) string {
	w := windowDirName(window)
	start = start.UTC()
	name := w + "_" + start.Format(segmentTimeLayout)
	if seq > 0 {
		name += "_" + strconv.FormatUint(seq, 10)
	}
	return filepath.Join(dir, w, start.Format("2006"), start.Format("01"), start.Format("02"), name+".mp4")
}

// segmentFile is an open segment file and the fragment being assembled. It
// is used by the recorder's goroutine only.
type segmentFile struct {
	info   SegmentInfo // counts up to the last fragment written
	params videoParams
	file   *os.File
	durOff int64 // offset of mvhd's duration
	fsync  bool

	nextPart  uint32
	part      []fragSample // the fragment being assembled
	partStart int64        // TS of its first sample
	partTicks int64        // its duration so far
	buf       []byte       // the fragment's moof and mdat; reused
}

// createSegment creates a segment's file and writes its init part.
func createSegment(dir string, meta recordMeta, params videoParams, fsync bool) (*segmentFile, error) {
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("segment metadata: %w", err)
	}
	init, durOff, err := buildInit(params, mb)
	if err != nil {
		return nil, err
	}
	path := segmentPath(dir, meta.Window, meta.Start, 0)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create segment directory: %w", err)
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		path = segmentPath(dir, meta.Window, meta.Start, meta.Seq)
		file, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if _, err := file.Write(init); err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("write segment %s: %w", path, err)
	}
	s := &segmentFile{
		info:     meta.info(path),
		params:   params,
		file:     file,
		durOff:   int64(durOff),
		fsync:    fsync,
		nextPart: 1,
	}
	s.info.Bytes = int64(len(init))
	return s, nil
}

// add appends a frame of dur ticks to the fragment being assembled.
func (s *segmentFile) add(f *Frame, dur int64) {
	if len(s.part) == 0 {
		s.partStart = f.TS
		s.partTicks = 0
	}
	s.part = append(s.part, fragSample{
		au:   f.Unit.AU,
		size: avccSize(f.Unit.AU),
		dur:  uint32(min(max(dur, 1), 1<<32-1)),
		idr:  f.IDR,
	})
	s.partTicks += dur
}

// flush writes the fragment being assembled, if any.
func (s *segmentFile) flush() error {
	if len(s.part) == 0 {
		return nil
	}
	s.buf = appendFreeBeforeMoof(s.buf[:0], s.info.Bytes, moofSize(len(s.part)))
	s.buf = appendFragment(s.buf, s.nextPart, uint64(s.partStart-s.info.StartDTS), s.part)
	if _, err := s.file.Write(s.buf); err != nil {
		return fmt.Errorf("write segment %s: %w", s.info.Path, err)
	}
	if s.fsync {
		if err := s.file.Sync(); err != nil {
			return fmt.Errorf("sync segment %s: %w", s.info.Path, err)
		}
	}
	s.nextPart++
	s.info.Bytes += int64(len(s.buf))
	for _, p := range s.part {
		s.info.Frames++
		if p.idr {
			s.info.Keyframes++
		}
	}
	s.info.EndDTS = s.partStart + s.partTicks
	s.info.Duration = ticksToDuration(s.info.EndDTS - s.info.StartDTS)
	s.info.End = s.info.Start.Add(s.info.Duration)
	clear(s.part) // let go of the access units
	s.part = s.part[:0]
	if cap(s.buf) > 8<<20 {
		s.buf = nil // one huge fragment should not pin its buffer
	}
	return nil
}

// close writes the last fragment and the duration, closes the file and
// writes the sidecar.
func (s *segmentFile) close() (SegmentInfo, error) {
	err := s.flush()
	if err == nil {
		var d [8]byte
		binary.BigEndian.PutUint64(d[:], uint64(s.info.EndDTS-s.info.StartDTS))
		if _, err = s.file.WriteAt(d[:], s.durOff); err != nil {
			err = fmt.Errorf("write duration of %s: %w", s.info.Path, err)
		}
	}
	if err == nil {
		if err = s.file.Sync(); err != nil {
			err = fmt.Errorf("sync segment %s: %w", s.info.Path, err)
		}
	}
	if err2 := s.file.Close(); err == nil && err2 != nil {
		err = fmt.Errorf("close segment %s: %w", s.info.Path, err2)
	}
	if err != nil {
		return s.info, err
	}
	s.info.Closed = true
	if err := writeSidecar(s.info); err != nil {
		s.info.Closed = false
		return s.info, err
	}
	return s.info, nil
}

// abort closes the file after a write error, leaving what was written:
// the index finds it by its fragments, like a crash's.
func (s *segmentFile) abort() SegmentInfo {
	_ = s.file.Close()
	clear(s.part)
	s.part = s.part[:0]
	return s.info
}
