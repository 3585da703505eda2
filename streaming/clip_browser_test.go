package streaming

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clipBrowserPage plays /clip.mp4 (served with Range by
// http.ServeContent) and reports its duration and the media time of every
// frame presented.
const clipBrowserPage = `<!doctype html>
<video id="v" muted playsinline></video>
<script>
const v = document.getElementById('v');
const frames = [];
function report(r) {
  fetch('/result', {method: 'POST', body: JSON.stringify(r)});
}
v.onerror = () => report({error: 'video error ' + (v.error && v.error.code) + ': ' + (v.error && v.error.message)});
function onFrame(now, m) {
  frames.push({t: m.mediaTime, presented: m.presentedFrames});
  v.requestVideoFrameCallback(onFrame);
}
v.requestVideoFrameCallback(onFrame);
v.onended = () => setTimeout(() => report({duration: v.duration, frames, width: v.videoWidth, decoded: v.getVideoPlaybackQuality().totalVideoFrames, dropped: v.getVideoPlaybackQuality().droppedVideoFrames}), 200);
// Half speed: a loaded machine (CI's 2 cores) still presents every frame.
v.defaultPlaybackRate = 0.5;
v.playbackRate = 0.5;
v.src = '/clip.mp4';
v.play().catch(e => report({error: String(e)}));
</script>`

type clipBrowserResult struct {
	Error    string  `json:"error"`
	Duration float64 `json:"duration"`
	Width    int     `json:"width"`
	Decoded  int     `json:"decoded"`
	Dropped  int     `json:"dropped"`
	Frames   []struct {
		T         float64 `json:"t"`
		Presented int     `json:"presented"`
	} `json:"frames"`
}

// Chromium plays a clip that starts mid-GOP (an edit list skipping the
// pre-roll) and one of two parts (two edits), served with Range: its
// duration is the edits' and its first frame is at media time 0.
func TestClipBrowser(t *testing.T) {
	chromium := requireChromium(t)
	rec := recordForClips(t)
	_, small := recordSmallForClips(t)
	for _, tc := range []struct {
		name  string
		parts []ClipPart
	}{
		{"mid-GOP", []ClipPart{{Window: "w1", From: at(1.71), To: at(5.43), Segments: rec.segs}}},
		{"two parts", []ClipPart{
			{Window: "w1", From: at(0.52), To: at(1.49), Segments: rec.segs},
			{Window: "w1", From: at(5.2), To: at(7.12), Segments: rec.segs},
		}},
		{"two picture sizes", twoSizeParts(rec.segs, small)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := BuildClip(tc.parts)
			require.NoError(t, err)
			defer c.Close()
			res := runClipBrowser(t, chromium, c)
			require.NotEmpty(t, res.Frames)
			presented := res.Frames[len(res.Frames)-1].Presented
			t.Logf("chromium: duration %.4f s, %d frame callbacks, %d frames decoded, %d presented, %d dropped, first at %.4f, last at %.4f",
				res.Duration, len(res.Frames), res.Decoded, presented, res.Dropped, res.Frames[0].T, res.Frames[len(res.Frames)-1].T)
			// Chromium decodes (and counts in totalVideoFrames) the
			// keyframe past each edit's end that the demuxer marks
			// discard, but presents only the frames of the edits (played
			// at half speed, so that a loaded machine drops none).
			require.Equal(t, c.Frames(), presented, "frames presented (pre-roll not)")
			require.InDelta(t, c.Duration().Seconds(), res.Duration, 0.002, "the edits' duration")
			require.InDelta(t, 0, res.Frames[0].T, 0.001, "the first frame shown is the first after the pre-roll")
			require.Less(t, res.Frames[len(res.Frames)-1].T, c.Duration().Seconds())
		})
	}
}

func runClipBrowser(t *testing.T, chromium string, c *Clip) clipBrowserResult {
	t.Helper()
	results := make(chan clipBrowserResult, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, clipBrowserPage)
	})
	mux.HandleFunc("GET /clip.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		http.ServeContent(w, r, "clip.mp4", time.Time{}, io.NewSectionReader(c, 0, c.Size()))
	})
	mux.HandleFunc("POST /result", func(_ http.ResponseWriter, r *http.Request) {
		var res clipBrowserResult
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			res.Error = "bad result: " + err.Error()
		}
		select {
		case results <- res:
		default:
		}
	})
	hs := httptest.NewServer(mux)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer launchChromium(t, chromium, hs.URL+"/")()
	var res clipBrowserResult
	select {
	case res = <-results:
	case <-ctx.Done():
		t.Fatal("no result from the browser")
	}
	if res.Error != "" {
		t.Fatalf("browser: %s", res.Error)
	}
	return res
}
