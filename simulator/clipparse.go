package simulator

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// errClipNoParams is returned when a clip does not start with SPS and PPS,
// which the SDP needs so that viewers can configure their decoder at once.
var errClipNoParams = errors.New("clip has no SPS/PPS before its first frame")

// cameraClip is a parsed H.264 elementary stream, ready to be paced out.
type cameraClip struct {
	sps, pps []byte
	aus      [][][]byte // access units in decoding order; aus[0] is an IDR
}

// parseClip splits an Annex-B stream into access units.
//
// mediacommon's h264.AnnexB.Unmarshal expects a single access unit and
// refuses input above 8 MiB, so a whole clip is split here instead.
func parseClip(buf []byte) (*cameraClip, error) {
	nalus := clipSplitAnnexB(buf)
	if len(nalus) == 0 {
		return nil, h264.ErrAnnexBNoNALUs
	}

	c := &cameraClip{}
	var cur [][]byte
	curHasSlice := false

	for _, nalu := range nalus {
		typ := h264.NALUType(nalu[0] & 0x1F)
		switch {
		case clipIsSlice(typ):
			// x264's sliced threads put several slices in one frame: only
			// the slice that starts at macroblock 0 opens a new picture.
			if curHasSlice && clipFirstMBIsZero(nalu) {
				c.aus = append(c.aus, cur)
				cur = nil
			}
			curHasSlice = true

		case typ == h264.NALUTypeSPS, typ == h264.NALUTypePPS,
			typ == h264.NALUTypeSEI, typ == h264.NALUTypeAccessUnitDelimiter:
			// parameter sets and SEI belong to the frame that follows them.
			if curHasSlice {
				c.aus = append(c.aus, cur)
				cur, curHasSlice = nil, false
			}
			if typ == h264.NALUTypeSPS && c.sps == nil {
				c.sps = nalu
			}
			if typ == h264.NALUTypePPS && c.pps == nil {
				c.pps = nalu
			}
		}
		cur = append(cur, nalu)
	}
	if curHasSlice {
		c.aus = append(c.aus, cur)
	}

	if c.sps == nil || c.pps == nil {
		return nil, errClipNoParams
	}
	if len(c.aus) == 0 || !h264.IsRandomAccess(c.aus[0]) {
		return nil, fmt.Errorf("clip does not start with an IDR frame (%d frames)", len(c.aus))
	}
	var sps h264.SPS
	if err := sps.Unmarshal(c.sps); err != nil {
		return nil, fmt.Errorf("clip SPS: %w", err)
	}
	return c, nil
}

func clipIsSlice(typ h264.NALUType) bool {
	return typ >= h264.NALUTypeNonIDR && typ <= h264.NALUTypeIDR
}

// clipFirstMBIsZero reports whether first_mb_in_slice, the first ue(v) field of
// the slice header, is 0; its Exp-Golomb code is then the single bit "1".
func clipFirstMBIsZero(nalu []byte) bool {
	return len(nalu) > 1 && nalu[1]&0x80 != 0
}

// clipSplitAnnexB returns the NAL units of an Annex-B stream, without start codes.
// The returned slices alias buf.
func clipSplitAnnexB(buf []byte) [][]byte {
	startCode := []byte{0, 0, 1}
	var nalus [][]byte
	start := -1
	for i := 0; i < len(buf); {
		j := bytes.Index(buf[i:], startCode)
		if j < 0 {
			break
		}
		if start >= 0 {
			nalus = clipAppendNALU(nalus, buf[start:i+j])
		}
		i += j + len(startCode)
		start = i
	}
	if start >= 0 {
		nalus = clipAppendNALU(nalus, buf[start:])
	}
	return nalus
}

// clipAppendNALU drops the zero bytes that precede the next start code (the
// leading zero of a 4-byte start code, trailing_zero_8bits): a NAL unit
// never ends in 0x00 because of its rbsp_stop_one_bit.
func clipAppendNALU(nalus [][]byte, nalu []byte) [][]byte {
	nalu = bytes.TrimRight(nalu, "\x00")
	if len(nalu) == 0 {
		return nalus
	}
	return append(nalus, nalu)
}
