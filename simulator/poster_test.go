package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// testEventsServer answers POST /api/v1/events with the statuses of
// answer, one per request (the last one repeats), and records what it got.
type testEventsServer struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(n int, events []ingest.Event) (int, any)

	mu      sync.Mutex // guards the fields below
	keys    []string
	batches [][]ingest.Event
}

func newTestEventsServer(t *testing.T, answer func(n int, events []ingest.Event) (int, any)) *testEventsServer {
	s := &testEventsServer{t: t, answer: answer}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var evs []ingest.Event
		if err := json.Unmarshal(body, &evs); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"not a JSON array"}`))
			return
		}
		s.mu.Lock()
		n := len(s.batches)
		s.keys = append(s.keys, r.Header.Get("X-API-Key"))
		s.batches = append(s.batches, evs)
		s.mu.Unlock()
		status, reply := s.answer(n, evs)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(reply)
	}))
	t.Cleanup(func() {
		s.srv.Client().CloseIdleConnections()
		s.srv.Close()
	})
	return s
}

func (s *testEventsServer) poster() *Poster {
	return &Poster{URL: s.srv.URL + "/api/v1/events", APIKey: "demo-queue-key", Client: s.srv.Client(),
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
}

func (s *testEventsServer) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.batches)
}

func accepted(events []ingest.Event) map[string]any {
	results := make([]map[string]any, len(events))
	for i, ev := range events {
		results[i] = map[string]any{"index": i, "event_id": ev.EventID, "status": "accepted"}
	}
	return map[string]any{"accepted": len(events), "inserted": len(events), "rejected": 0, "results": results}
}

// testEventsOnce generates two busy hours of the example config once.
var testEventsOnce = sync.OnceValue(func() []ingest.Event {
	cfg, err := config.Load("../deploy/sunlight.example.yaml")
	if err != nil {
		return nil
	}
	from := time.Date(2026, 11, 25, 9, 0, 0, 0, cfg.Location())
	return (&Timeline{Config: cfg, Seed: 1}).Events(from, from.Add(2*time.Hour))
})

// testEvents returns n generated events (a copy: tests may change them).
func testEvents(t *testing.T, n int) []ingest.Event {
	evs := testEventsOnce()
	require.GreaterOrEqual(t, len(evs), n)
	return append([]ingest.Event(nil), evs[:n]...)
}

func TestPosterRetry(t *testing.T) {
	srv := newTestEventsServer(t, func(n int, evs []ingest.Event) (int, any) {
		if n < 2 {
			return http.StatusServiceUnavailable, map[string]string{"error": "event store unavailable, nothing of this batch was stored: retry later"}
		}
		return http.StatusAccepted, accepted(evs)
	})
	evs := testEvents(t, 20)
	require.NoError(t, srv.poster().Post(context.Background(), evs))
	require.Equal(t, 3, srv.requests(), "two 503s, then a 202")
	for i, key := range srv.keys {
		require.Equal(t, "demo-queue-key", key, "request %d", i)
	}
	got := srv.batches[2]
	require.Len(t, got, len(evs))
	for i := range evs {
		require.Equal(t, evs[i].EventID, got[i].EventID)
		require.True(t, evs[i].TS.Equal(got[i].TS))
		require.Equal(t, evs[i].Type, got[i].Type)
	}
}

func TestPosterClientError(t *testing.T) {
	srv := newTestEventsServer(t, func(int, []ingest.Event) (int, any) {
		return http.StatusBadRequest, map[string]any{"error": "every event was rejected: ts: 2030-01-01T00:00:00Z is in the future", "rejected": 3}
	})
	err := srv.poster().Post(context.Background(), testEvents(t, 3))
	var pe *PostError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, http.StatusBadRequest, pe.StatusCode)
	require.Contains(t, err.Error(), "is in the future")
	require.Equal(t, 1, srv.requests(), "a 4xx is not retried")
}

func TestPosterUnauthorizedPlainText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "invalid API key", http.StatusUnauthorized)
	}))
	t.Cleanup(func() { srv.Client().CloseIdleConnections(); srv.Close() })
	p := &Poster{URL: srv.URL, APIKey: "wrong", Client: srv.Client()}
	err := p.Post(context.Background(), testEvents(t, 1))
	var pe *PostError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, http.StatusUnauthorized, pe.StatusCode)
	require.Equal(t, "invalid API key", pe.Message)
}

func TestPosterLogsRejected(t *testing.T) {
	evs := testEvents(t, 4)
	srv := newTestEventsServer(t, func(_ int, evs []ingest.Event) (int, any) {
		reply := accepted(evs)
		res := reply["results"].([]map[string]any)
		res[1]["status"], res[1]["error"] = "rejected", "window: unknown window \"Z99\""
		reply["rejected"], reply["accepted"] = 1, len(evs)-1
		return http.StatusAccepted, reply
	})
	var logs bytes.Buffer
	p := srv.poster()
	p.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	require.NoError(t, p.Post(context.Background(), evs))
	require.Contains(t, logs.String(), "event rejected by the server")
	require.Contains(t, logs.String(), evs[1].EventID)
	require.Contains(t, logs.String(), "Z99")
}

func TestPosterBatches(t *testing.T) {
	t.Run("max-batch", func(t *testing.T) {
		srv := newTestEventsServer(t, func(_ int, evs []ingest.Event) (int, any) { return http.StatusAccepted, accepted(evs) })
		p := srv.poster()
		p.MaxBatch = 2
		require.NoError(t, p.Post(context.Background(), testEvents(t, 5)))
		require.Equal(t, 3, srv.requests())
	})
	t.Run("too-large-splits", func(t *testing.T) {
		srv := newTestEventsServer(t, func(_ int, evs []ingest.Event) (int, any) {
			if len(evs) > 2 {
				return http.StatusRequestEntityTooLarge, map[string]string{"error": "body larger than 1000 bytes: split the batch"}
			}
			return http.StatusAccepted, accepted(evs)
		})
		evs := testEvents(t, 5)
		require.NoError(t, srv.poster().Post(context.Background(), evs))
		var ids []string
		for _, b := range srv.batches {
			if len(b) <= 2 {
				for _, ev := range b {
					ids = append(ids, ev.EventID)
				}
			}
		}
		require.Len(t, ids, 5)
		for i, ev := range evs {
			require.Equal(t, ev.EventID, ids[i])
		}
	})
	t.Run("empty", func(t *testing.T) {
		srv := newTestEventsServer(t, func(_ int, evs []ingest.Event) (int, any) { return http.StatusAccepted, accepted(evs) })
		require.NoError(t, srv.poster().Post(context.Background(), nil))
		require.Zero(t, srv.requests())
	})
}

func TestPosterContext(t *testing.T) {
	t.Run("server-down", func(t *testing.T) {
		srv := newTestEventsServer(t, func(int, []ingest.Event) (int, any) {
			return http.StatusServiceUnavailable, map[string]string{"error": "unavailable"}
		})
		evs := testEvents(t, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		err := srv.poster().Post(ctx, evs)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Greater(t, srv.requests(), 1, "it retried until the deadline")
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		evs := testEvents(t, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		p := &Poster{URL: url, MinBackoff: time.Millisecond}
		err := p.Post(ctx, evs)
		require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
	})
}
