package simulator

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

func TestCameraClipSplit(t *testing.T) {
	// Minimal NAL units: header byte, then for slices the first slice-header
	// byte, whose top bit set means first_mb_in_slice == 0.
	var (
		// x264's 160x120 constrained baseline parameter sets
		sps = []byte{0x67, 0x42, 0xc0, 0x0a, 0xd9, 0x02, 0x84, 0x7e, 0x5c, 0x04, 0x40, 0x00,
			0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x05, 0x03, 0xc4, 0x89, 0x92}
		pps      = []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
		sei      = []byte{0x06, 0x05, 0x01, 0x80}
		idrA     = []byte{0x65, 0x88, 0x01}
		idrB     = []byte{0x65, 0x40, 0x02} // second slice of the same picture
		p1       = []byte{0x41, 0x9a, 0x03}
		p2A      = []byte{0x41, 0x9a, 0x04}
		p2B      = []byte{0x41, 0x20, 0x05}
		start3   = []byte{0, 0, 1}
		start4   = []byte{0, 0, 0, 1}
		annexB   = func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
		validSPS = func(t *testing.T) {
			var s h264.SPS
			if err := s.Unmarshal(sps); err != nil {
				t.Fatalf("test SPS does not parse: %v", err)
			}
		}
	)
	validSPS(t)

	for _, tc := range []struct {
		name    string
		in      []byte
		want    [][][]byte
		wantErr bool
	}{
		{
			name: "one slice per frame",
			in:   annexB(start4, sps, start4, pps, start3, idrA, start3, p1),
			want: [][][]byte{{sps, pps, idrA}, {p1}},
		},
		{
			name: "sliced threads and SEI",
			in: annexB(start4, sps, start4, pps, start4, sei, start4, idrA, start3, idrB,
				start3, p2A, start3, p2B, start4, sps, start4, pps, start4, idrA),
			want: [][][]byte{{sps, pps, sei, idrA, idrB}, {p2A, p2B}, {sps, pps, idrA}},
		},
		{
			name: "trailing zero bytes before a start code",
			in:   annexB(start4, sps, start4, pps, start4, idrA, []byte{0, 0}, start4, p1, []byte{0}),
			want: [][][]byte{{sps, pps, idrA}, {p1}},
		},
		{name: "empty", in: nil, wantErr: true},
		{name: "no parameter sets", in: annexB(start4, idrA, start4, p1), wantErr: true},
		{name: "starts with a P frame", in: annexB(start4, sps, start4, pps, start4, p1), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseClip(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parsed %d frames, want an error", len(c.aus))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.aus, tc.want) {
				t.Errorf("frames\n got %x\nwant %x", c.aus, tc.want)
			}
			if !bytes.Equal(c.sps, sps) || !bytes.Equal(c.pps, pps) {
				t.Errorf("params %x %x", c.sps, c.pps)
			}
		})
	}
}

func TestCameraClipGenerate(t *testing.T) {
	requireFFmpeg(t)
	ffmpeg, _ := exec.LookPath("ffmpeg")
	dir := t.TempDir()
	g := &clipGenerator{ffmpeg: ffmpeg, dir: dir, logger: slog.New(slog.NewTextHandler(t.Output(), nil))}
	spec := clipSpec{
		Version: clipFormatVersion, Window: "W1", Width: 160, Height: 120, FPS: 10,
		GOPFrames: 4, Frames: 10, Bitrate: clipBitrate, Font: g.textFont(t.Context()),
	}
	if spec.Font == "" {
		t.Log("no drawtext font: testing the fallback without text")
	}

	paths, err := g.generateAll(t.Context(), []clipSpec{spec})
	if err != nil {
		t.Fatal(err)
	}
	buf, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseClip(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.aus) != spec.Frames {
		t.Errorf("%d frames, want %d", len(c.aus), spec.Frames)
	}
	for i, au := range c.aus {
		if idr := h264.IsRandomAccess(au); idr != (i%spec.GOPFrames == 0) {
			t.Errorf("frame %d: IDR %v, want one every %d frames", i, idr, spec.GOPFrames)
		}
		if h264.IsRandomAccess(au) {
			testCameraCheckIDR(t, i, au)
		}
	}

	t.Run("cache hit", func(t *testing.T) {
		before, _ := os.Stat(paths[0])
		// A broken ffmpeg proves the cached file is used without running it.
		broken := *g
		broken.ffmpeg = "/nonexistent/ffmpeg"
		again, err := broken.generateAll(t.Context(), []clipSpec{spec})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := os.Stat(again[0])
		if again[0] != paths[0] || !after.ModTime().Equal(before.ModTime()) {
			t.Errorf("clip regenerated: %s -> %s", paths[0], again[0])
		}
	})

	t.Run("other parameters miss", func(t *testing.T) {
		other := spec
		other.FPS = 12
		if other.fileName() == spec.fileName() {
			t.Errorf("FPS change keeps cache name %s", spec.fileName())
		}
	})

	t.Run("ffmpeg failure", func(t *testing.T) {
		bad := spec
		bad.Bitrate = "bogus"
		_, err := g.generateAll(context.Background(), []clipSpec{bad})
		if err == nil || !strings.Contains(err.Error(), "ffmpeg") || !strings.Contains(err.Error(), "W1") {
			t.Fatalf("got %v, want an ffmpeg error naming the window", err)
		}
		t.Logf("error as reported: %v", err)
		left, _ := filepath.Glob(filepath.Join(dir, "*"))
		if len(left) != 1 {
			t.Errorf("cache holds %v, want only the good clip", left)
		}
	})
}
