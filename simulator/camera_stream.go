package simulator

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
)

const (
	cameraClockRate = 90000 // RTP clock of H.264
	// cameraMaxLag is how far the pacer may fall behind the wall clock
	// (a stalled machine) before it stops catching up in a burst.
	cameraMaxLag = time.Second
	// cameraErrorLogEvery limits write-error logs to one per camera per period.
	cameraErrorLogEvery = 10 * time.Second
)

// camera is one window's RTSP stream and the clip it loops.
type camera struct {
	window string
	clip   *cameraClip
	fps    int64
	stream *gortsplib.ServerStream
	media  *description.Media
	enc    *rtph264.Encoder // packetizes each frame once for every reader
	tsBase uint32           // random, as RTP wants
	// stampSEI adds a send-time SEI to every frame (CameraServer.StampSEI).
	stampSEI bool
	// phase delays the camera's frames within the frame period, and skip
	// starts its clip that many frames in (CameraServer.Stagger).
	phase time.Duration
	skip  int64

	lastErrLog time.Time // only touched by the pacer goroutine
}

func newCamera(server *gortsplib.Server, window string, clip *cameraClip, fps int) (*camera, error) {
	forma := &format.H264{
		PayloadTyp:        96,
		SPS:               clip.sps,
		PPS:               clip.pps,
		PacketizationMode: 1,
	}
	media := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	enc, err := forma.CreateEncoder()
	if err != nil {
		return nil, err
	}
	stream := &gortsplib.ServerStream{
		Server: server,
		Desc:   &description.Session{Medias: []*description.Media{media}},
	}
	if err := stream.Initialize(); err != nil {
		return nil, err
	}
	return &camera{
		window: window, clip: clip, fps: int64(fps),
		stream: stream, media: media, enc: enc, tsBase: rand.Uint32(),
	}, nil
}

// writeFrame sends frame n of the endless stream. The clip restarts at an
// IDR, so looping is seamless as long as the timestamp keeps counting.
func (c *camera) writeFrame(n int64, ntp time.Time, logger *slog.Logger) {
	au := c.clip.aus[(n+c.skip)%int64(len(c.clip.aus))]
	if c.stampSEI {
		au = StampAccessUnit(au, SendStamp{Time: time.Now(), Seq: uint64(n)})
	}
	pkts, err := c.enc.Encode(au)
	if err == nil {
		// computed from n, not accumulated, so no rounding drift at any FPS
		ts := c.tsBase + uint32(n*cameraClockRate/c.fps)
		for _, pkt := range pkts {
			pkt.Timestamp = ts
			if err = c.stream.WritePacketRTPWithNTP(c.media, pkt, ntp); err != nil {
				break
			}
		}
	}
	if err != nil && time.Since(c.lastErrLog) >= cameraErrorLogEvery {
		c.lastErrLog = time.Now()
		logger.Warn("cannot write frame", "window", c.window, "error", err)
	}
}

// pace writes one frame per camera every 1/FPS. A single goroutine serves
// all cameras: one timer wakes per frame instead of one per window (with
// Stagger, once per camera, at its phase).
func (s *CameraServer) pace(ctx context.Context, cams []*camera) {
	defer s.wg.Done()

	period := func(n int64) time.Duration { return time.Duration(n * int64(time.Second) / int64(s.FPS)) }
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()

	for n := int64(0); ; n++ {
		due := start.Add(period(n))
		if lag := time.Since(due); lag > cameraMaxLag {
			// Shift the schedule instead of flooding readers with a
			// backlog; RTP timestamps still advance one frame at a time.
			s.logger.Warn("camera pacer fell behind, skipping ahead", "lag", lag.Round(time.Millisecond))
			start = start.Add(lag)
			due = due.Add(lag)
		}
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		for _, c := range cams {
			at := due.Add(c.phase) // cams are in the order of their phases
			if c.phase > 0 {
				timer.Reset(time.Until(at))
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			}
			c.writeFrame(n, at, s.logger)
		}
	}
}
