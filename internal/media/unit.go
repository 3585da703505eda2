// Package media holds the few media types that ingest (which produces them)
// and streaming (which fans them out, relays and records them) share.
package media

import "time"

// Codec names a track's codec.
type Codec string

// The codecs Sunlight carries.
const (
	H264 Codec = "H264"
	H265 Codec = "H265"
	PCMA Codec = "PCMA" // G.711 A-law
	PCMU Codec = "PCMU" // G.711 µ-law
	Opus Codec = "Opus"
)

// ClockRate is the RTP clock of video tracks: PTS and DTS are in its ticks.
const ClockRate = 90000

// Unit is one access unit of one track, as received from the camera: a
// frame of video (its NAL units, without start codes, SEI included and
// untouched) or a packet of audio.
type Unit struct {
	// PTS is the presentation time in ClockRate ticks. It increases
	// within a session; a reconnect may restart it (Discontinuity says so).
	PTS int64
	// NTP is the wall-clock time of capture (from the camera's RTCP sender
	// reports, or the arrival time when the camera sends none).
	NTP time.Time
	// AU is the NAL units of a video frame; nil for audio.
	AU [][]byte
	// Payload is an audio packet's payload; nil for video.
	Payload []byte
	// IDR marks a random access point (H.264 IDR, H.265 IRAP).
	IDR bool
	// Discontinuity marks the first unit after a reconnect or timestamp jump.
	Discontinuity bool
}

// Track describes one track of a camera.
type Track struct {
	Codec     Codec
	ClockRate int
	// SPS, PPS (and VPS for H.265) as announced in the SDP or seen in band.
	VPS, SPS, PPS []byte
	// Channels of an audio track.
	Channels int
}
