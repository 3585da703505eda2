package console

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics/supervision"
	"github.com/sunlight-gov/sunlight/ingest"
)

// TestWindowStream: the live wall's stream starts with every window as
// GET /api/v1/windows gives it, then pushes a window whose queue state
// changed (the supervision engine's tracker, fed real events), and
// nothing while nothing changes.
func TestWindowStream(t *testing.T) {
	ts := newTestServer(t)
	engine := supervision.NewEngine(ts.Config, supervision.Rules{})
	ts.Supervision = engine
	token := ts.login(t, RoleInspector)

	events := ts.readSSE(t, token, "/api/v1/windows/stream")
	type message struct {
		Snapshot bool         `json:"snapshot"`
		Windows  []windowView `json:"windows"`
	}
	msgs := make(chan message, 16)
	go func() {
		defer close(msgs)
		for e := range events {
			var m message
			if e.event == "windows" && json.Unmarshal([]byte(e.data), &m) == nil {
				msgs <- m
			}
		}
	}()
	next := func(within time.Duration) (message, bool) {
		select {
		case m, ok := <-msgs:
			return m, ok
		case <-time.After(within):
			return message{}, false
		}
	}

	first, ok := next(10 * time.Second)
	require.True(t, ok, "no snapshot on the window stream")
	require.True(t, first.Snapshot)
	require.Len(t, first.Windows, 1)
	require.Equal(t, "A01", first.Windows[0].ID)
	require.NotNil(t, first.Windows[0].Queue)
	require.Equal(t, "closed", first.Windows[0].Queue.Status)
	_, ok = next(3 * windowFeedInterval)
	require.False(t, ok, "a window pushed although nothing changed")

	now := time.Now()
	engine.Observe([]ingest.Event{
		{EventID: "ws-1", Type: ingest.WindowOpened, TS: now, Hall: "city-main", Window: "A01"},
		{EventID: "ws-2", Type: ingest.TicketIssued, TS: now, Hall: "city-main", Ticket: "A001", Item: "SC-001"},
	})
	m, ok := next(10 * time.Second)
	require.True(t, ok, "the change was not pushed")
	require.False(t, m.Snapshot)
	require.Len(t, m.Windows, 1)
	q := m.Windows[0].Queue
	require.NotNil(t, q)
	require.Equal(t, "open", q.Status)
	require.Equal(t, 1, q.Length, "the ticket A01 could call")

	// The pushed state is what the list endpoint says.
	status, body, _ := ts.do(t, http.MethodGet, "/api/v1/windows", token, "", nil)
	require.Equal(t, http.StatusOK, status)
	var list struct{ Windows []windowView }
	require.NoError(t, json.Unmarshal(body, &list))
	require.Equal(t, list.Windows, m.Windows)
}

// TestWindowStreamScoped: a district-scoped wall gets the district's
// windows only, in its snapshot and in the pushed changes: a change at the
// city hall's window reaches it not at all, the district's next change
// alone.
func TestWindowStreamScoped(t *testing.T) {
	ts := newScopeTestServer(t)
	engine := supervision.NewEngine(ts.Config, supervision.Rules{})
	ts.Supervision = engine
	token := ts.loginAs(t, "x-inspector", "district-inspector")
	events := ts.readSSE(t, token, "/api/v1/windows/stream")
	next := func() (snapshot bool, ids []string) {
		for {
			select {
			case e, ok := <-events:
				require.True(t, ok, "the stream ended")
				var m struct {
					Snapshot bool         `json:"snapshot"`
					Windows  []windowView `json:"windows"`
				}
				if e.event != "windows" || json.Unmarshal([]byte(e.data), &m) != nil {
					continue
				}
				for _, w := range m.Windows {
					ids = append(ids, w.ID)
				}
				return m.Snapshot, ids
			case <-time.After(10 * time.Second):
				t.Fatal("no windows message within 10 s")
			}
		}
	}
	snapshot, ids := next()
	require.True(t, snapshot)
	require.Equal(t, []string{"X01"}, ids)

	now := time.Now()
	engine.Observe([]ingest.Event{{EventID: "wc-1", Type: ingest.WindowOpened, TS: now, Hall: "city-main", Window: "A01"}})
	time.Sleep(2 * windowFeedInterval) // let the feed push A01's change (to nobody here)
	engine.Observe([]ingest.Event{{EventID: "wc-2", Type: ingest.WindowOpened, TS: now, Hall: "district-xincheng", Window: "X01"}})
	snapshot, ids = next()
	require.False(t, snapshot)
	require.Equal(t, []string{"X01"}, ids, "only the district's change reaches a district wall")
}
