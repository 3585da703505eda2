package simulator

import (
	"bytes"
	"encoding/binary"
	"time"
)

// SendTimeUUID is the uuid_iso_iec_11578 of the send-time stamp: the H.264
// SEI message (payload type 5, user_data_unregistered) that a CameraServer
// with StampSEI puts before the first slice of every frame. Its user data
// is the wall-clock time the frame was handed to the RTSP server (Unix
// nanoseconds, 8 bytes big-endian) and the camera's frame counter (8 bytes
// big-endian), so a viewer on the same host reads its latency and counts
// lost frames.
var SendTimeUUID = [16]byte{
	0xa8, 0x6d, 0x9f, 0xe5, 0x36, 0x19, 0x48, 0x5d,
	0x8b, 0x85, 0x41, 0x6c, 0xac, 0xd9, 0xa3, 0x47,
}

// SendStamp is what the send-time SEI carries.
type SendStamp struct {
	// Time is when the camera sent the frame (wall clock).
	Time time.Time
	// Seq counts the camera's frames from 0, one per frame, across loops
	// of its clip: a gap means lost frames.
	Seq uint64
}

const (
	seiNALType         = 6 // H.264 nal_unit_type of SEI
	seiUserDataUnreg   = 5 // payloadType of user_data_unregistered
	sendStampTimeBytes = 8
	sendStampBytes     = len(SendTimeUUID) + 2*8 // UUID, time, sequence
)

// NewSendStampSEI returns the SEI NAL unit (without start code) of a
// send-time stamp: header, one user_data_unregistered message, and
// rbsp_trailing_bits, with emulation prevention applied.
func NewSendStampSEI(st SendStamp) []byte {
	rbsp := make([]byte, 0, 2+sendStampBytes+1)
	rbsp = append(rbsp, seiUserDataUnreg, byte(sendStampBytes)) // both < 255: one byte each
	rbsp = append(rbsp, SendTimeUUID[:]...)
	rbsp = binary.BigEndian.AppendUint64(rbsp, uint64(st.Time.UnixNano()))
	rbsp = binary.BigEndian.AppendUint64(rbsp, st.Seq)
	rbsp = append(rbsp, 0x80) // rbsp_stop_one_bit and alignment zeros

	// nal_ref_idc 0: nothing refers to a SEI.
	return seiEscape([]byte{seiNALType}, rbsp)
}

// ParseSendTimeSEI returns the send time of a send-time SEI NAL unit
// (without start code), and false for any other NAL unit.
func ParseSendTimeSEI(nalu []byte) (time.Time, bool) {
	st, ok := parseSendStamp(nalu, false)
	return st.Time, ok
}

// ParseSendStampSEI returns the send time and frame counter of a send-time
// SEI NAL unit (without start code), and false for any other NAL unit.
func ParseSendStampSEI(nalu []byte) (SendStamp, bool) {
	return parseSendStamp(nalu, true)
}

func parseSendStamp(nalu []byte, needSeq bool) (SendStamp, bool) {
	if len(nalu) < 2 || nalu[0]&0x1f != seiNALType {
		return SendStamp{}, false
	}
	rbsp := seiUnescape(nalu[1:])
	// sei_message()s until rbsp_trailing_bits.
	for len(rbsp) > 1 {
		typ, n := seiReadValue(rbsp)
		if n == 0 {
			return SendStamp{}, false
		}
		rbsp = rbsp[n:]
		size, n := seiReadValue(rbsp)
		if n == 0 || size > len(rbsp)-n {
			return SendStamp{}, false
		}
		payload := rbsp[n : n+size]
		rbsp = rbsp[n+size:]
		if typ != seiUserDataUnreg || size < len(SendTimeUUID)+sendStampTimeBytes ||
			!bytes.Equal(payload[:len(SendTimeUUID)], SendTimeUUID[:]) {
			continue
		}
		data := payload[len(SendTimeUUID):]
		st := SendStamp{Time: time.Unix(0, int64(binary.BigEndian.Uint64(data)))}
		if len(data) >= 2*8 {
			st.Seq = binary.BigEndian.Uint64(data[8:])
		} else if needSeq {
			return SendStamp{}, false
		}
		return st, true
	}
	return SendStamp{}, false
}

// seiReadValue reads a payloadType or payloadSize: 0xFF bytes each add 255,
// the first other byte ends the value. n is 0 when the buffer ends first.
func seiReadValue(b []byte) (v, n int) {
	for i, c := range b {
		v += int(c)
		if c != 0xff {
			return v, i + 1
		}
	}
	return 0, 0
}

// seiEscape appends rbsp to header with emulation_prevention_three_bytes:
// after two zero bytes, a byte of 0 to 3 gets a 0x03 before it, so no
// start code appears inside the NAL unit.
func seiEscape(header, rbsp []byte) []byte {
	out := make([]byte, 0, len(header)+len(rbsp)+len(rbsp)/2)
	out = append(out, header...)
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// seiUnescape removes emulation_prevention_three_bytes (0x000003 → 0x0000).
func seiUnescape(b []byte) []byte {
	if !bytes.Contains(b, []byte{0, 0, 3}) {
		return b
	}
	out := make([]byte, 0, len(b))
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// StampAccessUnit returns a copy of an H.264 access unit (NAL units without
// start codes) with a send-time SEI inserted before its first slice, where
// SEI belongs (after any SPS, PPS and other SEI). The NAL units themselves
// are shared, not copied. An access unit without a slice is returned as is.
func StampAccessUnit(au [][]byte, st SendStamp) [][]byte {
	for i, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		if t := nalu[0] & 0x1f; t >= 1 && t <= 5 { // coded slice (non-IDR .. IDR)
			out := make([][]byte, 0, len(au)+1)
			out = append(out, au[:i]...)
			out = append(out, NewSendStampSEI(st))
			return append(out, au[i:]...)
		}
	}
	return au
}
