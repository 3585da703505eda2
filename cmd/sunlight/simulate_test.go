package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"
)

// TestSimulateHall runs serve and simulate as the demo does: the backfill
// lands in ClickHouse, live events arrive through the events API, and the
// simulated camera answers ffprobe with H.264 of the configured size.
func TestSimulateHall(t *testing.T) {
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (make deps)", bin)
		}
	}
	dir := t.TempDir()
	chPort, httpPort, rtspPort := freePort(t), freePort(t), freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfgPath := writeConfig(t, dir, listen, chPort, httpPort, rtspPort)
	serve := startSunlight(t, "serve", "--config", cfgPath)
	waitHealthy(t, "http://"+listen, serve, 90*time.Second)

	startSunlight(t, "simulate", "--config", cfgPath, "--api-key", "demo-queue-key",
		"--rtsp-listen", fmt.Sprintf("127.0.0.1:%d", rtspPort), "--backfill", "2d", "--always-open", "--speed", "300")

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{fmt.Sprintf("127.0.0.1:%d", chPort)}, Protocol: clickhouse.Native})
	require.NoError(t, err)
	defer conn.Close()
	ctx := context.Background()
	count := func(where string) uint64 {
		var n uint64
		require.NoError(t, conn.QueryRow(ctx, "SELECT count() FROM sunlight.events WHERE "+where).Scan(&n))
		return n
	}

	// The backfill writes history older than the moment simulate started;
	// live events arrive later through the API, fast-forwarded.
	started := time.Now()
	require.Eventually(t, func() bool { return count("ts < toDateTime("+fmt.Sprint(started.Add(-time.Hour).Unix())+")") > 100 },
		2*time.Minute, 500*time.Millisecond, "backfilled history reaches ClickHouse")
	require.Eventually(t, func() bool {
		return count("received_at >= toDateTime("+fmt.Sprint(started.Unix())+") AND ts >= toDateTime("+fmt.Sprint(started.Add(-9*time.Hour).Unix())+")") > 10
	},
		2*time.Minute, 500*time.Millisecond, "live events arrive through the events API")

	// The live run continues the history: the hall went always-open 45
	// minutes before simulate started, the backfill ends there and the live
	// run begins there, so the server's tracker sees every visit whole (no
	// call without its ticket, no service end without its start).
	b, err := os.ReadFile(filepath.Join(dir, "data", "simulator", "always-open-from"))
	require.NoError(t, err)
	since, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.WithinDuration(t, started.Add(-alwaysOpenWarmUp), since, 6*time.Minute)
	sinceSQL := "toDateTime(" + fmt.Sprint(since.Unix()) + ")"
	require.Eventually(t, func() bool {
		return count("type = 'window_opened' AND ts >= "+sinceSQL) == 2 && count("type = 'service_ended' AND ts >= "+sinceSQL) > 0
	}, 2*time.Minute, 500*time.Millisecond, "both windows open when the hall goes always-open, and serve")
	// History is stored as received at its time, live events when posted.
	require.Zero(t, count("ts >= "+sinceSQL+" AND received_at < toDateTime("+fmt.Sprint(started.Unix())+")"),
		"the backfill ends where the live run begins")
	time.Sleep(2 * time.Second) // the writer stores a batch's quality facts with it
	var halfVisits uint64
	require.NoError(t, conn.QueryRow(ctx, "SELECT sum(events) FROM sunlight.data_quality"+
		" WHERE kind IN ('call_without_ticket', 'end_without_start', 'out_of_order')").Scan(&halfVisits))
	require.Zero(t, halfVisits, "visits cut in two between the history and the live run")

	var types []string
	rows, err := conn.Query(ctx, "SELECT DISTINCT type FROM sunlight.events ORDER BY type")
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		types = append(types, s)
	}
	for _, want := range []string{"called", "case_accepted", "rating", "service_ended", "service_started", "ticket_issued", "window_opened"} {
		require.Contains(t, types, want)
	}

	url := fmt.Sprintf("rtsp://127.0.0.1:%d/window/A02", rtspPort)
	var probe struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
	}
	require.Eventually(t, func() bool {
		out, err := exec.Command("ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_streams", "-of", "json", url).Output()
		return err == nil && json.Unmarshal(out, &probe) == nil && len(probe.Streams) == 1
	}, time.Minute, time.Second, "ffprobe reads %s", url)
	require.Equal(t, "h264", probe.Streams[0].CodecName)
	require.Equal(t, 640, probe.Streams[0].Width)
	require.Equal(t, 360, probe.Streams[0].Height)
}
