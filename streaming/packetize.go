package streaming

import (
	"encoding/binary"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// maxPayload is the largest RTP payload the packetizers emit: a 1200-byte
// RTP packet (the size pion and browsers assume) less the 12-byte header.
// With SRTP's 10-byte tag a packet stays well under the 1280-byte IPv6
// minimum MTU, so nothing is fragmented on the way to the browser.
const maxPayload = 1200 - 12

// Packet is the codec part of one RTP packet: what every viewer of a
// stream sends unchanged. Viewers add their own header (sequence number,
// SSRC, payload type, timestamp).
type Packet struct {
	// Payload is read-only: it is shared by every viewer.
	Payload []byte
	// Marker is set on the last packet of a video access unit.
	Marker bool
}

// H.264 NAL unit types (RFC 6184).
const (
	h264NALIDR   = 5
	h264NALSPS   = 7
	h264NALPPS   = 8
	h264NALSTAPA = 24
	h264NALFUA   = 28
)

// H.265 NAL unit types (RFC 7798).
const (
	h265NALIRAPFirst = 16
	h265NALIRAPLast  = 21
	h265NALVPS       = 32
	h265NALSPS       = 33
	h265NALPPS       = 34
	h265NALAP        = 48
	h265NALFU        = 49
)

func h264Type(nalu []byte) byte { return nalu[0] & 0x1f }
func h265Type(nalu []byte) byte { return (nalu[0] >> 1) & 0x3f }

// packetizeVideo turns one access unit into RTP payloads: NAL units that
// fit go alone (or several small ones together in one aggregation packet:
// STAP-A for H.264, AP for H.265), bigger ones are cut into fragmentation
// units (FU-A, FU). Every NAL unit, SEI and AUD included, passes through
// unchanged. All payloads live in one buffer allocated here, so the caller
// may reuse au afterwards.
func packetizeVideo(codec media.Codec, au [][]byte) []Packet {
	h265 := codec == media.H265
	hdr := 1 // NAL header size
	if h265 {
		hdr = 2
	}
	fuHdr := hdr + 1 // FU indicator/payload header + FU header

	// Drop NAL units shorter than their header: they cannot be sent.
	nalus := make([][]byte, 0, len(au))
	for _, n := range au {
		if len(n) >= hdr {
			nalus = append(nalus, n)
		}
	}
	if len(nalus) == 0 {
		return nil
	}

	// First pass: plan the packets and the buffer size.
	size, count := 0, 0
	for i := 0; i < len(nalus); {
		n := aggregatable(nalus[i:], hdr)
		switch {
		case n >= 2:
			size += hdr
			for _, nal := range nalus[i : i+n] {
				size += 2 + len(nal)
			}
			count++
			i += n
		case len(nalus[i]) <= maxPayload:
			size += len(nalus[i])
			count++
			i++
		default:
			body := len(nalus[i]) - hdr
			frag := maxPayload - fuHdr
			k := (body + frag - 1) / frag
			size += body + k*fuHdr
			count += k
			i++
		}
	}

	buf := make([]byte, 0, size)
	pkts := make([]Packet, 0, count)
	emit := func(start int) {
		pkts = append(pkts, Packet{Payload: buf[start:len(buf):len(buf)]})
	}

	for i := 0; i < len(nalus); {
		n := aggregatable(nalus[i:], hdr)
		switch {
		case n >= 2:
			start := len(buf)
			group := nalus[i : i+n]
			if h265 {
				// Payload header: F bit and layer/TID of the first unit, type AP.
				buf = append(buf, (group[0][0]&0x81)|(h265NALAP<<1), group[0][1])
			} else {
				// F bit: OR of all; NRI: the highest of all (RFC 6184 5.7.1).
				var f, nri byte
				for _, nal := range group {
					f |= nal[0] & 0x80
					nri = max(nri, nal[0]&0x60)
				}
				buf = append(buf, f|nri|h264NALSTAPA)
			}
			for _, nal := range group {
				buf = binary.BigEndian.AppendUint16(buf, uint16(len(nal)))
				buf = append(buf, nal...)
			}
			emit(start)
			i += n
		case len(nalus[i]) <= maxPayload:
			start := len(buf)
			buf = append(buf, nalus[i]...)
			emit(start)
			i++
		default:
			nal := nalus[i]
			body := nal[hdr:]
			frag := maxPayload - fuHdr
			for off := 0; off < len(body); off += frag {
				end := min(off+frag, len(body))
				start := len(buf)
				var fu byte
				if off == 0 {
					fu |= 0x80 // S
				}
				if end == len(body) {
					fu |= 0x40 // E
				}
				if h265 {
					buf = append(buf, (nal[0]&0x81)|(h265NALFU<<1), nal[1], fu|h265Type(nal))
				} else {
					buf = append(buf, (nal[0]&0xe0)|h264NALFUA, fu|h264Type(nal))
				}
				buf = append(buf, body[off:end]...)
				emit(start)
			}
			i++
		}
	}
	pkts[len(pkts)-1].Marker = true
	return pkts
}

// aggregatable tells how many NAL units from the start of nalus fit
// together in one aggregation packet (0 or 1 means: do not aggregate).
func aggregatable(nalus [][]byte, hdr int) int {
	size := hdr
	n := 0
	for _, nal := range nalus {
		size += 2 + len(nal)
		if size > maxPayload || len(nal) > 0xffff {
			break
		}
		n++
	}
	return n
}

// isRandomAccess tells whether an access unit holds an IDR (H.264) or IRAP
// (H.265) picture.
func isRandomAccess(codec media.Codec, au [][]byte) bool {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if codec == media.H265 {
			if t := h265Type(n); t >= h265NALIRAPFirst && t <= h265NALIRAPLast {
				return true
			}
		} else if h264Type(n) == h264NALIDR {
			return true
		}
	}
	return false
}

// parameterSets returns the parameter sets found in an access unit.
func parameterSets(codec media.Codec, au [][]byte) (vps, sps, pps []byte) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		if codec == media.H265 {
			switch h265Type(n) {
			case h265NALVPS:
				vps = n
			case h265NALSPS:
				sps = n
			case h265NALPPS:
				pps = n
			}
			continue
		}
		switch h264Type(n) {
		case h264NALSPS:
			sps = n
		case h264NALPPS:
			pps = n
		}
	}
	return vps, sps, pps
}
