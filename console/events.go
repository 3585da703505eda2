package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/apperr"
)

// eventResult is one event's outcome in a POST /api/v1/events response.
type eventResult struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id,omitempty"`
	Status  string `json:"status"` // accepted | rejected
	Error   string `json:"error,omitempty"`
}

// handleEvents takes a batch of queue and case events. Valid events are
// stored (a re-sent event id is accepted and stored once); invalid ones are
// rejected each with its own message, and do not stop the others.
func (s *Server) handleEvents(c *gin.Context) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.MaxEventBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c, s.log, apperr.New(apperr.TooLarge, "body larger than %d bytes: split the batch", s.MaxEventBody))
			return
		}
		writeError(c, s.log, apperr.New(apperr.Invalid, "read body: %v", err))
		return
	}
	items, err := ingest.DecodeBatch(body)
	if err != nil {
		writeError(c, s.log, apperr.New(apperr.Invalid, "%v", err))
		return
	}
	now := s.Now()
	results := make([]eventResult, len(items))
	valid := make([]ingest.Event, 0, len(items))
	rejected := 0
	for i, it := range items {
		err := it.Err
		if err == nil {
			err = ingest.Validate(it.Event, s.catalog, now)
		}
		results[i] = eventResult{Index: it.Index, EventID: it.Event.EventID, Status: "accepted"}
		if err != nil {
			results[i].Status, results[i].Error = "rejected", err.Error()
			rejected++
			continue
		}
		valid = append(valid, it.Event)
	}
	inserted := 0
	if len(valid) > 0 {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
		defer cancel()
		inserted, err = s.Store.InsertEvents(ctx, valid)
		if err != nil {
			writeError(c, s.log, apperr.New(apperr.Unavailable, "event store unavailable, nothing of this batch was stored: retry later"))
			s.log.Warn("insert events", "err", err)
			return
		}
	}
	s.metrics.events.WithLabelValues("inserted").Add(float64(inserted))
	s.metrics.events.WithLabelValues("duplicate").Add(float64(len(valid) - inserted))
	s.metrics.events.WithLabelValues("rejected").Add(float64(rejected))
	resp := gin.H{"accepted": len(valid), "inserted": inserted, "duplicates": len(valid) - inserted, "rejected": rejected, "results": results}
	if len(valid) == 0 {
		resp["error"] = "every event was rejected: " + results[0].Error
		c.JSON(http.StatusBadRequest, resp)
		return
	}
	c.JSON(http.StatusAccepted, resp)
}
