package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

const (
	rtcpBufferSize = 1500            // one RTCP datagram
	maxWriteErrors = 100             // consecutive failed writes that end a session
	errorLogEvery  = 5 * time.Second // at most one write error logged per session this often
)

// session is one WHEP viewer: a PeerConnection fed by a Reader of a
// Stream.
//
// Goroutines: run (the owner: it starts the others, and on the end closes
// the peer, waits for them and releases the session), send (stream to
// peer, once connected), and one RTCP reader per RTP sender.
//
// How a viewer starts (the GOP-start choice): the first delivery of its
// reader is the cached GOP, from the newest IDR (with SPS/PPS) to the
// newest frame. All of it is sent at once, the newest frame at its real
// timestamp and the older ones squeezed one tick apart just before it. The
// browser decodes them all (the decoder needs every reference), and its
// jitter buffer, seeing frames a few ticks apart, holds none of them back:
// the newest picture shows at once, without a black screen and without a
// fast-forward. Live frames then follow at their real timestamps. A PLI or
// FIR replays the GOP the same way, after the frames already sent.
type session struct {
	id       string
	streamID string
	server   *WebRTCServer
	stream   *Stream
	logger   *slog.Logger
	created  time.Time
	ctx      context.Context // canceled by end
	cancel   context.CancelFunc
	stateCh  chan struct{} // connection state changed
	done     chan struct{} // closed when the session is gone

	pc      *webrtc.PeerConnection
	video   *viewerTrack
	audio   *viewerTrack // nil without audio
	senders []*webrtc.RTPSender

	reader     atomic.Pointer[Reader] // set by send once connected
	keyReqs    atomic.Uint64          // PLI and FIR received
	connected  atomic.Int64           // ns from created to connected; 0 before
	firstFrame atomic.Int64           // ns from created to the first frames sent; 0 before
	framesSent atomic.Uint64
	latency    latencyHist // from the stream receiving a live frame to its last packet sent
	endMu      sync.Mutex
	reason     string // guarded by endMu; the first reason given to end

	// Used by the send goroutine only.
	vSeq, aSeq uint16
	vBase      uint32 // random offset of video timestamps
	aBase      uint32 // random offset of audio timestamps
	vStarted   bool
	vLast      int64 // the last video timestamp sent, on the stream timeline
	writeErrs  int
	lastErrLog time.Time
}

func (ss *session) stats() SessionStats {
	st := SessionStats{
		ID:               ss.id,
		StreamID:         ss.streamID,
		Created:          ss.created,
		ConnectedAfter:   time.Duration(ss.connected.Load()),
		FirstFrameAfter:  time.Duration(ss.firstFrame.Load()),
		FramesSent:       ss.framesSent.Load(),
		KeyframeRequests: ss.keyReqs.Load(),
		LatencyP50:       ss.latency.quantile(0.50),
		LatencyP99:       ss.latency.quantile(0.99),
	}
	if r := ss.reader.Load(); r != nil {
		rs := r.Stats()
		st.Drops, st.Replays = rs.Drops, rs.Replays
	}
	return st
}

// negotiate creates the peer and answers the offer; the answer holds all
// candidates.
func (ss *session) negotiate(ctx context.Context, plan offerPlan, offerSDP string) (string, error) {
	api, err := ss.server.api(plan)
	if err != nil {
		return "", fmt.Errorf("webrtc: %w", err)
	}
	ss.pc, err = api.NewPeerConnection(webrtc.Configuration{ICEServers: ss.server.ICEServers})
	if err != nil {
		return "", fmt.Errorf("webrtc: new peer connection: %w", err)
	}
	ss.pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) {
		// pion calls this on a goroutine of its own: only signal.
		select {
		case ss.stateCh <- struct{}{}:
		default:
		}
	})

	ss.video = newViewerTrack(plan.video.parameters(webrtc.RTPCodecTypeVideo).RTPCodecCapability, "video", mediaStreamID)
	sender, err := ss.pc.AddTrack(ss.video)
	if err != nil {
		return "", fmt.Errorf("webrtc: add video track: %w", err)
	}
	ss.senders = append(ss.senders, sender)
	if plan.audio != nil {
		ss.audio = newViewerTrack(plan.audio.parameters(webrtc.RTPCodecTypeAudio).RTPCodecCapability, "audio", mediaStreamID)
		sender, err := ss.pc.AddTrack(ss.audio)
		if err != nil {
			return "", fmt.Errorf("webrtc: add audio track: %w", err)
		}
		ss.senders = append(ss.senders, sender)
	}

	err = ss.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offerSDP})
	if err != nil {
		return "", apperr.New(apperr.Invalid, "the offer was refused: %v", err)
	}
	answer, err := ss.pc.CreateAnswer(nil)
	if err != nil {
		if errors.Is(err, webrtc.ErrSenderWithNoCodecs) {
			return "", apperr.New(apperr.Invalid, "the offer has no codec this window can send")
		}
		return "", fmt.Errorf("webrtc: create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(ss.pc)
	if err := ss.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("webrtc: set local description: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", fmt.Errorf("webrtc: gathering candidates: %w", ctx.Err())
	case <-ss.ctx.Done():
		return "", ErrServerClosed
	}
	return ss.pc.LocalDescription().SDP, nil
}

// abort undoes a session that was never returned: no OnSessionEnd.
func (ss *session) abort() {
	ss.cancel()
	if ss.pc != nil {
		if err := ss.pc.GracefulClose(); err != nil {
			ss.logger.Debug("close peer", "err", err)
		}
	}
	close(ss.done)
	ss.server.release(ss)
}

// end asks the session to end; the first reason sticks.
func (ss *session) end(reason string) {
	ss.endMu.Lock()
	if ss.reason == "" {
		ss.reason = reason
	}
	ss.endMu.Unlock()
	ss.cancel()
}

func (ss *session) endReason() string {
	ss.endMu.Lock()
	defer ss.endMu.Unlock()
	return ss.reason
}

// run owns the session's goroutines and its teardown.
func (ss *session) run() {
	var wg sync.WaitGroup
	for _, sender := range ss.senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ss.readRTCP(sender)
		}()
	}
	connected := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		ss.send(connected)
	}()

	ss.watch(connected)

	if err := ss.pc.GracefulClose(); err != nil {
		ss.logger.Debug("close peer", "err", err)
	}
	wg.Wait()
	reason := ss.endReason()
	var stats ReaderStats
	if r := ss.reader.Load(); r != nil {
		stats = r.Stats()
	}
	ss.logger.Info("session ended", "reason", reason, "duration", time.Since(ss.created).Round(time.Millisecond),
		"frames", stats.Delivered, "drops", stats.Drops, "replays", stats.Replays, "keyframe_requests", ss.keyReqs.Load())
	close(ss.done)
	ss.server.release(ss)
	if cb := ss.server.OnSessionEnd; cb != nil {
		cb(ss.id, ss.streamID, reason)
	}
}

// watch follows the connection state until the session ends.
func (ss *session) watch(connected chan struct{}) {
	timer := time.NewTimer(ss.server.ConnectTimeout)
	defer timer.Stop()
	isConnected := false
	for {
		select {
		case <-ss.ctx.Done():
			return
		case <-timer.C:
			if !isConnected {
				ss.end(EndConnectTimeout)
			}
		case <-ss.stateCh:
			switch st := ss.pc.ConnectionState(); st {
			case webrtc.PeerConnectionStateConnected:
				if !isConnected {
					isConnected = true
					ss.connected.Store(int64(max(time.Since(ss.created), 1)))
					close(connected)
					ss.logger.Debug("connected", "after", time.Since(ss.created))
				}
			case webrtc.PeerConnectionStateFailed:
				ss.end(EndFailed)
			case webrtc.PeerConnectionStateClosed:
				ss.end(EndPeerClosed)
			case webrtc.PeerConnectionStateDisconnected:
				ss.logger.Debug("disconnected: waiting for ICE to recover or fail")
			}
		}
	}
}

// readRTCP reads a sender's RTCP until the peer closes: the interceptors
// (NACK, reports) need it read, and a PLI or FIR replays the GOP.
func (ss *session) readRTCP(sender *webrtc.RTPSender) {
	buf := make([]byte, rtcpBufferSize)
	for {
		n, _, err := sender.Read(buf)
		if err != nil {
			return
		}
		// ReadRTCP would end on the first malformed packet; skip it instead.
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				ss.keyReqs.Add(1)
				if r := ss.reader.Load(); r != nil {
					r.RequestKeyframe()
				}
			}
		}
	}
}

// send feeds the peer from the stream once connected.
func (ss *session) send(connected chan struct{}) {
	select {
	case <-connected:
	case <-ss.ctx.Done():
		return
	}
	r, err := ss.stream.AddReader(ReaderConfig{Name: "webrtc " + ss.id, Audio: ss.audio != nil})
	if err != nil {
		ss.end(EndStreamClosed)
		return
	}
	ss.reader.Store(r)
	defer ss.stream.RemoveReader(r)

	ss.vSeq, ss.aSeq = uint16(rand.Uint32()), uint16(rand.Uint32())
	ss.vBase, ss.aBase = rand.Uint32(), rand.Uint32()
	for {
		d, err := r.Next(ss.ctx)
		if err != nil {
			switch {
			case ss.ctx.Err() != nil:
			case errors.Is(err, ErrCodecChanged):
				ss.end(EndCodecChanged)
			default:
				ss.end(EndStreamClosed)
			}
			return
		}
		if err := ss.write(d); err != nil {
			ss.end(EndSendError)
			return
		}
	}
}

// write sends a delivery. Timestamps: see the session doc.
func (ss *session) write(d Delivery) error {
	if d.Replay {
		frames := d.Frames
		last := len(frames) - 1
		start := frames[last].TS - int64(last)
		if ss.vStarted && start <= ss.vLast {
			start = ss.vLast + 1 // a replay after frames already sent
		}
		for i, f := range frames {
			if err := ss.writeVideo(f, start+int64(i)); err != nil {
				return err
			}
		}
		if ss.firstFrame.Load() == 0 {
			ss.firstFrame.Store(int64(max(time.Since(ss.created), 1)))
			ss.logger.Debug("first frames sent", "after", time.Since(ss.created), "gop_frames", len(frames))
		}
		ss.framesSent.Add(uint64(len(frames)))
		return nil
	}
	f := d.Frames[0]
	if f.Kind == KindAudio {
		return ss.writePackets(ss.audio, f.Packets, uint32(f.TS)+ss.aBase, &ss.aSeq)
	}
	ts := f.TS
	if ss.vStarted && ts <= ss.vLast {
		ts = ss.vLast + 1
	}
	if err := ss.writeVideo(f, ts); err != nil {
		return err
	}
	ss.latency.observe(time.Since(f.Written))
	ss.framesSent.Add(1)
	return nil
}

func (ss *session) writeVideo(f *Frame, ts int64) error {
	ss.vStarted, ss.vLast = true, ts
	return ss.writePackets(ss.video, f.Packets, uint32(ts)+ss.vBase, &ss.vSeq)
}

// writePackets sends packets with this viewer's header: the payloads are
// the stream's, shared by every viewer.
func (ss *session) writePackets(track *viewerTrack, pkts []Packet, ts uint32, seq *uint16) error {
	for _, p := range pkts {
		err := track.writeRTP(p.Marker, *seq, ts, p.Payload)
		*seq++
		if err != nil {
			if errors.Is(err, io.ErrClosedPipe) || ss.ctx.Err() != nil {
				return err
			}
			ss.writeErrs++
			if time.Since(ss.lastErrLog) >= errorLogEvery {
				ss.lastErrLog = time.Now()
				ss.logger.Warn("write RTP", "err", err, "consecutive", ss.writeErrs)
			}
			if ss.writeErrs >= maxWriteErrors {
				return err
			}
			continue
		}
		ss.writeErrs = 0
	}
	return nil
}
