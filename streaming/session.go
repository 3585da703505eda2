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
// the peer, waits for them and releases the session), send (which, once
// connected, hands the session to its stream's fanout, the goroutine that
// writes to every viewer of the stream, and takes it back at the end),
// and one RTCP reader per RTP sender.
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
	repair     repairStats            // NACKs and resends
	connected  atomic.Int64           // ns from created to connected; 0 before
	firstFrame atomic.Int64           // ns from created to the first frames sent; 0 before
	framesSent atomic.Uint64
	latency    latencyHist // from the stream receiving a live frame to its last packet sent
	endMu      sync.Mutex
	reason     string // guarded by endMu; the first reason given to end

	// Used by the fanout goroutine only (by send before it hands over).
	rd         *Reader
	pace       pacer    // see pace.go
	pending    []*Frame // the rest of a GOP replay being written
	pendStart  int64    // the timestamp of the replay's first frame
	pendDone   int      // frames of pending written
	dead       bool     // the reader ended: nothing more to write
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
	st.NACKs, st.NACKedPackets, st.Retransmitted = ss.repair.nacks.Load(), ss.repair.asked.Load(), ss.repair.resent.Load()
	if st.NACKedPackets > st.Retransmitted {
		st.Unrepaired = st.NACKedPackets - st.Retransmitted
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
	// A loss the history cannot repair leaves the viewer unable to decode
	// until a keyframe: replay the GOP now rather than wait for its PLI.
	lost := func() {
		if r := ss.reader.Load(); r != nil {
			r.RequestKeyframe()
		}
	}
	api, err := ss.server.api(plan, repairFactory{stats: &ss.repair, lost: lost})
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
		// pion's text is for the log, not for the viewer.
		ss.logger.Debug("offer refused", "err", err)
		return "", apperr.OfferInvalid.New(nil, "the offer was refused: it is not a complete WebRTC offer (ICE credentials, DTLS fingerprint, BUNDLE)")
	}
	answer, err := ss.pc.CreateAnswer(nil)
	if err != nil {
		if errors.Is(err, webrtc.ErrSenderWithNoCodecs) {
			return "", apperr.OfferNoCodec.New(apperr.P{"codec": ss.stream.VideoTrack().Codec}, "the offer has no codec this window can send")
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
		"frames", stats.Delivered, "drops", stats.Drops, "replays", stats.Replays, "keyframe_requests", ss.keyReqs.Load(),
		"nacks", ss.repair.nacks.Load(), "nacked_packets", ss.repair.asked.Load(), "retransmitted", ss.repair.resent.Load())
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
	iceStart := time.NewTimer(ss.server.ICEStartTimeout)
	defer iceStart.Stop()
	isConnected := false
	for {
		select {
		case <-ss.ctx.Done():
			return
		case <-timer.C:
			if !isConnected {
				ss.end(EndConnectTimeout)
			}
		case <-iceStart.C:
			if !isConnected && !ss.iceStarted() {
				ss.logger.Info("no ICE connectivity check from the viewer: ending the session", "after", ss.server.ICEStartTimeout)
				ss.end(EndNoICE)
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

// iceStarted reports whether the viewer has sent an ICE connectivity
// check (a STUN binding request) on any candidate pair.
func (ss *session) iceStarted() bool {
	for _, st := range ss.pc.GetStats() {
		if cp, ok := st.(webrtc.ICECandidatePairStats); ok && cp.RequestsReceived > 0 {
			return true
		}
	}
	return false
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

// send feeds the peer from the stream once connected: the stream's fanout
// writes, until the session ends.
func (ss *session) send(connected chan struct{}) {
	select {
	case <-connected:
	case <-ss.ctx.Done():
		return
	}
	f := ss.server.join(ss.stream)
	r, err := ss.stream.addReader(ReaderConfig{Name: "webrtc " + ss.id, Audio: ss.audio != nil}, f.notify)
	if err != nil {
		ss.server.leave(f, nil)
		ss.end(EndStreamClosed)
		return
	}
	ss.rd = r
	ss.reader.Store(r)
	ss.vSeq, ss.aSeq = uint16(rand.Uint32()), uint16(rand.Uint32())
	ss.vBase, ss.aBase = rand.Uint32(), rand.Uint32()

	f.add(ss)
	<-ss.ctx.Done() // step ends the session when the reader or a write fails
	ss.server.leave(f, ss)
	ss.stream.RemoveReader(r)
}

// step writes the next delivery of the session's reader, or the next
// chunk of a GOP replay, if there is one; it tells whether it wrote, and
// when the session's pacer holds it back, how long until it may write. It
// runs on the fanout's goroutine.
func (ss *session) step(now time.Time) (bool, time.Duration) {
	if ss.dead || ss.ctx.Err() != nil {
		return false, 0
	}
	if ok, wait := ss.pace.allow(now); !ok {
		return false, wait
	}
	if len(ss.pending) > 0 {
		return ss.writeReplay(now), 0
	}
	d, ok, err := ss.rd.tryNext()
	if err != nil {
		ss.dead = true
		switch {
		case ss.ctx.Err() != nil:
		case errors.Is(err, ErrCodecChanged):
			ss.end(EndCodecChanged)
		default:
			ss.end(EndStreamClosed)
		}
		return false, 0
	}
	if !ok {
		return false, 0
	}
	if d.Replay {
		// A replay's frames are the stream's GOP slice, whose elements
		// are never replaced: it may be kept past the next tryNext.
		frames := d.Frames
		last := len(frames) - 1
		start := frames[last].TS - int64(last)
		if ss.vStarted && start <= ss.vLast {
			start = ss.vLast + 1 // a replay after frames already sent
		}
		ss.pending, ss.pendStart, ss.pendDone = frames, start, 0
		ss.pace.setRate(frames, now)
		return ss.writeReplay(now), 0
	}
	if err := ss.writeLive(d.Frames[0]); err != nil {
		ss.dead = true
		ss.end(EndSendError)
	}
	ss.pace.spend(d.Frames[0])
	return true, 0
}

// writeReplay writes the next chunk of a GOP replay. Timestamps: see the
// session doc.
func (ss *session) writeReplay(now time.Time) bool {
	frames := ss.pending
	end := min(ss.pendDone+replayChunk, len(frames))
	for i := ss.pendDone; i < end; i++ {
		if ok, _ := ss.pace.allow(now); !ok {
			end = i
			break
		}
		if err := ss.writeVideo(frames[i], ss.pendStart+int64(i)); err != nil {
			ss.pending, ss.dead = nil, true
			ss.end(EndSendError)
			return true
		}
		ss.pace.spend(frames[i])
	}
	ss.framesSent.Add(uint64(end - ss.pendDone))
	ss.pendDone = end
	if end < len(frames) {
		return true
	}
	ss.pending = nil
	if ss.firstFrame.Load() == 0 {
		ss.firstFrame.Store(int64(max(time.Since(ss.created), 1)))
		ss.logger.Debug("first frames sent", "after", time.Since(ss.created), "gop_frames", len(frames))
	}
	return true
}

// writeLive sends a live frame. Timestamps: see the session doc.
func (ss *session) writeLive(f *Frame) error {
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
