package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/console"
)

// TestRecordingSurvivesKill9: serve records the simulated cameras in
// segments; after a kill -9 and a restart, every segment file on disk
// passes ffprobe and the ClickHouse index lists exactly the files.
func TestRecordingSurvivesKill9(t *testing.T) {
	h := startLiveHall(t, "recording:\n  segment_seconds: 2\n")
	inspector := h.token(t, console.RoleInspector)
	h.waitOnline(t, inspector, "A01")
	recDir := filepath.Join(h.dir, "data", "recordings")

	segments := func() []string {
		files, _ := filepath.Glob(filepath.Join(recDir, "*", "*", "*", "*", "*.mp4"))
		sort.Strings(files)
		return files
	}
	require.Eventually(t, func() bool { return len(segments()) >= 6 }, 60*time.Second, 250*time.Millisecond,
		"two cameras cut 2 s segments")

	require.NoError(t, h.serve.Process.Kill()) // kill -9, mid-segment
	_ = h.serve.Wait()
	h.startServe(t)

	files := segments()
	for _, f := range files {
		out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
			"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", f).CombinedOutput()
		require.NoError(t, err, "%s: %s", f, out)
		require.NotContains(t, string(out), "rror", f)
		require.NotEqual(t, "0", strings.TrimSpace(string(out)), "%s has frames", f)
	}

	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{fmt.Sprintf("127.0.0.1:%d", h.chPort)}, Protocol: clickhouse.Native})
	require.NoError(t, err)
	defer conn.Close()
	indexed := func() []string {
		rows, err := conn.Query(context.Background(), "SELECT path FROM sunlight.recording_segments FINAL ORDER BY path")
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var p string
			require.NoError(t, rows.Scan(&p))
			out = append(out, p)
		}
		return out
	}
	// The restarted server has reconciled the index with the disk; the
	// recorders go on adding segments, so compare the files of before.
	got := indexed()
	for _, f := range files {
		require.Contains(t, got, f, "every file on disk is indexed")
	}
	all := segments()
	for _, p := range got {
		require.Contains(t, all, p, "every indexed segment is on disk")
	}
}
