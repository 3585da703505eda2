package console

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sseEvent is one server-sent event as a client reads it.
type sseEvent struct{ event, data string }

// readSSE opens an event stream as a signed-in user and hands its events
// out on the channel, which closes when the stream ends.
func (ts *testServer) readSSE(t *testing.T, token, path string) <-chan sseEvent {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/event-stream; charset=utf-8", resp.Header.Get("Content-Type"))
	events := make(chan sseEvent, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				events <- sseEvent{ev, strings.TrimPrefix(line, "data: ")}
			}
		}
	}()
	return events
}

// TestStreamsPerUser: one user may hold MaxStreamsPerUser event streams
// (alerts and windows together); past it 429, another user is not
// affected, and a closed stream frees its place.
func TestStreamsPerUser(t *testing.T) {
	ts := newTestServer(t)
	inspector, manager := ts.login(t, RoleInspector), ts.login(t, RoleManager)
	open := func(token, path string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, ts.url+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	var held []*http.Response
	for i := range ts.MaxStreamsPerUser {
		path := "/api/v1/alerts/stream"
		if i%2 == 1 {
			path = "/api/v1/windows/stream"
		}
		resp := open(inspector, path)
		require.Equal(t, http.StatusOK, resp.StatusCode, i)
		held = append(held, resp)
	}
	resp := open(inspector, "/api/v1/alerts/stream")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), `"code":"stream_user_limit"`)
	require.Equal(t, http.StatusOK, open(manager, "/api/v1/alerts/stream").StatusCode, "another user is not limited")

	held[0].Body.Close()
	require.Eventually(t, func() bool {
		resp := open(inspector, "/api/v1/windows/stream?snapshot=1")
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 20*time.Millisecond, "a closed stream frees its place")
}
