package console

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// defaultStreamsPerUser is MaxStreamsPerUser's default: a console tab
// holds two streams (windows and alerts), so four tabs.
const defaultStreamsPerUser = 8

// streamSlots counts the open event streams of each user.
type streamSlots struct {
	mu sync.Mutex
	n  map[string]int // guarded by mu
}

// openStream takes one of the caller's event-stream places, or answers
// 429 and returns false; the caller must call the returned release.
func (s *Server) openStream(c *gin.Context) (release func(), ok bool) {
	user := caller(c).name
	s.streams.mu.Lock()
	defer s.streams.mu.Unlock()
	if s.streams.n == nil {
		s.streams.n = map[string]int{}
	}
	if n := s.streams.n[user]; n >= s.MaxStreamsPerUser {
		writeError(c, s.log, apperr.StreamUserLimit.New(apperr.P{"max": s.MaxStreamsPerUser},
			"you have %d event streams open, the limit: close a console tab", n))
		return nil, false
	}
	s.streams.n[user]++
	return func() {
		s.streams.mu.Lock()
		defer s.streams.mu.Unlock()
		if s.streams.n[user]--; s.streams.n[user] <= 0 {
			delete(s.streams.n, user)
		}
	}, true
}

// sseHeartbeat keeps proxies from closing an idle stream.
const sseHeartbeat = 15 * time.Second

// openSSE starts a server-sent event stream: its headers, and how long a
// browser waits before it reconnects.
func openSSE(w gin.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n\n")
}

// pumpSSE writes the messages of ch as they come, with a heartbeat, until
// the client goes, the server closes or the hub drops the subscriber
// (gone: it fell too far behind; its browser reconnects).
func (s *Server) pumpSSE(c *gin.Context, ch <-chan sseMessage, gone <-chan struct{}) {
	s.metrics.sseClients.Inc()
	defer s.metrics.sseClients.Dec()
	w := c.Writer
	tick := time.NewTicker(sseHeartbeat)
	defer tick.Stop()
	ctx := c.Request.Context()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-gone:
			return
		case m := <-ch:
			writeSSE(w, m)
			w.Flush()
		case <-tick.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			w.Flush()
		}
	}
}
