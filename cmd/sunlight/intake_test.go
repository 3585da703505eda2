package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
	"github.com/sunlight-gov/sunlight/ingest"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/simulator"
)

// intakeHall is serve over a ClickHouse of the test's own, which the test
// stops and starts to play an outage.
type intakeHall struct {
	cfgPath, url string
	ch           *analytics.ManagedServer
	chDir        string
	chTCP, chWeb int
	events       []ingest.Event
}

func startIntakeHall(t *testing.T) *intakeHall {
	t.Helper()
	chtest.RequireInstalled(t)
	dir := t.TempDir()
	h := &intakeHall{chDir: t.TempDir(), chTCP: freePort(t), chWeb: freePort(t)}
	h.startClickHouse(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	h.url = "http://" + listen
	h.cfgPath = writeConfig(t, dir, listen, freePort(t), freePort(t), freePort(t))
	data, err := os.ReadFile(h.cfgPath)
	require.NoError(t, err)
	data = []byte(strings.Replace(string(data), "  addr: []", fmt.Sprintf("  addr: [\"127.0.0.1:%d\"]", h.chTCP), 1))
	require.NoError(t, os.WriteFile(h.cfgPath, data, 0o644))
	cfg, err := config.Load(h.cfgPath)
	require.NoError(t, err)
	// Realistic, valid events with unique ids: the simulated hall's history.
	now := time.Now()
	h.events = (&simulator.Timeline{Config: cfg, Seed: 7}).Events(now.AddDate(0, 0, -40), now.Add(-time.Hour))
	return h
}

func (h *intakeHall) startClickHouse(t *testing.T) {
	t.Helper()
	h.ch = &analytics.ManagedServer{Dir: h.chDir, TCPPort: h.chTCP, HTTPPort: h.chWeb, StartTimeout: 60 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	require.NoError(t, h.ch.Start(ctx))
	ch := h.ch
	t.Cleanup(func() { _ = ch.Close() })
}

func (h *intakeHall) stopClickHouse(t *testing.T) {
	t.Helper()
	require.NoError(t, h.ch.Close())
}

// post sends evs in batches of 100 and requires a 202 for each.
func (h *intakeHall) post(t *testing.T, evs []ingest.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += 100 {
		body, err := json.Marshal(evs[i:min(i+100, len(evs))])
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, h.url+"/api/v1/events", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-API-Key", "demo-queue-key")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var out struct {
			Accepted, Rejected int
			Error              string
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, "batch at %d: %s", i, out.Error)
		require.Equal(t, 0, out.Rejected, "batch at %d", i)
	}
}

// stored returns the events rows and distinct event ids in ClickHouse.
func (h *intakeHall) stored(t *testing.T) (rows, ids uint64) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{fmt.Sprintf("127.0.0.1:%d", h.chTCP)}, Protocol: clickhouse.Native})
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM sunlight.events").Scan(&rows, &ids))
	return rows, ids
}

func (h *intakeHall) waitStored(t *testing.T, want uint64) {
	t.Helper()
	var rows, ids uint64
	require.Eventually(t, func() bool {
		rows, ids = h.stored(t)
		return rows >= want
	}, 90*time.Second, 200*time.Millisecond, "events in ClickHouse: want %d", want)
	rows, ids = h.stored(t)
	require.Equal(t, want, rows, "every accepted event stored once")
	require.Equal(t, want, ids)
}

// TestIntakeOutageAndKill9 plays the acceptance scenario of the hardened
// intake: with ClickHouse stopped, 10,000 events are accepted (202) and all
// arrive once it is back, none twice; accepted events survive a kill -9 of
// the server; re-sending everything three times changes no count.
func TestIntakeOutageAndKill9(t *testing.T) {
	h := startIntakeHall(t)
	require.Greater(t, len(h.events), 12_000, "the simulated history is large enough")
	outage, killed := h.events[:10_000], h.events[10_000:12_000]

	serve := startSunlight(t, "serve", "--config", h.cfgPath)
	waitHealthy(t, h.url, serve, 90*time.Second)

	// Outage: ClickHouse stops, the events are still accepted.
	h.stopClickHouse(t)
	h.post(t, outage)
	h.startClickHouse(t)
	h.waitStored(t, 10_000)

	// kill -9 after the 202s, while ClickHouse is down (so nothing was
	// stored yet); a new server delivers them.
	h.stopClickHouse(t)
	h.post(t, killed)
	require.NoError(t, serve.Process.Kill())
	_, _ = serve.Process.Wait()
	h.startClickHouse(t)
	serve = startSunlight(t, "serve", "--config", h.cfgPath)
	waitHealthy(t, h.url, serve, 90*time.Second)
	h.waitStored(t, 12_000)

	// Idempotency: the same batches three times more, then one new event:
	// the spool is drained in order, so once that one is stored the
	// re-sent ones have been through the writer.
	for range 3 {
		h.post(t, h.events[:12_000])
	}
	h.post(t, h.events[12_000:12_001])
	h.waitStored(t, 12_001)
}
