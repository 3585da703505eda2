package ingestbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Client posts event batches to the events endpoint as a producer does.
type Client struct {
	// URL is the events endpoint; APIKey goes in X-API-Key.
	URL    string
	APIKey string
	// HTTP sends the requests. Default: NewHTTPClient().
	HTTP *http.Client
	// MaxRetries bounds the re-sends of a batch answered 429 or 503 (the
	// server asking to come back later, which a spool that is full may
	// do). Re-sending is safe: event ids make it a no-op. Default 20.
	MaxRetries int

	retries atomic.Int64
}

// NewHTTPClient returns a client whose connection pool keeps enough idle
// keep-alive connections for hundreds of requests in flight.
func NewHTTPClient() *http.Client {
	return &http.Client{
		Timeout: 5 * time.Minute, // an overloaded server is measured, not failed
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// reply is what the client reads of a 202: the contract's per-event
// results.
type reply struct {
	Error   string `json:"error"`
	Results []struct {
		Index   int    `json:"index"`
		EventID string `json:"event_id"`
		Status  string `json:"status"`
		Error   string `json:"error"`
	} `json:"results"`
}

// Post sends one body of n events and returns nil once it was answered 202
// with n results, each accepted.
func (c *Client) Post(ctx context.Context, body []byte, n int) error {
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	backoff := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		status, data, err := c.send(ctx, client, body)
		if err != nil {
			return err
		}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			if attempt >= c.maxRetries() {
				return fmt.Errorf("post %d events: still %d after %d retries: %s", n, status, attempt, snippet(data))
			}
			c.retries.Add(1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		return checkReply(status, data, n)
	}
}

// Retries returns the re-sends so far.
func (c *Client) Retries() int64 { return c.retries.Load() }

func (c *Client) maxRetries() int {
	if c.MaxRetries <= 0 {
		return 20
	}
	return c.MaxRetries
}

func (c *Client) send(ctx context.Context, client *http.Client, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("post: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", c.APIKey)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("post: read reply: %w", err)
	}
	return resp.StatusCode, data, nil
}

func checkReply(status int, data []byte, n int) error {
	var r reply
	jerr := json.Unmarshal(data, &r)
	if status != http.StatusAccepted {
		return fmt.Errorf("post %d events: status %d, want 202: %s", n, status, snippet(data))
	}
	if jerr != nil {
		return fmt.Errorf("post %d events: 202 with a reply that is not JSON: %w", n, jerr)
	}
	if len(r.Results) != n {
		return fmt.Errorf("post %d events: 202 with %d results", n, len(r.Results))
	}
	for _, res := range r.Results {
		if res.Status != "accepted" {
			return fmt.Errorf("post %d events: event %d (%s) %s: %s", n, res.Index, res.EventID, res.Status, res.Error)
		}
	}
	return nil
}

func snippet(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// ClosedLoop posts every body of w with c concurrent clients, each sending
// its next batch as soon as the previous one was answered. It returns the
// time until the last answer, or the first error (which stops the others).
func ClosedLoop(ctx context.Context, cl *Client, w *Workload, c int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range max(c, 1) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(w.Bodies) || ctx.Err() != nil {
					return
				}
				if err := cl.Post(ctx, w.Bodies[i], w.Sizes[i]); err != nil {
					cancel(fmt.Errorf("batch %d: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return elapsed, err
	}
	return elapsed, nil
}

// OpenLoopResult is what OpenLoop measured.
type OpenLoopResult struct {
	// Latencies[i] is the time from body i's scheduled send time to its
	// answer: a request sent late because the sender fell behind counts
	// its delay, so queueing is not hidden (coordinated omission).
	Latencies []time.Duration
	// Late is how many requests were sent more than 5 ms after their
	// scheduled time (the load generator, not the server, fell behind).
	Late int
	// Elapsed is from the first scheduled send to the last answer.
	Elapsed time.Duration
}

// OpenLoop sends body i of w at start + i×interval, whether or not the
// earlier ones were answered (each request has its own goroutine), and
// waits for every answer. The first error is returned after all requests
// ended.
func OpenLoop(ctx context.Context, cl *Client, w *Workload, interval time.Duration) (OpenLoopResult, error) {
	res := OpenLoopResult{Latencies: make([]time.Duration, len(w.Bodies))}
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now().Add(20 * time.Millisecond)
	for i, body := range w.Bodies {
		sched := start.Add(time.Duration(i) * interval)
		if d := time.Until(sched); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			break
		}
		if time.Since(sched) > 5*time.Millisecond {
			res.Late++
		}
		wg.Go(func() {
			err := cl.Post(ctx, body, w.Sizes[i])
			res.Latencies[i] = time.Since(sched)
			if err != nil {
				errOnce.Do(func() { firstErr = fmt.Errorf("batch %d: %w", i, err) })
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}
