package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/ident"
)

// eventResult is one event's outcome in a POST /api/v1/events response.
type eventResult struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id,omitempty"`
	Status  string `json:"status"` // accepted | rejected
	Error   string `json:"error,omitempty"`
}

// eventIntake makes accepted events durable (the spool) and hands them on
// to live supervision; see ingest.Intake.
type eventIntake interface {
	Accept(ctx context.Context, evs []ingest.Event) error
}

// handleEvents takes a batch of queue and case events. Valid events are
// acknowledged (202) once they are durable in the intake's spool; invalid
// ones are rejected each with its own message, and do not stop the others.
// A re-sent event id is accepted again and stored once: the writer that
// drains the spool dedupes by event id.
func (s *Server) handleEvents(c *gin.Context) {
	if s.Intake == nil {
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "event intake is not running"))
		return
	}
	bp := eventBodies.Get().(*[]byte)
	defer eventBodies.Put(bp)
	body, err := readBody(c.Request, c.Writer, s.MaxEventBody, (*bp)[:0])
	*bp = body[:0]
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c, s.log, apperr.BodyTooLarge.New(apperr.P{"max_bytes": s.MaxEventBody}, "body larger than %d bytes: split the batch", s.MaxEventBody))
			return
		}
		writeError(c, s.log, apperr.BadBody.New(nil, "the body could not be read"))
		return
	}
	items, err := ingest.DecodeBatch(body)
	if err != nil {
		writeError(c, s.log, apperr.BadBody.New(nil, "%v", err))
		return
	}
	now := s.Now()
	lim := ingest.Limits{
		MaxAge:   time.Duration(s.Config.Intake.MaxEventAgeDays) * 24 * time.Hour,
		MaxAhead: time.Duration(s.Config.Intake.MaxEventAheadMinutes) * time.Minute,
	}
	results := make([]eventResult, len(items))
	valid := make([]ingest.Event, 0, len(items))
	rejected := 0
	for i, it := range items {
		err := it.Err
		if err == nil {
			err = ingest.ValidateWithin(it.Event, s.catalog, now, lim)
		}
		if err == nil {
			err = s.keyScope(caller(c), it.Event.Hall)
		}
		results[i] = eventResult{Index: it.Index, EventID: it.Event.EventID, Status: "accepted"}
		if !ident.Valid(it.Event.EventID) {
			results[i].EventID = "" // not echoed: it may be huge or unprintable
		}
		if err != nil {
			results[i].Status, results[i].Error = "rejected", err.Error()
			rejected++
			continue
		}
		valid = append(valid, it.Event)
	}
	s.metrics.events.WithLabelValues("rejected").Add(float64(rejected))
	if len(valid) == 0 {
		c.JSON(http.StatusBadRequest, gin.H{"error": "every event was rejected: " + results[0].Error,
			"accepted": 0, "rejected": rejected, "results": results})
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
	defer cancel()
	if err := s.Intake.Accept(ctx, valid); err != nil {
		if errors.Is(err, ingest.ErrIntakeFull) {
			writeError(c, s.log, apperr.IntakeFull.New(nil, "%v: nothing of this batch was kept, retry later", err))
			return
		}
		writeError(c, s.log, apperr.ServiceUnavailable.New(nil, "event intake unavailable, nothing of this batch was kept: retry later"))
		s.log.Error("accept events", "err", err)
		return
	}
	s.metrics.events.WithLabelValues("accepted").Add(float64(len(valid)))
	ab := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(ab)
	*ab = appendEventsAnswer((*ab)[:0], len(valid), rejected, results)
	c.Data(http.StatusAccepted, "application/json; charset=utf-8", *ab)
}

// answerBufs holds buffers for the 202 answers.
var answerBufs = sync.Pool{New: func() any { return new([]byte) }}

// appendEventsAnswer appends the 202 answer, the bytes encoding/json makes
// of {"accepted", "rejected", "results"} (TestEventsAnswerEncoding), by
// hand: a result per event made encoding/json's reflection 4 % of the
// intake's CPU in make bench.
func appendEventsAnswer(buf []byte, accepted, rejected int, results []eventResult) []byte {
	buf = append(buf, `{"accepted":`...)
	buf = strconv.AppendInt(buf, int64(accepted), 10)
	buf = append(buf, `,"rejected":`...)
	buf = strconv.AppendInt(buf, int64(rejected), 10)
	buf = append(buf, `,"results":[`...)
	for i, r := range results {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"index":`...)
		buf = strconv.AppendInt(buf, int64(r.Index), 10)
		if r.EventID != "" {
			buf = append(buf, `,"event_id":`...)
			buf = appendJSONString(buf, r.EventID)
		}
		buf = append(buf, `,"status":`...)
		buf = appendJSONString(buf, r.Status)
		if r.Error != "" {
			buf = append(buf, `,"error":`...)
			buf = appendJSONString(buf, r.Error)
		}
		buf = append(buf, '}')
	}
	return append(buf, "]}"...)
}

// appendJSONString appends s as encoding/json writes it: plain ASCII as it
// is, anything it would escape (quotes, controls, <>&, non-ASCII) by
// encoding/json itself.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

// eventBodies holds request body buffers: the decoded events copy what
// they keep, so a body's buffer serves the next request.
var eventBodies = sync.Pool{New: func() any { return new([]byte) }}

// readBody reads r's body, of at most limit bytes, into buf (grown to the
// Content-Length at once rather than doubling from 512 bytes, as io.ReadAll
// does: its copies were 4 % of the intake's CPU in make bench).
func readBody(r *http.Request, w http.ResponseWriter, limit int64, buf []byte) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= limit {
		buf = slices.Grow(buf, int(n)+1)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 32<<10)
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// keyScope refuses an event of a hall outside its API key's scope.
func (s *Server) keyScope(p principal, hall string) error {
	if p.scope.has(hall) {
		return nil
	}
	return fmt.Errorf("hall %q is outside the scope of API key %q", hall, p.name)
}
