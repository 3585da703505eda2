package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/sunlight-gov/sunlight/ingest"
)

// PostError is the events endpoint's refusal of a batch (a 4xx other than
// 429): retrying the same batch would not help.
type PostError struct {
	// StatusCode is the HTTP status, e.g. 400 or 401.
	StatusCode int
	// Message is the server's {"error": "..."} text (or the start of its
	// body when it is not JSON).
	Message string
}

func (e *PostError) Error() string {
	return fmt.Sprintf("events endpoint answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// Poster sends events to the events API (POST /api/v1/events) as JSON
// arrays. It retries with capped exponential backoff on network errors,
// 429 and 5xx, for as long as the context allows: re-sending is safe
// because event ids make it a no-op. It is safe for concurrent use.
type Poster struct {
	// URL is the events endpoint, e.g. http://127.0.0.1:8080/api/v1/events.
	URL string
	// APIKey is sent in the X-API-Key header.
	APIKey string
	// Client sends the requests. Default: a client with a 30 s timeout.
	Client *http.Client
	// Logger receives retries and per-event rejections. Default: discard.
	Logger *slog.Logger
	// MaxBatch bounds the events of one request; Post splits longer
	// slices. Default 2000 (well under the server's 8 MiB body limit).
	MaxBatch int
	// MinBackoff is the first retry's delay, doubled per attempt up to
	// MaxBackoff, with ±20% jitter. Defaults 250 ms and 30 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
}

// defaultPostClient is shared by Posters without a Client.
var defaultPostClient = &http.Client{Timeout: 30 * time.Second}

// postReply is the part of the server's answer that Post reads.
type postReply struct {
	Error    string `json:"error"`
	Accepted int    `json:"accepted"`
	Rejected int    `json:"rejected"`
	Results  []struct {
		Index   int    `json:"index"`
		EventID string `json:"event_id"`
		Status  string `json:"status"`
		Error   string `json:"error"`
	} `json:"results"`
}

// Post sends events, in requests of at most MaxBatch events. It returns
// nil once every request was answered with a 2xx (events the server
// rejected one by one in a 202 are logged, not returned), a *PostError
// when the server refused a request, or the context's error.
func (p *Poster) Post(ctx context.Context, events []ingest.Event) error {
	size := p.MaxBatch
	if size <= 0 {
		size = 2000
	}
	for len(events) > 0 {
		n := min(size, len(events))
		if err := p.postBatch(ctx, events[:n]); err != nil {
			return err
		}
		events = events[n:]
	}
	return nil
}

func (p *Poster) logger() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger.With("component", "simulator.poster")
}

// postBatch sends one request, retrying while the failure is temporary.
// A 413 splits the batch in two.
func (p *Poster) postBatch(ctx context.Context, events []ingest.Event) error {
	body, err := json.Marshal(events)
	if err != nil {
		return fmt.Errorf("encode events: %w", err)
	}
	log := p.logger()
	backoff := p.MinBackoff
	if backoff <= 0 {
		backoff = 250 * time.Millisecond
	}
	maxBackoff := p.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 30 * time.Second
	}
	for attempt := 1; ; attempt++ {
		status, reply, err := p.send(ctx, body)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("post %d events: %w", len(events), ctx.Err())
		case err != nil:
			log.Warn("events endpoint unreachable, retrying", "attempt", attempt, "retry_in", backoff, "err", err)
		case status >= 200 && status < 300:
			p.logRejected(log, events, reply)
			return nil
		case status == http.StatusRequestEntityTooLarge && len(events) > 1:
			half := len(events) / 2
			if err := p.postBatch(ctx, events[:half]); err != nil {
				return err
			}
			return p.postBatch(ctx, events[half:])
		case status == http.StatusTooManyRequests || status >= 500:
			log.Warn("events endpoint busy, retrying", "attempt", attempt, "status", status, "error", reply.Error, "retry_in", backoff)
		default:
			return &PostError{StatusCode: status, Message: reply.Error}
		}
		jittered := time.Duration(float64(backoff) * (0.8 + 0.4*rand.Float64()))
		t := time.NewTimer(jittered)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("post %d events: %w", len(events), ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// send makes one request. A non-nil error means no answer was read.
func (p *Poster) send(ctx context.Context, body []byte) (int, postReply, error) {
	var reply postReply
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, bytes.NewReader(body))
	if err != nil {
		return 0, reply, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.APIKey)
	client := p.Client
	if client == nil {
		client = defaultPostClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, reply, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, reply, fmt.Errorf("read answer: %w", err)
	}
	if json.Unmarshal(data, &reply) != nil || (reply.Error == "" && resp.StatusCode >= 300) {
		msg := strings.TrimSpace(string(data))
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		if msg == "" {
			msg = resp.Status
		}
		reply.Error = msg
	}
	return resp.StatusCode, reply, nil
}

// logRejected logs the events the server rejected one by one (which
// generated events should never be): the first few in full, then a count.
func (p *Poster) logRejected(log *slog.Logger, events []ingest.Event, reply postReply) {
	const show = 5
	shown := 0
	for _, r := range reply.Results {
		if r.Status != "rejected" {
			continue
		}
		if shown < show {
			typ := ingest.EventType("")
			if r.Index >= 0 && r.Index < len(events) {
				typ = events[r.Index].Type
			}
			log.Error("event rejected by the server", "event_id", r.EventID, "type", typ, "error", r.Error)
		}
		shown++
	}
	if reply.Rejected > shown {
		shown = reply.Rejected
	}
	if shown > show {
		log.Error("more events rejected by the server", "rejected", shown, "batch", len(events))
	}
}
