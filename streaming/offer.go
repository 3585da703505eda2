package streaming

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/media"
)

// offeredCodec is a payload format of the offer that we answer with.
type offeredCodec struct {
	payloadType uint8
	mimeType    string
	clockRate   uint32
	channels    uint16
	fmtp        string
}

func (c offeredCodec) parameters(kind webrtc.RTPCodecType) webrtc.RTPCodecParameters {
	var fb []webrtc.RTCPFeedback
	if kind == webrtc.RTPCodecTypeVideo && !strings.EqualFold(c.mimeType, webrtc.MimeTypeRTX) {
		// nack: the repairer resends lost packets; pli and fir: replays.
		// (RTX has none of its own: it is the video's.)
		fb = []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}}
	}
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType:     c.mimeType,
			ClockRate:    c.clockRate,
			Channels:     c.channels,
			SDPFmtpLine:  c.fmtp,
			RTCPFeedback: fb,
		},
		PayloadType: webrtc.PayloadType(c.payloadType),
	}
}

// offerPlan is what we answer an offer with.
type offerPlan struct {
	video offeredCodec
	rtx   *offeredCodec // the video's RTX format; nil: resends go as they were
	audio *offeredCodec // nil: no audio sent
}

// planOffer checks a WHEP offer and picks the formats to answer with: the
// stream's video codec (H.264 in packetization mode 1, preferring the
// camera's profile) and, when the camera has audio the browser accepts,
// its audio codec. Errors are of kind apperr.Invalid and say what is wrong.
func planOffer(offer string, video media.Track, audio media.Track) (offerPlan, error) {
	var sd sdp.SessionDescription
	if strings.TrimSpace(offer) == "" {
		return offerPlan{}, apperr.OfferEmpty.New(nil, "the offer is empty: expected an SDP offer")
	}
	if err := sd.UnmarshalString(offer); err != nil {
		return offerPlan{}, apperr.OfferInvalid.New(nil, "the offer is not valid SDP (RFC 8866)")
	}
	var plan offerPlan
	var videoMedia, audioMedia *sdp.MediaDescription
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Port.Value == 0 {
			continue // rejected m-line
		}
		switch m.MediaName.Media {
		case "video":
			if videoMedia == nil {
				videoMedia = m
			}
		case "audio":
			if audioMedia == nil {
				audioMedia = m
			}
		}
	}
	if videoMedia == nil {
		return plan, apperr.OfferNoVideo.New(nil, "the offer has no video m-line")
	}
	if !receives(videoMedia) {
		return plan, apperr.OfferNoVideo.New(nil, "the offer's video m-line does not receive (need recvonly or sendrecv)")
	}
	codec := video.Codec
	if codec == "" {
		codec = media.H264
	}
	formats := rtpFormats(videoMedia)
	var ok bool
	switch codec {
	case media.H265:
		plan.video, ok = pickH265(formats)
		if !ok {
			return plan, apperr.OfferNoCodec.New(apperr.P{"codec": "H.265"}, "the offer has no H.265 video format, and this window sends H.265")
		}
	default:
		plan.video, ok = pickH264(formats, video.SPS)
		if !ok {
			return plan, apperr.OfferNoCodec.New(apperr.P{"codec": "H.264"}, "the offer has no H.264 video format with packetization-mode=1")
		}
	}
	plan.rtx = pickRTX(formats, plan.video.payloadType)
	if audioMedia != nil && audio.Codec != "" && receives(audioMedia) {
		if c, ok := pickAudio(rtpFormats(audioMedia), audio); ok {
			plan.audio = &c
		}
	}
	return plan, nil
}

// receives tells whether the offerer receives on an m-line.
func receives(m *sdp.MediaDescription) bool {
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendonly", "inactive":
			return false
		}
	}
	return true
}

// rtpFormats lists the rtpmap'd formats of an m-line in offer order.
func rtpFormats(m *sdp.MediaDescription) []offeredCodec {
	fmtps := map[uint8]string{}
	var out []offeredCodec
	for _, a := range m.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, rest, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(pt, 10, 8)
			if err != nil {
				continue
			}
			parts := strings.Split(rest, "/")
			c := offeredCodec{payloadType: uint8(n), mimeType: parts[0]}
			if len(parts) > 1 {
				r, _ := strconv.ParseUint(parts[1], 10, 32)
				c.clockRate = uint32(r)
			}
			if len(parts) > 2 {
				ch, _ := strconv.ParseUint(parts[2], 10, 16)
				c.channels = uint16(ch)
			}
			out = append(out, c)
		case "fmtp":
			pt, rest, ok := strings.Cut(a.Value, " ")
			if !ok {
				continue
			}
			if n, err := strconv.ParseUint(pt, 10, 8); err == nil {
				fmtps[uint8(n)] = strings.TrimSpace(rest)
			}
		}
	}
	for i := range out {
		out[i].fmtp = fmtps[out[i].payloadType]
	}
	return out
}

func fmtpParams(line string) map[string]string {
	p := map[string]string{}
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if k != "" {
			p[strings.ToLower(k)] = v
		}
	}
	return p
}

// pickH264 picks the offer's H.264 format in packetization mode 1 that
// best fits the camera: the same profile as its SPS, else constrained
// baseline, else baseline, else the first. Browsers decode every profile
// they offer whatever format is negotiated, so any match plays; the
// closest keeps hardware decoders and strict peers happy.
func pickH264(formats []offeredCodec, sps []byte) (offeredCodec, bool) {
	var want string
	if len(sps) >= 4 {
		want = hex.EncodeToString(sps[1:3])
	}
	best, bestScore := offeredCodec{}, -1
	for _, c := range formats {
		if !strings.EqualFold(c.mimeType, "H264") || c.clockRate != 90000 {
			continue
		}
		p := fmtpParams(c.fmtp)
		if p["packetization-mode"] != "1" {
			continue
		}
		plid := strings.ToLower(p["profile-level-id"])
		score := 0
		switch {
		case len(plid) >= 4 && want != "" && plid[:4] == want:
			score = 3
		case strings.HasPrefix(plid, "42e0"):
			score = 2
		case strings.HasPrefix(plid, "4200"):
			score = 1
		}
		if score > bestScore {
			best, bestScore = c, score
		}
	}
	if bestScore < 0 {
		return offeredCodec{}, false
	}
	best.mimeType = webrtc.MimeTypeH264
	return best, true
}

// pickH265 picks the offer's first H.265 format.
func pickH265(formats []offeredCodec) (offeredCodec, bool) {
	for _, c := range formats {
		if strings.EqualFold(c.mimeType, "H265") && c.clockRate == 90000 {
			c.mimeType = webrtc.MimeTypeH265
			return c, true
		}
	}
	return offeredCodec{}, false
}

// pickRTX finds the offer's RTX format (RFC 4588) for the video format
// picked: rtx/90000 with apt= its payload type.
func pickRTX(formats []offeredCodec, apt uint8) *offeredCodec {
	for _, c := range formats {
		if strings.EqualFold(c.mimeType, "rtx") && c.clockRate == 90000 && fmtpParams(c.fmtp)["apt"] == strconv.Itoa(int(apt)) {
			c.mimeType = webrtc.MimeTypeRTX
			c.fmtp = "apt=" + strconv.Itoa(int(apt))
			return &c
		}
	}
	return nil
}

// pickAudio finds the camera's audio codec among the offer's formats.
// Browsers take G.711 at 8 kHz mono and Opus.
func pickAudio(formats []offeredCodec, t media.Track) (offeredCodec, bool) {
	var name, mime string
	var rate uint32
	switch t.Codec {
	case media.PCMA:
		name, mime, rate = "PCMA", webrtc.MimeTypePCMA, 8000
	case media.PCMU:
		name, mime, rate = "PCMU", webrtc.MimeTypePCMU, 8000
	case media.Opus:
		name, mime, rate = "opus", webrtc.MimeTypeOpus, 48000
	default:
		return offeredCodec{}, false
	}
	if t.Codec != media.Opus && (audioClockRate(t) != 8000 || t.Channels > 1) {
		return offeredCodec{}, false
	}
	for _, c := range formats {
		if strings.EqualFold(c.mimeType, name) && c.clockRate == rate {
			c.mimeType = mime
			return c, true
		}
	}
	return offeredCodec{}, false
}

// describe names a codec for logs.
func (c offeredCodec) String() string {
	return fmt.Sprintf("%s/%d pt=%d %s", c.mimeType, c.clockRate, c.payloadType, c.fmtp)
}
