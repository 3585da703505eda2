// Package mediacheck checks received media as a player would, with
// ffmpeg and ffprobe, for tests: what the decoder complains about, and
// how many frames it decodes.
package mediacheck

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// DecodeErrors decodes an H.264 Annex B stream with ffmpeg and returns
// what it complained about ("" when nothing). It fails tb when ffmpeg
// cannot run.
func DecodeErrors(tb testing.TB, annexB []byte) string {
	tb.Helper()
	cmd := exec.Command("ffmpeg", "-v", "error", "-f", "h264", "-i", "-", "-f", "null", "-")
	cmd.Stdin = bytes.NewReader(annexB)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("ffmpeg: %v: %s", err, stderr.String())
	}
	return strings.TrimSpace(stderr.String())
}

// Frames is how many frames ffprobe decodes from an H.264 Annex B stream.
func Frames(tb testing.TB, annexB []byte) int {
	tb.Helper()
	probe := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", "-f", "h264", "-")
	probe.Stdin = bytes.NewReader(annexB)
	out, err := probe.Output()
	if err != nil {
		tb.Fatalf("ffprobe: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		tb.Fatalf("ffprobe printed %q, not a frame count", out)
	}
	return n
}
