package streaming

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Reading a recorded segment down to its samples, for clip assembly:
// where each sample's bytes lie in the file, its duration and whether it
// is a sync sample, and the sample entry (avc1/hvc1 box) of its moov.

// clipSample is one sample of a source segment.
type clipSample struct {
	off  int64  // of its bytes in the segment file
	dts  int64  // decode time in the segment, in 90 kHz ticks from 0
	size uint32 // bytes
	dur  uint32 // ticks
	sync bool
}

// clipSource is a segment opened for a clip: its file stays open until
// the clip is closed, so that retention deleting it does not break a
// download under way.
type clipSource struct {
	info    SegmentInfo
	file    *os.File
	entry   []byte // the sample entry box, verbatim
	samples []clipSample
}

// trackDefaults are the trex (or tfhd) sample defaults.
type trackDefaults struct {
	dur, size, flags uint32
}

// openClipSource opens a segment and indexes its samples, up to its last
// complete fragment (a segment still being written, or cut by a crash,
// serves what it holds).
func openClipSource(info SegmentInfo) (*clipSource, error) {
	f, err := os.Open(info.Path)
	if err != nil {
		return nil, err
	}
	src, err := indexClipSource(f, info)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("segment %s: %w", info.Path, err)
	}
	return src, nil
}

func indexClipSource(f *os.File, info SegmentInfo) (*clipSource, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	src := &clipSource{info: info, file: f}
	var (
		defs      trackDefaults
		timescale uint32
		sawInit   bool
		next      int64 // decode time after the last fragment
	)
	readBox := func(off int64, limit int) (typ string, payload []byte, end int64, ok bool, err error) {
		var h [16]byte
		if off+8 > size {
			return "", nil, 0, false, nil
		}
		if _, err := f.ReadAt(h[:8], off); err != nil {
			return "", nil, 0, false, err
		}
		n, hdr := int64(binary.BigEndian.Uint32(h[:])), int64(8)
		switch n {
		case 0:
			n = size - off
		case 1:
			if off+16 > size {
				return "", nil, 0, false, nil
			}
			if _, err := f.ReadAt(h[8:16], off+8); err != nil {
				return "", nil, 0, false, err
			}
			n, hdr = int64(binary.BigEndian.Uint64(h[8:])), 16
		}
		if n < hdr {
			return "", nil, 0, false, fmt.Errorf("%w: box at %d has size %d", ErrNotSegment, off, n)
		}
		typ = string(h[4:8])
		if off+n > size {
			return typ, nil, 0, false, nil
		}
		if limit > 0 {
			if n-hdr > int64(limit) {
				return "", nil, 0, false, fmt.Errorf("%w: %s box of %d bytes", ErrNotSegment, typ, n)
			}
			payload = make([]byte, n-hdr)
			if _, err := f.ReadAt(payload, off+hdr); err != nil && !errors.Is(err, io.EOF) {
				return "", nil, 0, false, err
			}
		}
		return typ, payload, off + n, true, nil
	}

	off := int64(0)
	for off < size {
		typ, _, end, ok, err := readBox(off, 0)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		switch typ {
		case "moov":
			_, p, _, _, err := readBox(off, recMaxInitSize)
			if err != nil {
				return nil, err
			}
			if src.entry, timescale, defs, err = parseClipInit(p); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrNotSegment, err)
			}
			if timescale != recTimescale {
				return nil, fmt.Errorf("media timescale %d, want %d", timescale, recTimescale)
			}
			sawInit = true
		case "moof":
			if !sawInit {
				return nil, fmt.Errorf("%w: moof before moov", ErrNotSegment)
			}
			_, p, _, _, err := readBox(off, recMaxMoofSize)
			if err != nil {
				return nil, err
			}
			samples, base, err := parseClipMoof(p, off, defs)
			if err != nil {
				return src, nil // a damaged fragment ends what can be played
			}
			complete := true
			for _, s := range samples {
				if s.off < 0 || s.off+int64(s.size) > size {
					complete = false
					break
				}
			}
			if !complete {
				return src, nil
			}
			if len(samples) > 0 {
				if base < next {
					return nil, fmt.Errorf("fragment at %d goes back in time", off)
				}
				next = base
				for i := range samples {
					samples[i].dts = next
					next += int64(samples[i].dur)
				}
				src.samples = append(src.samples, samples...)
			}
		}
		off = end
	}
	if !sawInit {
		return nil, fmt.Errorf("%w: no complete moov", ErrNotSegment)
	}
	return src, nil
}

// parseClipInit returns the sample entry, the media timescale and the
// trex defaults of a segment's moov payload.
func parseClipInit(moov []byte) (entry []byte, timescale uint32, defs trackDefaults, err error) {
	var inner func(b []byte) error
	inner = func(b []byte) error {
		return forEachBox(b, func(typ string, p []byte) error {
			switch typ {
			case "trak", "mdia", "minf", "stbl", "mvex":
				return inner(p)
			case "mdhd":
				if len(p) >= 24 && p[0] == 1 {
					timescale = binary.BigEndian.Uint32(p[20:])
				} else if len(p) >= 16 {
					timescale = binary.BigEndian.Uint32(p[12:])
				}
			case "stsd":
				if len(p) < 8 || binary.BigEndian.Uint32(p[4:]) < 1 || len(p) < 16 {
					return errors.New("empty stsd")
				}
				n := int(binary.BigEndian.Uint32(p[8:]))
				if n < 8 || 8+n > len(p) {
					return errors.New("bad sample entry")
				}
				entry = append([]byte(nil), p[8:8+n]...)
			case "trex":
				if len(p) >= 24 {
					defs.dur = binary.BigEndian.Uint32(p[12:])
					defs.size = binary.BigEndian.Uint32(p[16:])
					defs.flags = binary.BigEndian.Uint32(p[20:])
				}
			}
			return nil
		})
	}
	if err = inner(moov); err != nil {
		return nil, 0, defs, err
	}
	if entry == nil {
		return nil, 0, defs, errors.New("no sample entry")
	}
	if timescale == 0 {
		return nil, 0, defs, errors.New("no media timescale")
	}
	return entry, timescale, defs, nil
}

// parseClipMoof returns the samples of a moof payload (one track), with
// their file offsets (the moof starts at moofOff), and the fragment's
// base decode time.
func parseClipMoof(moof []byte, moofOff int64, defs trackDefaults) ([]clipSample, int64, error) {
	var (
		samples  []clipSample
		baseTime int64
	)
	err := forEachBox(moof, func(typ string, p []byte) error {
		if typ != "traf" {
			return nil
		}
		d := defs
		base := moofOff
		dataEnd := int64(-1) // where the previous trun's data ended
		return forEachBox(p, func(typ string, p []byte) error {
			if len(p) < 4 {
				return fmt.Errorf("short %s", typ)
			}
			version, flags := p[0], binary.BigEndian.Uint32(p)&0xffffff
			r := boxReader{b: p[4:]}
			switch typ {
			case "tfhd":
				r.u32()
				if flags&0x01 != 0 {
					base = int64(r.u64())
				}
				if flags&0x02 != 0 {
					r.u32()
				}
				if flags&0x08 != 0 {
					d.dur = r.u32()
				}
				if flags&0x10 != 0 {
					d.size = r.u32()
				}
				if flags&0x20 != 0 {
					d.flags = r.u32()
				}
			case "tfdt":
				if version == 1 {
					baseTime = int64(r.u64())
				} else {
					baseTime = int64(r.u32())
				}
			case "trun":
				n := r.u32()
				pos := base
				if dataEnd >= 0 {
					pos = dataEnd
				}
				if flags&0x01 != 0 {
					pos = base + int64(int32(r.u32()))
				}
				firstFlags, hasFirst := uint32(0), flags&0x04 != 0
				if hasFirst {
					firstFlags = r.u32()
				}
				if uint64(n)*4 > uint64(len(r.b)) && flags&0xf00 != 0 {
					return errors.New("short trun")
				}
				for i := uint32(0); i < n && !r.short; i++ {
					s := clipSample{off: pos, dur: d.dur, size: d.size}
					sflags := d.flags
					if i == 0 && hasFirst {
						sflags = firstFlags
					}
					if flags&0x100 != 0 {
						s.dur = r.u32()
					}
					if flags&0x200 != 0 {
						s.size = r.u32()
					}
					if flags&0x400 != 0 {
						sflags = r.u32()
					}
					if flags&0x800 != 0 {
						if r.u32() != 0 {
							return errors.New("composition offsets (B-frames) are not supported")
						}
					}
					s.sync = sflags&0x10000 == 0
					pos += int64(s.size)
					samples = append(samples, s)
				}
				dataEnd = pos
			}
			if r.short {
				return fmt.Errorf("short %s", typ)
			}
			return nil
		})
	})
	return samples, baseTime, err
}
