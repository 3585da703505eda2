package streaming

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
)

func TestRecordFreeBeforeMoof(t *testing.T) {
	for _, c := range []struct {
		name    string
		off     int64
		moofLen int
		pad     int
	}{
		{"fits", 100, 268, 0},
		{"ends at the page end", recPageSize - 268, 268, 0},
		{"straddles", recPageSize - 100, 268, 100},
		{"straddles the next page", 3*recPageSize - 100, 268, 100},
		{"too close for a free box", recPageSize - 4, 268, recPageSize + 4},
		{"bigger than a page", recPageSize - 100, recPageSize + 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := appendFreeBeforeMoof(nil, c.off, c.moofLen)
			require.Len(t, b, c.pad)
			if c.pad > 0 {
				require.Equal(t, uint32(c.pad), binary.BigEndian.Uint32(b))
				require.Equal(t, "free", string(b[4:8]))
				start := c.off + int64(c.pad)
				require.Equal(t, start/recPageSize, (start+int64(c.moofLen)-1)/recPageSize)
			}
		})
	}
}

func TestRecordWindowDirName(t *testing.T) {
	for id, want := range map[string]string{
		"window-7":   "window-7",
		"w_1.main":   "w_1.main",
		"a/b":        "a%2Fb",
		"a_b":        "a_b",
		"a%2Fb":      "a%252Fb",
		"..":         "%2E%2E",
		".hidden":    "%2Ehidden",
		"":           "%",
		"窗口 3":       "%E7%AA%97%E5%8F%A3%203",
		"x\x00y\\z.": "x%00y%5Cz%2E",
	} {
		require.Equal(t, want, windowDirName(id), id)
	}
}

// ffmpeg and ReadSegment skip free boxes between fragments (the padding
// that keeps a moof within a page).
func TestRecordFreeBoxesBetweenFragments(t *testing.T) {
	clip := recordClip(t, media.H264, "320x240", 8)
	s := NewStream("w1", media.Track{Codec: media.H264}, nil)
	defer s.Close()
	rec, log := recStart(t, s, t.TempDir(), func(r *Recorder) { r.SegmentDuration = time.Minute })
	recFeedFirst(t, rec, s, clip.units)
	recFeed(s, clip.units, 1, 60, nil)
	recWaitReceived(t, rec, 60)
	rec.Close()
	seg := log.closed()[0]

	// A free box before every moof.
	b, err := os.ReadFile(seg.Path)
	require.NoError(t, err)
	var out []byte
	for _, box := range recBoxes(t, seg.Path) {
		if box.typ == "moof" {
			out = append(out, 0, 0, 0, 100, 'f', 'r', 'e', 'e')
			out = append(out, make([]byte, 92)...)
		}
		out = append(out, b[box.off:box.off+box.size]...)
	}
	padded := filepath.Join(t.TempDir(), "padded.mp4")
	require.NoError(t, os.WriteFile(padded, out, 0o644))
	info, err := ReadSegment(padded)
	require.NoError(t, err)
	require.Equal(t, 60, info.Frames)
	require.Equal(t, seg.Duration, info.Duration)
	recRequirePlays(t, info)
	require.Equal(t, recFrameMD5s(t, seg.Path), recFrameMD5s(t, padded))
}
