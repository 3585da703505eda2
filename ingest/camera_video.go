package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph265"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/pion/rtp"

	"github.com/sunlight-gov/sunlight/internal/media"
)

// cameraVideo turns one H.264 or H.265 RTP track into access units.
// onRTP runs on gortsplib's reader goroutine, one packet at a time; the
// fields without a comment are touched by it only (or before PLAY).
type cameraVideo struct {
	s     *cameraSession
	medi  *description.Media
	forma format.Format
	codec media.Codec
	track media.Track // parameter sets: from the SDP, then in band

	width, height int // from the track's SPS, 0 if unknown

	decode        func(*rtp.Packet) ([][]byte, error)
	discontinuity bool     // the next unit starts a new timeline
	pending       cameraAU // the frame the depacketizer is assembling

	restart    atomic.Bool   // set when the session switched transport
	lastPacket atomic.Int64  // arrival of the last packet, Unix ns (watchdog)
	units      atomic.Uint64 // units handed to the sink
}

// errCameraIncomplete stands for the depacketizers' "need more packets"
// and "joined in the middle of a frame", which are no errors.
var errCameraIncomplete = errors.New("frame incomplete")

// cameraAU is what the packets of a frame said about its timing.
type cameraAU struct {
	valid bool
	ts    uint32
	pts   int64
	ptsOK bool // gortsplib has no PTS before the first IDR/SPS/PPS packet
	ntp   time.Time
}

func newCameraVideo(s *cameraSession, m *description.Media, f format.Format) (*cameraVideo, error) {
	v := &cameraVideo{s: s, medi: m, forma: f, discontinuity: true}
	v.track.ClockRate = media.ClockRate
	switch f := f.(type) {
	case *format.H264:
		v.codec = media.H264
		sps, pps := f.SafeParams()
		v.track.SPS, v.track.PPS = bytes.Clone(sps), bytes.Clone(pps)
	case *format.H265:
		v.codec = media.H265
		vps, sps, pps := f.SafeParams()
		v.track.VPS, v.track.SPS, v.track.PPS = bytes.Clone(vps), bytes.Clone(sps), bytes.Clone(pps)
	default:
		return nil, fmt.Errorf("camera video: unexpected format %T", f)
	}
	v.track.Codec = v.codec
	v.width, v.height = cameraSPSSize(v.codec, v.track.SPS)
	if err := v.newDecoder(); err != nil {
		return nil, err
	}
	return v, nil
}

// newDecoder starts a fresh depacketizer.
func (v *cameraVideo) newDecoder() error {
	switch f := v.forma.(type) {
	case *format.H264:
		d, err := f.CreateDecoder()
		if err != nil {
			return fmt.Errorf("H.264 depacketizer: %w", err)
		}
		v.decode = func(p *rtp.Packet) ([][]byte, error) {
			au, err := d.Decode(p)
			if errCameraMorePackets(err, rtph264.ErrMorePacketsNeeded, rtph264.ErrNonStartingPacketAndNoPrevious) {
				return nil, errCameraIncomplete
			}
			return au, err
		}
	case *format.H265:
		d, err := f.CreateDecoder()
		if err != nil {
			return fmt.Errorf("H.265 depacketizer: %w", err)
		}
		v.decode = func(p *rtp.Packet) ([][]byte, error) {
			au, err := d.Decode(p)
			if errCameraMorePackets(err, rtph265.ErrMorePacketsNeeded, rtph265.ErrNonStartingPacketAndNoPrevious) {
				return nil, errCameraIncomplete
			}
			return au, err
		}
	}
	v.pending = cameraAU{}
	return nil
}

// onRTP is gortsplib's callback for the video track.
func (v *cameraVideo) onRTP(pkt *rtp.Packet) {
	c := v.s.cam
	now := c.now()
	v.lastPacket.Store(time.Now().UnixNano())
	if v.restart.Swap(false) {
		// gortsplib switched to TCP: RTP and PTS start again
		if err := v.newDecoder(); err != nil {
			c.logger.Error("camera video", "error", err)
		}
		v.discontinuity = true
		c.stats.sessionStarted(media.ClockRate)
	}
	c.stats.videoPacket(now, pkt)

	// PTS and NTP belong to the packet's timestamp: take them now, the
	// frame may come out of the depacketizer with a later packet.
	cur := cameraAU{valid: true, ts: pkt.Timestamp, ntp: now}
	cur.pts, cur.ptsOK = v.s.client.PacketPTS2(v.medi, pkt)
	if ntp, ok := v.s.client.PacketNTP(v.medi, pkt); ok {
		cur.ntp = ntp
	}

	au, err := v.decode(pkt)
	switch {
	case err == nil:
		owner := cur
		if v.pending.valid && v.pending.ts != pkt.Timestamp {
			// A camera without marker bits: the depacketizer closed the
			// previous frame on this timestamp change and keeps this
			// packet for the next frame.
			owner, v.pending = v.pending, cur
		} else {
			v.pending = cameraAU{}
		}
		v.emit(au, owner)
	case errors.Is(err, errCameraIncomplete):
		if !v.pending.valid || v.pending.ts != pkt.Timestamp {
			v.pending = cur
		}
	default:
		// pending stays: the depacketizer may still hold that frame's
		// first NAL units and close it on the next timestamp change
		v.s.onDecodeError(fmt.Errorf("%s depacketizer: %w", v.codec, err))
	}
}

// emit hands a frame to the sink.
func (v *cameraVideo) emit(au [][]byte, t cameraAU) {
	if len(au) == 0 {
		return
	}
	c := v.s.cam
	idr := cameraIsIDR(v.codec, au)
	c.stats.videoFrame(t.pts, idr, t.ptsOK)
	if !t.ptsOK {
		// gortsplib times a track from its first IDR (or SPS/PPS) packet
		// on: the frames before have no place on the timeline
		return
	}
	v.updateParams(au)
	u := &media.Unit{
		PTS: t.pts, NTP: t.ntp, AU: au, IDR: idr, Discontinuity: v.discontinuity,
	}
	v.discontinuity = false
	v.units.Add(1)
	c.Sink.WriteVideo(u)
}

// updateParams follows parameter sets sent in band and announces the
// track again when they change.
func (v *cameraVideo) updateParams(au [][]byte) {
	changed, spsChanged := false, false
	set := func(dst *[]byte, nalu []byte) {
		if !bytes.Equal(*dst, nalu) {
			*dst = bytes.Clone(nalu)
			changed = true
		}
	}
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch v.codec {
		case media.H264:
			switch h264.NALUType(nalu[0] & 0x1F) {
			case h264.NALUTypeSPS:
				before := changed
				set(&v.track.SPS, nalu)
				spsChanged = spsChanged || changed != before
			case h264.NALUTypePPS:
				set(&v.track.PPS, nalu)
			}
		case media.H265:
			switch h265.NALUType((nalu[0] >> 1) & 0x3F) {
			case h265.NALUType_VPS_NUT:
				set(&v.track.VPS, nalu)
			case h265.NALUType_SPS_NUT:
				before := changed
				set(&v.track.SPS, nalu)
				spsChanged = spsChanged || changed != before
			case h265.NALUType_PPS_NUT:
				set(&v.track.PPS, nalu)
			}
		}
	}
	if !changed {
		return
	}
	c := v.s.cam
	if spsChanged {
		w, h := cameraSPSSize(v.codec, v.track.SPS)
		if w != v.width || h != v.height {
			c.logger.Info("camera picture size", "width", w, "height", h)
			v.width, v.height = w, h
			c.setSize(w, h)
		}
	}
	c.Sink.SetVideoTrack(v.track)
}

// cameraIsIDR tells a random access point: an H.264 IDR slice, an H.265
// IRAP picture (BLA, IDR or CRA: NAL types 16 to 23).
func cameraIsIDR(codec media.Codec, au [][]byte) bool {
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch codec {
		case media.H264:
			if h264.NALUType(nalu[0]&0x1F) == h264.NALUTypeIDR {
				return true
			}
		case media.H265:
			if typ := (nalu[0] >> 1) & 0x3F; typ >= 16 && typ <= 23 {
				return true
			}
		}
	}
	return false
}

// cameraSPSSize reads the picture size from an SPS; 0x0 if it does not parse.
func cameraSPSSize(codec media.Codec, sps []byte) (int, int) {
	if len(sps) == 0 {
		return 0, 0
	}
	switch codec {
	case media.H264:
		var s h264.SPS
		if s.Unmarshal(sps) == nil {
			return s.Width(), s.Height()
		}
	case media.H265:
		var s h265.SPS
		if s.Unmarshal(sps) == nil {
			return s.Width(), s.Height()
		}
	}
	return 0, 0
}
