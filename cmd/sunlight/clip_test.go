package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/console"
)

// get does an authorized GET and returns status, headers and body.
func (h *liveHall) get(t *testing.T, token, path string, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, body
}

// TestCaseClip: a case served at a recorded window; its clip, fetched by
// an auditor with a reason, is one MP4 spanning several segments whose
// duration is the service interval plus padding, decodes without error,
// holds a frame per 1/15 s, answers Range requests byte-exactly and
// carries its SHA-256; every access is in the audit log. Its signed
// evidence export and the audit chain are checked on the same hall (see
// checkEvidenceExport).
func TestCaseClip(t *testing.T) {
	h := startLiveHall(t, "recording:\n  segment_seconds: 2\n  clip_padding_seconds: 1\n")
	inspector := h.token(t, console.RoleInspector)
	auditor := h.token(t, console.RoleAuditor)
	h.waitOnline(t, inspector, "A01")

	// Service from start to end, both on recorded time: the recording
	// begins at the camera's first keyframe (a 2 s GOP).
	time.Sleep(4 * time.Second)
	start := time.Now().Truncate(time.Second)
	end := start.Add(7 * time.Second)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	events := fmt.Sprintf(`[
 {"event_id":"k1","type":"ticket_issued","ts":%q,"hall":"city-main","ticket":"A007","item":"SC-001"},
 {"event_id":"k2","type":"called","ts":%q,"hall":"city-main","window":"A01","ticket":"A007"},
 {"event_id":"k3","type":"service_started","ts":%q,"hall":"city-main","window":"A01","ticket":"A007"},
 {"event_id":"k4","type":"case_accepted","ts":%q,"hall":"city-main","window":"A01","ticket":"A007","case_id":"CM-7","item":"SC-001"},
 {"event_id":"k5","type":"service_ended","ts":%q,"hall":"city-main","window":"A01","ticket":"A007","case_id":"CM-7"}]`,
		ts(start.Add(-time.Minute)), ts(start.Add(-10*time.Second)), ts(start), ts(start.Add(3*time.Second)), ts(end))
	for time.Now().Before(end.Add(5 * time.Second)) { // the footage must exist, and its segments be closed
		time.Sleep(200 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/events", strings.NewReader(events))
	req.Header.Set("X-API-Key", "demo-queue-key")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	// The listing shows the interval and its segments. A 202 means the
	// events are durable in the spool; the writer stores them a moment
	// later.
	var status int
	var body []byte
	require.Eventually(t, func() bool {
		status, _, body = h.get(t, auditor, "/api/v1/cases/CM-7/recordings", nil)
		return status == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "the case is stored")
	var listing struct {
		Intervals []struct {
			Window   string
			Segments []json.RawMessage
			Gaps     []json.RawMessage
		}
	}
	require.NoError(t, json.Unmarshal(body, &listing))
	require.Len(t, listing.Intervals, 1)
	require.Equal(t, "A01", listing.Intervals[0].Window)
	require.GreaterOrEqual(t, len(listing.Intervals[0].Segments), 3, "9 s of 2 s segments")
	require.Empty(t, listing.Intervals[0].Gaps, "%s", body)

	status, hdr, clip := h.get(t, auditor, "/api/v1/cases/CM-7/clip?reason="+"complaint%2012345", nil)
	require.Equal(t, http.StatusOK, status, string(clip))
	require.Equal(t, "video/mp4", hdr.Get("Content-Type"))
	require.Equal(t, strconv.Itoa(len(clip)), hdr.Get("Content-Length"))
	sum := sha256.Sum256(clip)
	require.Equal(t, hex.EncodeToString(sum[:]), hdr.Get("X-Content-SHA256"))

	path := filepath.Join(t.TempDir(), "clip.mp4")
	require.NoError(t, os.WriteFile(path, clip, 0o644))
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	require.NoError(t, err)
	require.Empty(t, strings.TrimSpace(string(out)), "the clip decodes without error")
	probe, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames:format=duration", "-of", "json", path).Output()
	require.NoError(t, err)
	var p struct {
		Streams []struct {
			Frames string `json:"nb_read_frames"`
		}
		Format struct{ Duration string }
	}
	require.NoError(t, json.Unmarshal(probe, &p))
	dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
	want := end.Sub(start).Seconds() + 2 // 1 s padding on each side
	t.Logf("clip: %d bytes, %s s, %s frames; wanted %.3f s", len(clip), p.Format.Duration, p.Streams[0].Frames, want)
	require.InDelta(t, want, dur, 1.0/15+0.001, "duration = interval + padding, within a frame")
	frames, _ := strconv.Atoi(p.Streams[0].Frames)
	require.InDelta(t, math.Round(want*15), frames, 1, "a frame every 1/15 s: none lost at segment boundaries")

	// Range: exactly those bytes of the full file.
	status, hdr, part := h.get(t, auditor, "/api/v1/cases/CM-7/clip?reason=seek", map[string]string{"Range": "bytes=1000-5999"})
	require.Equal(t, http.StatusPartialContent, status)
	require.Equal(t, fmt.Sprintf("bytes 1000-5999/%d", len(clip)), hdr.Get("Content-Range"))
	require.True(t, bytes.Equal(clip[1000:6000], part), "the range is byte-exact")
	require.Equal(t, hex.EncodeToString(sum[:]), hdr.Get("X-Content-SHA256"), "the hash is of the whole file")

	// Refusals.
	status, _, body = h.get(t, auditor, "/api/v1/cases/CM-7/clip", nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, string(body), "reason is required")
	status, _, _ = h.get(t, h.token(t, console.RoleManager), "/api/v1/cases/CM-7/clip?reason=x", nil)
	require.Equal(t, http.StatusForbidden, status)
	status, _, body = h.get(t, auditor, "/api/v1/cases/NOPE-1/clip?reason=x", nil)
	require.Equal(t, http.StatusNotFound, status, string(body))

	// Every access is audited, with the reason and the hash.
	status, _, body = h.get(t, auditor, "/api/v1/audit", nil)
	require.Equal(t, http.StatusOK, status)
	log := string(body)
	require.Contains(t, log, `"action":"recordings_list","target":"CM-7"`)
	require.Contains(t, log, "complaint 12345")
	require.Contains(t, log, "sha256="+hex.EncodeToString(sum[:]))
	require.Contains(t, log, `range=bytes=1000-5999`)

	t.Run("evidence export and audit chain", func(t *testing.T) { checkEvidenceExport(t, h, auditor, clip) })
}
