package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

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
