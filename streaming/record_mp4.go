package streaming

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// The fragmented MP4 the recorder writes, box by box (ISO/IEC 14496-12
// and 14496-15). It is written here rather than with mediacommon's fmp4
// package, which needs github.com/abema/go-mp4 (not in go.sum) and builds
// every fragment in a second buffer; this writer appends a fragment's
// moof and mdat to one reused buffer, NAL units copied once.
//
//	ftyp
//	moov
//	  mvhd          timescale 90000; duration written when the segment closes
//	  trak
//	    tkhd, mdia(mdhd 90000, hdlr vide, minf(vmhd, dinf, stbl(stsd(avc1|hvc1), empty tables)))
//	  mvex(trex)
//	  udta
//	    slmd        the segment's start metadata as JSON (recordMeta)
//	moof            one per fragment (~PartDuration)
//	  mfhd          sequence number, from 1 in each file
//	  traf(tfhd default-base-is-moof, tfdt v1, trun: duration, size, flags per sample)
//	mdat            the samples: AVCC (4-byte length prefixed) NAL units
//	moof, mdat, ...
//
// Decode times in the file start at 0; the segment's place on the
// stream's timeline is recordMeta.StartDTS.

// Box types and sizes the writer and the reader share.
const (
	recTimescale   = media.ClockRate
	recTrackID     = 1
	recMetaBox     = "slmd"
	recMaxInitSize = 4 << 20  // a moov bigger than this is not ours
	recMaxMoofSize = 16 << 20 // 1.4 M samples: not ours either
	recMoofFixed   = 8 + 16 + 8 + 16 + 20 + 20
	recTrunEntry   = 12
	recMdatHeader  = 8
	sampleFlagsIDR = 0x02000000 // sample_depends_on = 2 (an I picture)
	sampleFlagsP   = 0x01010000 // sample_depends_on = 1, sample_is_non_sync_sample
)

// trun flags: data-offset, sample duration, size and flags present.
const recTrunFlags = 0x000001 | 0x000100 | 0x000200 | 0x000400

// boxWriter appends ISO BMFF boxes to a byte slice; start and end nest.
type boxWriter struct {
	b     []byte
	stack []int
}

func (w *boxWriter) start(typ string) {
	w.stack = append(w.stack, len(w.b))
	w.b = append(w.b, 0, 0, 0, 0, typ[0], typ[1], typ[2], typ[3])
}

func (w *boxWriter) fullStart(typ string, version byte, flags uint32) {
	w.start(typ)
	w.u32(uint32(version)<<24 | flags&0xffffff)
}

func (w *boxWriter) end() {
	off := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	binary.BigEndian.PutUint32(w.b[off:], uint32(len(w.b)-off))
}

func (w *boxWriter) u8(v uint8)      { w.b = append(w.b, v) }
func (w *boxWriter) u16(v uint16)    { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *boxWriter) u32(v uint32)    { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *boxWriter) u64(v uint64)    { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *boxWriter) raw(p []byte)    { w.b = append(w.b, p...) }
func (w *boxWriter) zeros(n int)     { w.b = append(w.b, make([]byte, n)...) }
func (w *boxWriter) fourcc(s string) { w.b = append(w.b, s[0], s[1], s[2], s[3]) }

// matrix is the identity transformation of mvhd and tkhd.
func (w *boxWriter) matrix() {
	for _, v := range []uint32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
		w.u32(v)
	}
}

// videoParams are a segment's parameter sets and what is derived from them.
type videoParams struct {
	codec         media.Codec
	vps, sps, pps []byte
	width, height int
}

// errNoParameterSets: an IDR without SPS/PPS (or VPS) cannot start a
// segment, as the sample entry needs them.
var errNoParameterSets = errors.New("no parameter sets for the sample entry")

// newVideoParams takes the parameter sets of an IDR access unit and
// parses the SPS for the picture size.
func newVideoParams(codec media.Codec, au [][]byte) (videoParams, error) {
	vps, sps, pps := parameterSets(codec, au)
	p := videoParams{codec: codec, vps: vps, sps: sps, pps: pps}
	switch codec {
	case media.H264:
		if sps == nil || pps == nil || len(sps) < 4 {
			return p, errNoParameterSets
		}
		var s h264.SPS
		if err := s.Unmarshal(sps); err != nil {
			return p, fmt.Errorf("H.264 SPS: %w", err)
		}
		p.width, p.height = s.Width(), s.Height()
	case media.H265:
		if vps == nil || sps == nil || pps == nil {
			return p, errNoParameterSets
		}
		var s h265.SPS
		if err := s.Unmarshal(sps); err != nil {
			return p, fmt.Errorf("H.265 SPS: %w", err)
		}
		p.width, p.height = s.Width(), s.Height()
	default:
		return p, fmt.Errorf("codec %q cannot be recorded", codec)
	}
	return p, nil
}

// sameParams tells whether an IDR access unit carries the segment's
// parameter sets (a unit without them keeps the current ones).
func (p videoParams) sameParams(au [][]byte) bool {
	vps, sps, pps := parameterSets(p.codec, au)
	return (vps == nil || string(vps) == string(p.vps)) &&
		(sps == nil || string(sps) == string(p.sps)) &&
		(pps == nil || string(pps) == string(p.pps))
}

// buildInit returns the ftyp and moov of a segment, and the offset of
// mvhd's 64-bit duration in them.
func buildInit(p videoParams, meta []byte) ([]byte, int, error) {
	var w boxWriter
	entry := "avc1"
	if p.codec == media.H265 {
		entry = "hvc1"
	}
	w.start("ftyp")
	w.fourcc("isom")
	w.u32(0x200)
	for _, b := range []string{"isom", "iso6", "iso2", entry, "mp41"} {
		w.fourcc(b)
	}
	w.end()

	w.start("moov")
	w.fullStart("mvhd", 1, 0)
	w.u64(0) // creation time
	w.u64(0) // modification time
	w.u32(recTimescale)
	durOff := len(w.b)
	w.u64(0) // duration: set on close
	w.u32(0x00010000)
	w.u16(0x0100)
	w.zeros(10)
	w.matrix()
	w.zeros(24)
	w.u32(recTrackID + 1) // next track ID
	w.end()

	w.start("trak")
	w.fullStart("tkhd", 0, 3) // enabled, in movie
	w.u32(0)
	w.u32(0)
	w.u32(recTrackID)
	w.u32(0)
	w.u32(0) // duration
	w.zeros(8)
	w.u16(0) // layer
	w.u16(0) // alternate group
	w.u16(0) // volume
	w.u16(0)
	w.matrix()
	w.u32(uint32(p.width) << 16)
	w.u32(uint32(p.height) << 16)
	w.end()

	w.start("mdia")
	w.fullStart("mdhd", 0, 0)
	w.u32(0)
	w.u32(0)
	w.u32(recTimescale)
	w.u32(0)
	w.u16(0x55c4) // "und"
	w.u16(0)
	w.end()
	w.videoHandlerAndMinf()

	w.start("stbl")
	w.fullStart("stsd", 0, 0)
	w.u32(1)
	w.start(entry)
	w.zeros(6)
	w.u16(1) // data reference index
	w.zeros(16)
	w.u16(uint16(p.width))
	w.u16(uint16(p.height))
	w.u32(0x00480000) // 72 dpi
	w.u32(0x00480000)
	w.u32(0)
	w.u16(1) // frame count
	w.zeros(32)
	w.u16(0x0018)
	w.u16(0xffff)
	var err error
	if p.codec == media.H265 {
		err = w.hvcC(p)
	} else {
		w.avcC(p)
	}
	if err != nil {
		return nil, 0, err
	}
	w.end() // entry
	w.end() // stsd
	for _, t := range []string{"stts", "stsc", "stco"} {
		w.fullStart(t, 0, 0)
		w.u32(0)
		w.end()
	}
	w.fullStart("stsz", 0, 0)
	w.u32(0)
	w.u32(0)
	w.end()
	w.end() // stbl
	w.end() // minf
	w.end() // mdia
	w.end() // trak

	w.start("mvex")
	w.fullStart("trex", 0, 0)
	w.u32(recTrackID)
	w.u32(1) // sample description index
	w.u32(0)
	w.u32(0)
	w.u32(0)
	w.end()
	w.end()

	w.start("udta")
	w.start(recMetaBox)
	w.raw(meta)
	w.end()
	w.end()
	w.end() // moov
	return w.b, durOff, nil
}

// avcC writes the AVC decoder configuration record (14496-15 5.3.3).
func (w *boxWriter) avcC(p videoParams) {
	w.start("avcC")
	w.u8(1)
	w.u8(p.sps[1]) // profile
	w.u8(p.sps[2]) // constraint flags
	w.u8(p.sps[3]) // level
	w.u8(0xff)     // 4-byte NAL lengths
	w.u8(0xe1)     // one SPS
	w.u16(uint16(len(p.sps)))
	w.raw(p.sps)
	w.u8(1) // one PPS
	w.u16(uint16(len(p.pps)))
	w.raw(p.pps)
	switch p.sps[1] {
	case 100, 110, 122, 144: // the high profiles carry chroma and bit depth
		var s h264.SPS
		if s.Unmarshal(p.sps) == nil {
			w.u8(0xfc | uint8(s.ChromaFormatIdc&3))
			w.u8(0xf8 | uint8(s.BitDepthLumaMinus8&7))
			w.u8(0xf8 | uint8(s.BitDepthChromaMinus8&7))
			w.u8(0) // no SPS extensions
		}
	}
	w.end()
}

// hvcC writes the HEVC decoder configuration record (14496-15 8.3.3).
func (w *boxWriter) hvcC(p videoParams) error {
	var s h265.SPS
	if err := s.Unmarshal(p.sps); err != nil {
		return fmt.Errorf("H.265 SPS: %w", err)
	}
	// The general profile_tier_level is the 12 bytes after the SPS's
	// 2-byte NAL header and its first byte, in the order hvcC wants them.
	rbsp := h264.EmulationPreventionRemove(p.sps)
	if len(rbsp) < 15 {
		return fmt.Errorf("H.265 SPS too short (%d bytes)", len(rbsp))
	}
	ptl := rbsp[3:15]
	w.start("hvcC")
	w.u8(1)
	w.raw(ptl) // profile space, tier, profile, compatibility, constraints, level
	w.u16(0xf000)
	w.u8(0xfc)
	w.u8(0xfc | uint8(s.ChromaFormatIdc&3))
	w.u8(0xf8 | uint8(s.BitDepthLumaMinus8&7))
	w.u8(0xf8 | uint8(s.BitDepthChromaMinus8&7))
	w.u16(0) // average frame rate unknown
	nested := uint8(0)
	if s.TemporalIDNestingFlag {
		nested = 1
	}
	w.u8((s.MaxSubLayersMinus1+1)&7<<3 | nested<<2 | 3)
	w.u8(3)
	for _, a := range []struct {
		typ  uint8
		nalu []byte
	}{{h265NALVPS, p.vps}, {h265NALSPS, p.sps}, {h265NALPPS, p.pps}} {
		w.u8(a.typ) // array_completeness 0: copies may also be in band
		w.u16(1)
		w.u16(uint16(len(a.nalu)))
		w.raw(a.nalu)
	}
	w.end()
	return nil
}

// fragSample is one access unit of a fragment being assembled.
type fragSample struct {
	au   [][]byte
	size uint32 // AVCC size: 4 + len of each NAL unit
	dur  uint32
	idr  bool
}

// avccSize returns the size of an access unit as AVCC samples hold it.
// Empty NAL units are left out.
func avccSize(au [][]byte) uint32 {
	var n uint32
	for _, nalu := range au {
		if len(nalu) > 0 {
			n += 4 + uint32(len(nalu))
		}
	}
	return n
}

// recPageSize is the granularity at which a killed process's last write
// may be cut: the kernel copies a write into the page cache page by page
// and gives up between two pages when the process is killed.
const recPageSize = 4096

func moofSize(samples int) int { return recMoofFixed + recTrunEntry*samples }

// appendFreeBeforeMoof appends, if needed, a free box that moves a moof
// of moofLen bytes, to be written at file offset off (just after the
// box), to the start of the next page so that it lies within one page.
// A kill -9 in the middle of a fragment's write then never leaves half a
// moof, which ffmpeg (5.1) refuses to open the file for; half an mdat only
// costs the frames in it.
func appendFreeBeforeMoof(b []byte, off int64, moofLen int) []byte {
	in := int(off % recPageSize)
	if moofLen > recPageSize || in+moofLen <= recPageSize {
		return b
	}
	pad := recPageSize - in
	if pad < 8 {
		pad += recPageSize
	}
	b = binary.BigEndian.AppendUint32(b, uint32(pad))
	b = append(b, "free"...)
	return append(b, make([]byte, pad-8)...)
}

// appendFragment appends one moof and its mdat to b. baseTime is the
// decode time of the first sample, in the file's timescale.
func appendFragment(b []byte, seq uint32, baseTime uint64, samples []fragSample) []byte {
	moofLen := moofSize(len(samples))
	var data uint32
	for _, s := range samples {
		data += s.size
	}
	w := boxWriter{b: b}
	w.start("moof")
	w.fullStart("mfhd", 0, 0)
	w.u32(seq)
	w.end()
	w.start("traf")
	w.fullStart("tfhd", 0, 0x020000) // default-base-is-moof
	w.u32(recTrackID)
	w.end()
	w.fullStart("tfdt", 1, 0)
	w.u64(baseTime)
	w.end()
	w.fullStart("trun", 0, recTrunFlags)
	w.u32(uint32(len(samples)))
	w.u32(uint32(moofLen + recMdatHeader)) // data offset from the moof
	for _, s := range samples {
		w.u32(s.dur)
		w.u32(s.size)
		if s.idr {
			w.u32(sampleFlagsIDR)
		} else {
			w.u32(sampleFlagsP)
		}
	}
	w.end()
	w.end() // traf
	w.end() // moof
	w.u32(recMdatHeader + data)
	w.fourcc("mdat")
	for _, s := range samples {
		for _, nalu := range s.au {
			if len(nalu) > 0 {
				w.u32(uint32(len(nalu)))
				w.raw(nalu)
			}
		}
	}
	return w.b
}

// forEachBox calls fn for every box in b (the payload of a container),
// with the box's payload. It stops at the first error or a malformed box.
func forEachBox(b []byte, fn func(typ string, payload []byte) error) error {
	for len(b) > 0 {
		if len(b) < 8 {
			return errors.New("truncated box header")
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return errors.New("truncated box header")
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return fmt.Errorf("box %q: size %d out of range", typ, size)
		}
		if err := fn(typ, b[hdr:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// parseInit finds the segment metadata and the timescale in a moov payload.
func parseInit(moov []byte) (meta []byte, timescale uint32, err error) {
	err = forEachBox(moov, func(typ string, p []byte) error {
		switch typ {
		case "udta":
			return forEachBox(p, func(typ string, p []byte) error {
				if typ == recMetaBox {
					meta = p
				}
				return nil
			})
		case "trak":
			return forEachBox(p, func(typ string, p []byte) error {
				if typ != "mdia" {
					return nil
				}
				return forEachBox(p, func(typ string, p []byte) error {
					if typ != "mdhd" || len(p) < 4 {
						return nil
					}
					if p[0] == 1 && len(p) >= 24 {
						timescale = binary.BigEndian.Uint32(p[20:])
					} else if len(p) >= 16 {
						timescale = binary.BigEndian.Uint32(p[12:])
					}
					return nil
				})
			})
		}
		return nil
	})
	if err == nil && meta == nil {
		err = errors.New("no segment metadata (moov/udta/" + recMetaBox + ")")
	}
	if err == nil && timescale == 0 {
		err = errors.New("no media timescale")
	}
	return meta, timescale, err
}

// fragInfo is what the index needs of one fragment.
type fragInfo struct {
	seq       uint32
	baseTime  uint64
	samples   int
	syncs     int
	duration  uint64
	dataBytes uint64
}

// parseMoof reads a moof payload (one track).
func parseMoof(moof []byte) (fragInfo, error) {
	var fi fragInfo
	var defDur, defSize uint32
	sawTrun := false
	err := forEachBox(moof, func(typ string, p []byte) error {
		switch typ {
		case "mfhd":
			if len(p) < 8 {
				return errors.New("short mfhd")
			}
			fi.seq = binary.BigEndian.Uint32(p[4:])
		case "traf":
			return forEachBox(p, func(typ string, p []byte) error {
				if len(p) < 4 {
					return fmt.Errorf("short %s", typ)
				}
				version, flags := p[0], binary.BigEndian.Uint32(p)&0xffffff
				r := boxReader{b: p[4:]}
				switch typ {
				case "tfhd":
					r.u32() // track ID
					if flags&0x01 != 0 {
						r.u64()
					}
					if flags&0x02 != 0 {
						r.u32()
					}
					if flags&0x08 != 0 {
						defDur = r.u32()
					}
					if flags&0x10 != 0 {
						defSize = r.u32()
					}
				case "tfdt":
					if version == 1 {
						fi.baseTime = r.u64()
					} else {
						fi.baseTime = uint64(r.u32())
					}
				case "trun":
					sawTrun = true
					n := r.u32()
					if flags&0x01 != 0 {
						r.u32()
					}
					if flags&0x04 != 0 {
						r.u32()
					}
					for i := uint32(0); i < n && !r.short; i++ {
						dur, size, sflags := defDur, defSize, uint32(0)
						if flags&0x100 != 0 {
							dur = r.u32()
						}
						if flags&0x200 != 0 {
							size = r.u32()
						}
						if flags&0x400 != 0 {
							sflags = r.u32()
						}
						if flags&0x800 != 0 {
							r.u32()
						}
						fi.samples++
						if sflags&0x10000 == 0 {
							fi.syncs++
						}
						fi.duration += uint64(dur)
						fi.dataBytes += uint64(size)
					}
				}
				if r.short {
					return fmt.Errorf("short %s", typ)
				}
				return nil
			})
		}
		return nil
	})
	if err == nil && !sawTrun {
		err = errors.New("moof without trun")
	}
	return fi, err
}

// boxReader reads big-endian integers and remembers running short.
type boxReader struct {
	b     []byte
	short bool
}

func (r *boxReader) u32() uint32 {
	if len(r.b) < 4 {
		r.short = true
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *boxReader) u64() uint64 {
	if len(r.b) < 8 {
		r.short = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// videoHandlerAndMinf writes a video track's hdlr, then opens its minf with
// vmhd and a dinf whose media is in this file; minf is left open for the
// stbl that follows. The recorder's init segment and the clip's moov share
// it.
func (w *boxWriter) videoHandlerAndMinf() {
	w.fullStart("hdlr", 0, 0)
	w.u32(0)
	w.fourcc("vide")
	w.zeros(12)
	w.raw([]byte("VideoHandler\x00"))
	w.end()
	w.start("minf")
	w.fullStart("vmhd", 0, 1)
	w.zeros(8)
	w.end()
	w.start("dinf")
	w.fullStart("dref", 0, 0)
	w.u32(1)
	w.fullStart("url ", 0, 1) // media in this file
	w.end()
	w.end()
	w.end()
}
