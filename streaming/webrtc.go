package streaming

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// Why a session ended, as passed to OnSessionEnd.
const (
	EndClosed         = "closed"          // CloseSession (the WHEP DELETE)
	EndFailed         = "ice failed"      // ICE or DTLS failed, or the peer vanished
	EndPeerClosed     = "peer closed"     // the browser closed the connection
	EndConnectTimeout = "connect timeout" // no connection within ConnectTimeout
	EndNoICE          = "no ice"          // no connectivity check from the viewer within ICEStartTimeout
	EndStreamClosed   = "stream closed"   // the camera's stream ended
	EndCodecChanged   = "codec changed"   // the camera came back with another codec
	EndSendError      = "send error"      // writing media failed for good
	EndServerClosed   = "server closed"   // WebRTCServer.Close
)

const (
	defaultMaxViewers = 16               // MaxViewersPerStream's default
	defaultConnect    = 15 * time.Second // ConnectTimeout's default
	defaultICEStart   = 5 * time.Second  // ICEStartTimeout's default
	mediaStreamID     = "sunlight"       // the msid of the tracks we send
	iceDisconnected   = 5 * time.Second  // no traffic for this long: disconnected
	iceFailed         = 10 * time.Second // then this long more: failed
	iceKeepalive      = 2 * time.Second  // keepalive interval when idle
	gatherTimeout     = 5 * time.Second  // bound on STUN gathering
	sessionIDBytes    = 16               // random bytes of a session id
	udpReadBuffer     = 4 << 20          // socket buffer
	udpWriteBuffer    = 4 << 20          // socket buffer, for GOP replays to many viewers
)

// StreamSource finds the stream of a window.
type StreamSource interface {
	Stream(id string) (*Stream, bool)
}

// WebRTCServer serves WHEP sessions: each viewer is a pion PeerConnection
// fed from a Stream. All peers share one UDP port (an ICE UDP mux); the
// answer is complete (non-trickle: candidates are gathered first).
//
// A viewer starts at once, whatever the point of the camera's GOP: once
// connected it gets the stream's cached GOP (the newest IDR with SPS/PPS
// and every frame since) in one burst, the newest frame at its real RTP
// timestamp and the others squeezed one tick apart just before it. The
// browser decodes them all and shows the newest picture at once: no black
// screen until the next keyframe, and no fast-forward (the squeezed frames
// are due immediately, so the jitter buffer holds none back). Live frames
// follow at their real timestamps. A PLI or FIR from the viewer replays
// the cached GOP the same way, to that viewer only; the camera is not
// asked. Starting from the newest IDR alone would not do: the P-frames
// after it in the live stream reference the frames in between.
//
// Set the exported fields, call Initialize, and Close when done.
type WebRTCServer struct {
	// UDPPort is the one UDP port all peers share. 0 picks a free port
	// (tests); LocalUDPPort reports it. The configuration's default is 8189.
	UDPPort int
	// PublicIPs are announced as extra host candidates at UDPPort, for a
	// server behind 1:1 NAT or port forwarding; the interfaces' own
	// addresses are announced too, for viewers on the LAN. Default none.
	PublicIPs []string
	// Interfaces, when set, limits the local addresses announced to those
	// of these network interfaces (say, not a container bridge that no
	// viewer can reach: every candidate a browser cannot reach slows its
	// connection), loopback's included when a loopback interface is
	// listed (viewers on this machine). Default: every interface that is
	// up but loopback, whose addresses are announced only when there is
	// no other.
	Interfaces []string
	// ICEServers (STUN/TURN) are used by the server's ICE agents. Default
	// none, which is right when PublicIPs or the LAN make the server
	// reachable: a STUN server slows each answer down by a round trip.
	ICEServers []webrtc.ICEServer
	// MaxViewersPerStream bounds the sessions of one stream. Default 16.
	MaxViewersPerStream int
	// ConnectTimeout ends a session that is not connected by then.
	// Default 15s.
	ConnectTimeout time.Duration
	// ICEStartTimeout ends a session whose viewer has sent no ICE
	// connectivity check by then (an offer posted by a client that never
	// uses the answer), so that it frees its viewer slot long before
	// ConnectTimeout. A browser sends its first check milliseconds after
	// it gets the answer. Default 5s.
	ICEStartTimeout time.Duration
	// Streams finds a window's stream. Required.
	Streams StreamSource
	// Online, when set, reports whether a window's camera is online, and
	// if not, why (shown to the viewer).
	Online func(streamID string) (reason string, ok bool)
	// OnSessionEnd, when set, is called once per session returned by
	// NewSession when it ends, with one of the End* reasons. It is called
	// from the session's goroutine after the session is gone.
	OnSessionEnd func(id, streamID, reason string)
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
	// UnbatchedSends sends each packet with a system call of its own,
	// as pion does, instead of gathering a fanout round's packets into
	// sendmmsg calls (batchConn): for benchmarks that compare the two.
	UnbatchedSends bool

	logger   *slog.Logger
	settings webrtc.SettingEngine
	tune     func(*webrtc.SettingEngine) // tests: shorter ICE timeouts
	mux      ice.UDPMux
	batch    *batchConn // the mux's socket, nil when UnbatchedSends
	port     int
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup // one per session that may still run
	fanWG    sync.WaitGroup // one per fanout goroutine

	mu sync.Mutex
	// The fields below are guarded by mu.
	sessions  map[string]*session
	perStream map[string]int
	fanouts   map[*Stream]*fanout // the writers of streams with connected sessions
	closed    bool
	ended     Repair // the loss repair of the sessions that ended
}

// Repair sums sessions' loss repair (see SessionStats).
type Repair struct {
	NACKs, NACKedPackets, Retransmitted, Unrepaired uint64
}

func (r *Repair) add(st SessionStats) {
	r.NACKs += st.NACKs
	r.NACKedPackets += st.NACKedPackets
	r.Retransmitted += st.Retransmitted
	r.Unrepaired += st.Unrepaired
}

// RepairTotals sums the loss repair of every session since Initialize,
// ended or not: monotonic counters, for /metrics.
func (s *WebRTCServer) RepairTotals() Repair {
	s.mu.Lock()
	total := s.ended
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	for _, ss := range list {
		total.add(ss.stats())
	}
	return total
}

// Initialize checks the configuration and opens the UDP port.
func (s *WebRTCServer) Initialize() error {
	if s.Streams == nil {
		return errors.New("webrtc: Streams is required")
	}
	if s.MaxViewersPerStream <= 0 {
		s.MaxViewersPerStream = defaultMaxViewers
	}
	if s.ConnectTimeout <= 0 {
		s.ConnectTimeout = defaultConnect
	}
	if s.ICEStartTimeout <= 0 {
		s.ICEStartTimeout = defaultICEStart
	}
	s.logger = s.Logger
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.logger = s.logger.With("component", "webrtc")
	for _, ip := range s.PublicIPs {
		if parsed := net.ParseIP(ip); parsed == nil || parsed.To4() == nil {
			return fmt.Errorf("webrtc: public IP %q is not an IPv4 address", ip)
		}
	}

	if len(s.Interfaces) > 0 && len(interfaceIPs(s.Interfaces)) == 0 {
		return fmt.Errorf("webrtc: none of the interfaces %v has an address", s.Interfaces)
	}

	conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: s.UDPPort})
	if err != nil {
		return fmt.Errorf("webrtc: listen on UDP port %d: %w", s.UDPPort, err)
	}
	_ = conn.SetReadBuffer(udpReadBuffer)
	_ = conn.SetWriteBuffer(udpWriteBuffer)
	s.port = conn.LocalAddr().(*net.UDPAddr).Port

	factory := newPionLoggerFactory(s.logger)
	// The mux on 0.0.0.0 announces the interfaces' addresses, found anew
	// for each session (pion warns that it prefers one socket per address:
	// that misses addresses that change while we run).
	var sock net.PacketConn = conn
	if !s.UnbatchedSends {
		s.batch = newBatchConn(conn)
		sock = s.batch
	}
	s.mux = announcedMux{UDPMux: webrtc.NewICEUDPMux(factory.NewLogger("udpmux"), sock), interfaces: s.Interfaces}

	se := webrtc.SettingEngine{LoggerFactory: factory}
	se.SetICEUDPMux(s.mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(iceDisconnected, iceFailed, iceKeepalive)
	se.SetSTUNGatherTimeout(gatherTimeout)
	if len(s.PublicIPs) > 0 {
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External:        s.PublicIPs,
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteAppend,
		})
		if err != nil {
			_ = s.mux.Close()
			return fmt.Errorf("webrtc: public IPs: %w", err)
		}
	}
	if s.tune != nil {
		s.tune(&se)
	}
	s.settings = se
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.sessions = make(map[string]*session)
	s.perStream = make(map[string]int)
	s.fanouts = make(map[*Stream]*fanout)
	s.logger.Info("WebRTC listening", "udp_port", s.port, "public_ips", s.PublicIPs, "interfaces", s.Interfaces)
	return nil
}

// SendStats reports the send batching's work since Initialize; zero with
// UnbatchedSends.
func (s *WebRTCServer) SendStats() SendStats {
	if s.batch == nil {
		return SendStats{}
	}
	return s.batch.stats()
}

// LocalUDPPort returns the UDP port peers connect to.
func (s *WebRTCServer) LocalUDPPort() int { return s.port }

// Viewers returns the number of sessions of a stream (including those
// still connecting).
func (s *WebRTCServer) Viewers(streamID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perStream[streamID]
}

// SessionStream returns the stream (window) of a session.
func (s *WebRTCServer) SessionStream(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok {
		return "", false
	}
	return ss.streamID, true
}

// NewSession answers a WHEP offer for a stream: it returns the session id
// (for the Location) and the complete SDP answer. ctx bounds only the
// answer (candidate gathering), not the session.
//
// Errors: apperr.NotFound (no such stream), apperr.Unavailable (camera
// offline, no video yet, server closing), apperr.Invalid (bad offer),
// apperr.Conflict (viewer limit reached).
func (s *WebRTCServer) NewSession(ctx context.Context, streamID, offerSDP string) (id, answerSDP string, err error) {
	start := time.Now()
	if s.sessions == nil {
		return "", "", errors.New("webrtc: NewSession before Initialize")
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return "", "", ErrServerClosed
	}
	stream, ok := s.Streams.Stream(streamID)
	if !ok {
		return "", "", apperr.LiveNotFound.New(apperr.P{"window": streamID}, "window %s has no live stream", streamID)
	}
	// A bad offer is the client's mistake whatever the camera's state:
	// say so first.
	audioTrack, _ := stream.AudioTrack()
	if _, err := planOffer(offerSDP, stream.VideoTrack(), audioTrack); err != nil {
		return "", "", err
	}
	if s.Online != nil {
		if reason, ok := s.Online(streamID); !ok {
			if reason == "" {
				reason = "offline"
			}
			return "", "", apperr.CameraOffline.New(apperr.P{"window": streamID}, "the camera of window %s is offline: %s", streamID, reason)
		}
	}
	if err := s.waitReady(ctx, stream); err != nil {
		return "", "", err
	}
	// The camera's first units may have changed the track (SPS/PPS, codec).
	audioTrack, _ = stream.AudioTrack()
	plan, err := planOffer(offerSDP, stream.VideoTrack(), audioTrack)
	if err != nil {
		return "", "", err
	}

	ss, err := s.reserve(stream)
	if err != nil {
		return "", "", err
	}
	answer, err := ss.negotiate(ctx, plan, offerSDP)
	if err != nil {
		ss.abort()
		return "", "", err
	}
	ss.logger.Info("session created", "video", plan.video.String(), "audio", plan.audio != nil,
		"answer_after", time.Since(start))
	go ss.run()
	return ss.id, answer, nil
}

// reserve takes a viewer slot of the stream and registers a new session.
func (s *WebRTCServer) reserve(stream *Stream) (*session, error) {
	var b [sessionIDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("webrtc: session id: %w", err)
	}
	id := hex.EncodeToString(b[:])

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrServerClosed
	}
	if n := s.perStream[stream.ID()]; n >= s.MaxViewersPerStream {
		return nil, apperr.ViewerLimit.New(apperr.P{"window": stream.ID(), "max": n}, "window %s has %d viewers, the limit", stream.ID(), n)
	}
	ctx, cancel := context.WithCancel(s.ctx)
	ss := &session{
		id:       id,
		streamID: stream.ID(),
		server:   s,
		stream:   stream,
		ctx:      ctx,
		cancel:   cancel,
		stateCh:  make(chan struct{}, 1),
		done:     make(chan struct{}),
		created:  time.Now(),
		logger:   s.logger.With("session", id, "window", stream.ID()),
	}
	s.sessions[id] = ss
	s.perStream[stream.ID()]++
	s.wg.Add(1)
	return ss, nil
}

// release unregisters a session; the last thing it does.
func (s *WebRTCServer) release(ss *session) {
	st := ss.stats()
	s.mu.Lock()
	s.ended.add(st)
	delete(s.sessions, ss.id)
	if s.perStream[ss.streamID]--; s.perStream[ss.streamID] <= 0 {
		delete(s.perStream, ss.streamID)
	}
	s.mu.Unlock()
	s.wg.Done()
}

// api builds the pion API of one session: its codecs are the ones picked
// from its offer.
func (s *WebRTCServer) api(plan offerPlan, repair repairFactory) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(plan.video.parameters(webrtc.RTPCodecTypeVideo), webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("register video codec: %w", err)
	}
	if plan.audio != nil {
		if err := me.RegisterCodec(plan.audio.parameters(webrtc.RTPCodecTypeAudio), webrtc.RTPCodecTypeAudio); err != nil {
			return nil, fmt.Errorf("register audio codec: %w", err)
		}
	}
	if plan.rtx != nil {
		if err := me.RegisterCodec(plan.rtx.parameters(webrtc.RTPCodecTypeVideo), webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("register RTX: %w", err)
		}
	}
	// Interceptors of a sender: NACK responses (repairer: resends from a
	// history that references the shared payloads, as RTX when the viewer
	// offered it) and sender reports. No TWCC: we do not adapt the
	// bitrate, and its header extension costs on every packet.
	reg := &interceptor.Registry{}
	reg.Add(repair)
	sr, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(s.settings.LoggerFactory))
	if err != nil {
		return nil, fmt.Errorf("sender reports: %w", err)
	}
	reg.Add(sr)
	return webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(s.settings),
	), nil
}

// SessionStats is a snapshot of a session, for metrics and the console.
type SessionStats struct {
	ID       string
	StreamID string
	Created  time.Time
	// ConnectedAfter is the time from NewSession to the peer connecting
	// (ICE and DTLS); 0 while connecting.
	ConnectedAfter time.Duration
	// FirstFrameAfter is the time from NewSession to the first frames (the
	// cached GOP) handed to the network; 0 before.
	FirstFrameAfter time.Duration
	// FramesSent counts video frames sent, replays included.
	FramesSent uint64
	// Drops counts frames lost because the viewer fell behind.
	Drops uint64
	// Replays counts GOP replays (the start and keyframe requests).
	Replays          uint64
	KeyframeRequests uint64
	// Loss repair: NACKs received, the packets they asked for, packets
	// resent; asked for but not resent (gone from the history) is
	// Unrepaired.
	NACKs, NACKedPackets, Retransmitted, Unrepaired uint64
	// LatencyP50 and LatencyP99 are the time from the stream receiving a
	// live frame to its last packet sent to this viewer (0.1 ms buckets).
	LatencyP50, LatencyP99 time.Duration
}

// Sessions returns a snapshot of every session, ordered by creation.
func (s *WebRTCServer) Sessions() []SessionStats {
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	out := make([]SessionStats, 0, len(list))
	for _, ss := range list {
		out = append(out, ss.stats())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// readyWait bounds how long a viewer's request waits for the first video
// of a camera that has just connected, rather than failing at once.
const readyWait = 3 * time.Second

// waitReady returns once the stream has video to send, waiting up to
// readyWait for a camera that is online but has not sent its first
// keyframe yet (a viewer who clicks as the camera connects).
func (s *WebRTCServer) waitReady(ctx context.Context, stream *Stream) error {
	deadline := time.Now().Add(readyWait)
	for {
		err := stream.Ready()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// CloseSession ends a session (the WHEP DELETE) and waits until it is gone.
// An unknown id is of kind apperr.NotFound.
func (s *WebRTCServer) CloseSession(id string) error {
	s.mu.Lock()
	ss, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok {
		return apperr.New(apperr.NotFound, "no live session %s", id)
	}
	ss.end(EndClosed)
	<-ss.done
	return nil
}

// Close ends every session, waits for them, and closes the UDP port.
func (s *WebRTCServer) Close() {
	if s.sessions == nil {
		return
	}
	s.mu.Lock()
	already := s.closed
	s.closed = true
	list := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		list = append(list, ss)
	}
	s.mu.Unlock()
	for _, ss := range list {
		ss.end(EndServerClosed)
	}
	s.cancel()
	s.wg.Wait()
	s.fanWG.Wait()
	if !already {
		if err := s.mux.Close(); err != nil {
			s.logger.Debug("close UDP mux", "err", err)
		}
	}
}
