package livebench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/media"
	"github.com/sunlight-gov/sunlight/internal/whepclient"
	"github.com/sunlight-gov/sunlight/simulator"
	"github.com/sunlight-gov/sunlight/streaming"
)

// maxOfferBytes bounds a WHEP offer.
const maxOfferBytes = 64 << 10

// server is the measured process's part: ingest, streaming and a WHEP
// endpoint, as the real server composes them.
type server struct {
	logger  *slog.Logger
	reg     *streaming.Registry
	streams []*streaming.Stream
	cams    *ingest.CameraSet
	rtc     *streaming.WebRTCServer
	http    *http.Server
	ln      net.Listener
	served  chan struct{} // closed when http.Serve returned
	ingest  *ingestLatency
}

// startServer pulls the cameras (window → RTSP URL) over TCP into streams
// and serves them over WHEP at the returned server's whepURL.
func startServer(urls map[string]string, maxViewers int, unbatched bool, logger *slog.Logger) (*server, error) {
	s := &server{logger: logger, reg: &streaming.Registry{}, ingest: &ingestLatency{}, served: make(chan struct{})}
	ids := make([]string, 0, len(urls))
	for id := range urls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	sinks := make(map[string]ingest.VideoSink, len(ids))
	specs := make([]ingest.CameraSpec, 0, len(ids))
	for _, id := range ids {
		st := streaming.NewStream(id, media.Track{Codec: media.H264, ClockRate: media.ClockRate}, logger)
		s.reg.Add(st)
		s.streams = append(s.streams, st)
		sinks[id] = stampedSink{Stream: st, lat: s.ingest}
		specs = append(specs, ingest.CameraSpec{ID: id, URL: urls[id], Transport: ingest.TransportTCP})
	}
	s.cams = &ingest.CameraSet{
		Cameras: specs,
		Sink:    func(id string) ingest.VideoSink { return sinks[id] },
		Logger:  logger,
	}
	if err := s.cams.Initialize(); err != nil {
		s.close()
		return nil, err
	}

	// Loopback only: the viewers are on this machine.
	s.rtc = &streaming.WebRTCServer{
		UDPPort:             0,
		Interfaces:          loopbackInterfaces(),
		MaxViewersPerStream: max(maxViewers, 1),
		UnbatchedSends:      unbatched,
		Streams:             s.reg,
		Logger:              logger,
	}
	if err := s.rtc.Initialize(); err != nil {
		s.rtc = nil
		s.close()
		return nil, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.close()
		return nil, fmt.Errorf("whep: listen: %w", err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: whepHandler(s.rtc), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// whepURL is the endpoint's base: a window's is whepURL/<window>.
func (s *server) whepURL() string { return "http://" + s.ln.Addr().String() + "/whep" }

// waitVideo waits until every stream has a GOP cached: a viewer that
// joins then starts at once.
func (s *server) waitVideo(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, st := range s.streams {
		for st.Ready() != nil || st.Stats().GOPFrames == 0 {
			if time.Now().After(deadline) {
				cam, _ := s.cams.State(st.ID())
				return fmt.Errorf("window %s: no video after %s (camera %s: %s)", st.ID(), timeout, cam.State, cam.LastError)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// drops returns the frames the streams' readers dropped.
func (s *server) drops() uint64 {
	var n uint64
	for _, st := range s.streams {
		n += st.Stats().Drops
	}
	return n
}

func (s *server) close() {
	if s.http != nil {
		_ = s.http.Close()
		<-s.served
	}
	if s.rtc != nil {
		s.rtc.Close()
	}
	if s.cams != nil {
		s.cams.Close()
	}
	for _, st := range s.streams {
		st.Close()
	}
}

// whepHandler is a minimal WHEP endpoint (RFC 9725): POST /whep/<window>
// with the SDP offer answers 201 with the SDP answer and the session's
// URL in Location; DELETE on that URL ends the session. The console's
// endpoint wraps the same two calls in routing, auth and auditing: the
// media path measured here is the same.
func whepHandler(rtc *streaming.WebRTCServer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whep/{window}", func(w http.ResponseWriter, r *http.Request) {
		offer, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferBytes))
		if err != nil {
			http.Error(w, "offer: "+err.Error(), http.StatusBadRequest)
			return
		}
		window := r.PathValue("window")
		id, answer, err := rtc.NewSession(r.Context(), window, string(offer))
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Location", "/whep/"+window+"/"+id)
		w.Header().Set("Content-Type", "application/sdp")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, answer)
	})
	mux.HandleFunc("DELETE /whep/{window}/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := rtc.CloseSession(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// writeError maps an error's kind to its status.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, apperr.Invalid):
		status = http.StatusBadRequest
	case errors.Is(err, apperr.NotFound):
		status = http.StatusNotFound
	case errors.Is(err, apperr.Conflict):
		status = http.StatusConflict
	case errors.Is(err, apperr.Unavailable):
		status = http.StatusServiceUnavailable
	}
	http.Error(w, err.Error(), status)
}

// stampedSink passes a camera's video to its stream and, while the
// measurement runs, notes how long each frame took from the camera to the
// stream (RTSP over loopback and ingest), from its send-time SEI.
type stampedSink struct {
	*streaming.Stream
	lat *ingestLatency
}

func (s stampedSink) WriteVideo(u *media.Unit) {
	if s.lat.on.Load() {
		now := time.Now()
		for _, nalu := range u.AU {
			if len(nalu) > 0 && nalu[0]&0x1f == whepclient.NALSEI {
				if t, ok := simulator.ParseSendTimeSEI(nalu); ok {
					s.lat.observe(now.Sub(t))
					break
				}
			}
		}
	}
	s.Stream.WriteVideo(u)
}

// ingestLatency collects the camera-to-stream latencies.
type ingestLatency struct {
	on atomic.Bool
	mu sync.Mutex
	d  []float64 // ms; guarded by mu
}

func (l *ingestLatency) observe(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, ms(d))
	l.mu.Unlock()
}

func (l *ingestLatency) quantiles() quantiles {
	l.mu.Lock()
	defer l.mu.Unlock()
	return quantilesOf(l.d)
}
