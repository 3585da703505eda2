package streaming

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// browserPage plays WHEP like the console will: a recvonly offer, a POST
// of the complete offer, the answer; then it reports, via POST /result,
// when each frame was presented (requestVideoFrameCallback) and the
// inbound video stats.
const browserPage = `<!doctype html>
<video id="v" muted autoplay playsinline></video>
<script>
const report = (o) => fetch('/result', {method: 'POST', body: JSON.stringify(o)});
(async () => {
  try {
    const pc = new RTCPeerConnection();
    pc.addTransceiver('video', {direction: 'recvonly'});
    pc.addTransceiver('audio', {direction: 'recvonly'});
    const v = document.getElementById('v');
    pc.ontrack = (e) => { if (e.track.kind === 'video') v.srcObject = new MediaStream([e.track]); };
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((resolve) => {
      if (pc.iceGatheringState === 'complete') resolve();
      pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); };
      setTimeout(resolve, 2000);
    });
    let connectedAt = 0;
    const t0 = performance.now();
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected' && !connectedAt) connectedAt = performance.now() - t0;
    };
    const res = await fetch('/whep', {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
    if (res.status !== 201) { report({error: 'POST /whep: ' + res.status + ' ' + await res.text()}); return; }
    await pc.setRemoteDescription({type: 'answer', sdp: await res.text()});
    const frames = [];
    const onFrame = (now, meta) => {
      frames.push({t: now - t0, rtp: meta.rtpTimestamp || 0, presented: meta.presentedFrames});
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
    await new Promise((r) => setTimeout(r, 3000));
    let stats = {};
    (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') stats = s; });
    report({connectedAt, frames, stats});
  } catch (e) {
    report({error: String(e)});
  }
})();
</script>`

// browserJoinsPage joins ?n= times in a row, at varied points of the GOP,
// and reports for each join the time from the POST to the first frame
// presented and to the connection.
const browserJoinsPage = `<!doctype html>
<body>
<script>
const report = (o) => fetch('/result', {method: 'POST', body: JSON.stringify(o)});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function join() {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const v = document.createElement('video');
  v.muted = true; v.autoplay = true; v.playsInline = true;
  document.body.appendChild(v);
  pc.ontrack = (e) => { if (e.track.kind === 'video') v.srcObject = new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') resolve();
    pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    setTimeout(resolve, 2000);
  });
  let connected = 0;
  const t0 = performance.now();
  pc.onconnectionstatechange = () => { if (pc.connectionState === 'connected' && !connected) connected = performance.now() - t0; };
  const res = await fetch('/whep', {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
  if (res.status !== 201) throw new Error('POST /whep: ' + res.status);
  await pc.setRemoteDescription({type: 'answer', sdp: await res.text()});
  const first = await new Promise((resolve) => {
    v.requestVideoFrameCallback((now) => resolve(now - t0));
    setTimeout(() => resolve(-1), 5000);
  });
  pc.close(); v.remove();
  return {first, connected};
}
(async () => {
  try {
    const n = Number(new URLSearchParams(location.search).get('n'));
    const joins = [];
    for (let i = 0; i < n; i++) {
      joins.push(await join());
      await sleep((i * 137) % 400);
    }
    report({joins});
  } catch (e) {
    report({error: String(e)});
  }
})();
</script>`

type browserResult struct {
	Error       string  `json:"error"`
	ConnectedAt float64 `json:"connectedAt"`
	Frames      []struct {
		T         float64 `json:"t"`
		RTP       uint32  `json:"rtp"`
		Presented int     `json:"presented"`
	} `json:"frames"`
	Stats map[string]any `json:"stats"`
	Joins []struct {
		First     float64 `json:"first"`
		Connected float64 `json:"connected"`
	} `json:"joins"`
}

// TestBrowserPlaysAtOnce plays a camera joined mid-GOP in headless
// Chromium: the first frame shows at once (no black screen until the next
// IDR), the decoder takes the replayed GOP without errors, and what follows
// plays at the camera's pace (no fast-forward).
func TestBrowserPlaysAtOnce(t *testing.T) {
	chromium := requireChromium(t)
	stream, _ := liveStream(t, "w1", 1300*time.Millisecond, true) // 20 frames into a 2 s GOP
	srv, _ := testServer(t, stream)
	res := runBrowser(t, chromium, srv, browserPage, "", 30*time.Second)
	require.NotEmpty(t, res.Frames, "the browser showed no frame")
	first := res.Frames[0]
	t.Logf("browser: connected after %.1f ms, first frame presented %.1f ms after the POST; %d frame callbacks",
		res.ConnectedAt, first.T, len(res.Frames))
	for _, k := range []string{"framesReceived", "framesDecoded", "keyFramesDecoded", "framesDropped", "freezeCount",
		"pliCount", "firCount", "nackCount", "packetsLost", "jitterBufferDelay", "jitterBufferEmittedCount"} {
		t.Logf("  %s = %v", k, res.Stats[k])
	}
	require.Less(t, first.T, 1000.0, "the first frame shows at once, not at the next IDR")

	// No fast-forward: after the first presented frame, media time moves
	// with the wall clock.
	last := res.Frames[len(res.Frames)-1]
	wall := (last.T - first.T) / 1000
	media := float64(last.RTP-first.RTP) / 90000
	t.Logf("after the first frame: %.2f s of wall clock, %.2f s of media", wall, media)
	require.InDelta(t, wall, media, 0.5, "playback at the camera's pace")
	require.Greater(t, res.Stats["framesDecoded"], 40.0)
	require.GreaterOrEqual(t, res.Stats["keyFramesDecoded"], 1.0)
}

// requireChromium returns Chromium's path or skips the test (fails in CI,
// unless SUNLIGHT_NO_BROWSER is set).
func requireChromium(tb testing.TB) string {
	tb.Helper()
	requireFFmpeg(tb)
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" && os.Getenv("SUNLIGHT_NO_BROWSER") == "" {
			tb.Fatalf("chromium is required in CI: %v", err)
		}
		tb.Skip("chromium not installed")
	}
	return path
}

// runBrowser serves page (with query) and WHEP for stream w1 to headless
// Chromium and returns what the page reported.
func runBrowser(tb testing.TB, chromium string, srv *WebRTCServer, page, query string, timeout time.Duration) browserResult {
	tb.Helper()
	results := make(chan browserResult, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, page)
	})
	mux.HandleFunc("POST /whep", func(w http.ResponseWriter, r *http.Request) {
		offer, _ := io.ReadAll(r.Body)
		_, answer, err := srv.NewSession(r.Context(), "w1", string(offer))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/sdp")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, answer)
	})
	mux.HandleFunc("POST /result", func(_ http.ResponseWriter, r *http.Request) {
		var res browserResult
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

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer launchChromium(tb, chromium, hs.URL+"/"+query)()
	var res browserResult
	select {
	case res = <-results:
	case <-ctx.Done():
		tb.Fatal("no result from the browser")
	}
	if res.Error != "" {
		tb.Fatalf("browser: %s", res.Error)
	}
	return res
}

// BenchmarkBrowserTimeToFirstFrame joins a live camera (2 s GOP) from
// headless Chromium b.N times at varied points of its GOP and reports the
// time from the WHEP POST to the first frame presented (p50/p95), and to
// the connection (ICE and DTLS).
//
//	go test -run '^$' -bench BrowserTimeToFirstFrame -benchtime 20x ./streaming/
func BenchmarkBrowserTimeToFirstFrame(b *testing.B) {
	chromium := requireChromium(b)
	stream, _ := liveStream(b, "w1", 500*time.Millisecond, true)
	srv, _ := testServer(b, stream)
	b.ResetTimer()
	res := runBrowser(b, chromium, srv, browserJoinsPage, fmt.Sprintf("?n=%d", b.N), 30*time.Second+time.Duration(b.N)*time.Second)
	b.StopTimer()
	var first, conn []float64
	for _, j := range res.Joins {
		require.Positive(b, j.First, "a join showed no frame within 5 s")
		first = append(first, j.First)
		conn = append(conn, j.Connected)
	}
	q := func(v []float64, p float64) float64 {
		slices.Sort(v)
		return v[min(len(v)-1, int(p*float64(len(v))))]
	}
	b.ReportMetric(q(first, 0.50), "ttff-p50-ms")
	b.ReportMetric(q(first, 0.95), "ttff-p95-ms")
	b.ReportMetric(q(conn, 0.50), "connect-p50-ms")
	b.ReportMetric(q(conn, 0.95), "connect-p95-ms")
	b.ReportMetric(0, "ns/op")
}

// launchChromium opens url in headless Chromium and returns the function
// that ends it: its whole process group (renderer, GPU, zygote), then its
// profile folder.
func launchChromium(tb testing.TB, chromium, url string) (stop func()) {
	tb.Helper()
	// Chromium's helpers may still write to its profile for a moment after
	// it is gone: remove it with retries, not with TempDir's strict cleanup.
	profile, err := os.MkdirTemp("", "streaming-chromium-")
	require.NoError(tb, err)
	cmd := exec.Command(chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--disable-extensions", "--mute-audio",
		"--autoplay-policy=no-user-gesture-required", "--user-data-dir="+profile, url)
	// Its own process group, so that ending it ends its helpers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(tb, cmd.Start())
	return func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		// Helpers may outlive the main process for a moment.
		for i := 0; i < 50 && syscall.Kill(-cmd.Process.Pid, 0) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	}
}
