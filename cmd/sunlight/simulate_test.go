package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
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
