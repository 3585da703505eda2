package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/console"
	"github.com/sunlight-gov/sunlight/internal/mediacheck"
	"github.com/sunlight-gov/sunlight/internal/whepclient"
)

// liveHall is serve + simulate (cameras only) on free ports, with one user
// per role (password: the role name twice).
type liveHall struct {
	url, cfgPath, rtsp, dir string
	chPort                  int
	simulate                *exec.Cmd
	serve                   *exec.Cmd
}

func startLiveHall(t *testing.T, extraConfig ...string) *liveHall {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (make deps)", bin)
		}
	}
	dir := t.TempDir()
	rtspPort := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	h := &liveHall{url: "http://" + listen, rtsp: fmt.Sprintf("127.0.0.1:%d", rtspPort)}
	h.chPort = freePort(t)
	h.dir = dir
	h.cfgPath = writeConfig(t, dir, listen, h.chPort, freePort(t), rtspPort, extraConfig...)
	for _, r := range console.Roles {
		require.NoError(t, console.AddUser(dir+"/users.yaml", string(r), r, string(r)+string(r)))
	}
	h.startCameras(t)
	h.startServe(t)
	return h
}

func (h *liveHall) startServe(t *testing.T) {
	h.serve = startSunlight(t, "serve", "--config", h.cfgPath)
	waitHealthy(t, h.url, h.serve, 90*time.Second)
}

func (h *liveHall) startCameras(t *testing.T) {
	h.simulate = startSunlight(t, "simulate", "--config", h.cfgPath, "--no-events", "--rtsp-listen", h.rtsp)
}

func (h *liveHall) stopCameras(t *testing.T) {
	require.NoError(t, h.simulate.Process.Signal(syscall.SIGTERM))
	_ = h.simulate.Wait()
}

func (h *liveHall) token(t *testing.T, role console.Role) string {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, role, string(role)+string(role))
	resp, err := http.Post(h.url+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Token
}

// cameraState reads a window's camera state from GET /api/v1/windows.
func (h *liveHall) cameraState(t *testing.T, token, window string) console.CameraStatus {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+"/api/v1/windows", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Windows []struct {
			ID     string
			Camera *console.CameraStatus
		}
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	for _, w := range out.Windows {
		if w.ID == window && w.Camera != nil {
			return *w.Camera
		}
	}
	t.Fatalf("window %s has no camera state", window)
	return console.CameraStatus{}
}

func (h *liveHall) waitOnline(t *testing.T, token, window string) {
	t.Helper()
	require.Eventually(t, func() bool { return h.cameraState(t, token, window).State == "online" },
		60*time.Second, 200*time.Millisecond, "camera of %s comes online", window)
}

// TestLiveWHEP: simulate -> serve -> a pion WHEP viewer. The video decodes
// with ffmpeg, starts with an IDR at once, and survives the camera going
// away and coming back without renegotiation.
func TestLiveWHEP(t *testing.T) {
	h := startLiveHall(t)
	inspector := h.token(t, console.RoleInspector)
	h.waitOnline(t, inspector, "A01")

	auth := http.Header{"Authorization": {"Bearer " + inspector}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	viewer, err := whepclient.Dial(ctx, h.url+"/api/v1/live/A01/whep", whepclient.Options{Header: auth, Queue: 256})
	require.NoError(t, err)
	defer viewer.Close()
	require.Contains(t, viewer.Location, "/api/v1/live/A01/whep/")

	first, err := viewer.Next(10 * time.Second)
	require.NoError(t, err)
	require.True(t, first.IDR, "the first unit a viewer gets is an IDR (the GOP cache)")
	t.Logf("time to first IDR: %s from the POST", first.Arrived.Sub(viewer.Posted).Round(time.Millisecond))

	var stream bytes.Buffer
	stream.Write(first.AnnexB)
	units := 1
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); units++ {
		au, err := viewer.Next(2 * time.Second)
		require.NoError(t, err)
		require.True(t, au.Complete, "no packet lost on loopback")
		stream.Write(au.AnnexB)
	}
	// A second viewer joins a camera that is already streaming: the GOP
	// cache starts it at once.
	second, err := whepclient.Dial(ctx, h.url+"/api/v1/live/A01/whep", whepclient.Options{Header: auth, Queue: 16})
	require.NoError(t, err)
	au, err := second.Next(10 * time.Second)
	require.NoError(t, err)
	require.True(t, au.IDR)
	t.Logf("time to first IDR, camera already streaming: %s from the POST", au.Arrived.Sub(second.Posted).Round(time.Millisecond))
	second.Close()

	errs, frames := mediacheck.DecodeErrors(t, stream.Bytes()), mediacheck.Frames(t, stream.Bytes())
	require.Empty(t, errs, "ffmpeg decodes the relayed video without errors")
	require.Equal(t, units, frames, "every received access unit decodes to a frame")
	require.Greater(t, frames, 30, "about 15 fps for 3 s")

	// The camera goes away and comes back: the same session resumes.
	h.stopCameras(t)
	require.Eventually(t, func() bool { return h.cameraState(t, inspector, "A01").State != "online" },
		10*time.Second, 100*time.Millisecond, "the camera's state shows it is gone")
	for len(viewer.Units()) > 0 {
		<-viewer.Units()
	}
	restarted := time.Now()
	h.startCameras(t)
	var resumed whepclient.AU
	for {
		au, err := viewer.Next(15 * time.Second)
		require.NoError(t, err, "video resumes on the same session after the camera returns")
		if au.Arrived.After(restarted) {
			resumed = au
			break
		}
	}
	t.Logf("video resumed %s after the camera was restarted (its first run included)", resumed.Arrived.Sub(restarted).Round(time.Millisecond))
	require.True(t, resumed.IDR, "the viewer resumes at an IDR")
	require.Less(t, resumed.Arrived.Sub(restarted), 10*time.Second)
	st := h.cameraState(t, inspector, "A01")
	require.Equal(t, "online", st.State)
	require.GreaterOrEqual(t, st.Reconnects, 1)
	require.Equal(t, 1, st.Viewers)

	// Audited: the session start, and its end after the DELETE.
	viewer.Close()
	auditor := h.token(t, console.RoleAuditor)
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest(http.MethodGet, h.url+"/api/v1/audit", nil)
		req.Header.Set("Authorization", "Bearer "+auditor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `"action":"live_start","target":"A01"`) &&
			strings.Contains(string(body), `"action":"live_end","target":"A01"`)
	}, 10*time.Second, 200*time.Millisecond, "live_start and live_end are in the audit log")

	// The viewers' loss repair is on /metrics (none on loopback).
	req, _ := http.NewRequest(http.MethodGet, h.url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+h.token(t, console.RoleAdmin))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	metrics, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, name := range []string{"sunlight_live_nacks_total", "sunlight_live_nacked_packets_total",
		"sunlight_live_retransmitted_packets_total", "sunlight_live_unrepaired_packets_total"} {
		require.Regexp(t, "(?m)^"+name+" [0-9]+$", string(metrics))
	}
}

func TestLiveWHEPErrors(t *testing.T) {
	h := startLiveHall(t)
	inspector := h.token(t, console.RoleInspector)
	manager := h.token(t, console.RoleManager)
	h.waitOnline(t, inspector, "A02")
	tests := []struct {
		name, window, token, ctype, body string
		status                           int
		want                             string
	}{
		{"unknown window", "Z99", inspector, "application/sdp", "v=0", 404, `unknown window "Z99"`},
		{"no token", "A01", "", "application/sdp", "v=0", 401, "sign in first"},
		{"manager may not watch", "A01", manager, "application/sdp", "v=0", 403, "role manager may not"},
		{"not sdp", "A01", inspector, "application/json", "{}", 415, "application/sdp"},
		{"garbage sdp", "A01", inspector, "application/sdp", "hello", 400, ""},
		{"empty offer", "A01", inspector, "application/sdp", "", 400, "empty body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/live/"+tt.window+"/whep", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var e struct{ Error string }
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
			require.Equal(t, tt.status, resp.StatusCode, e.Error)
			require.NotEmpty(t, e.Error)
			require.Contains(t, e.Error, tt.want)
		})
	}

	// One inspector's 200 parallel offers that never connect: 4 are
	// answered (webrtc.max_sessions_per_user), the others 429, so the
	// window keeps room for others; without ICE each one ends within 5 s
	// and frees its place (it held it for 15 s, or minutes under load).
	pc, offer, err := whepclient.NewPeer(whepclient.Options{})
	require.NoError(t, err)
	require.NoError(t, pc.Close())
	post := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/live/A02/whep", strings.NewReader(offer))
		req.Header.Set("Content-Type", "application/sdp")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	statuses := make(chan int, 200)
	for range 200 {
		go func() { statuses <- post(inspector) }()
	}
	count := map[int]int{}
	for range 200 {
		count[<-statuses]++
	}
	require.Equal(t, map[int]int{201: 4, 429: 196}, count)
	require.Equal(t, http.StatusCreated, post(h.token(t, console.RoleAdmin)), "another user still gets a place")
	answered := time.Now()
	require.Eventually(t, func() bool { return h.cameraState(t, inspector, "A02").Viewers == 0 },
		30*time.Second, 200*time.Millisecond, "the sessions without ICE end")
	t.Logf("the 5 sessions without ICE were gone %s after the last answer", time.Since(answered).Round(100*time.Millisecond))
	require.Equal(t, http.StatusCreated, post(inspector), "the inspector's places are free again")
}

// TestLiveInBrowser plays a window in headless Chromium through the
// console's WHEP endpoint: the video gets its 640-pixel width and keeps
// playing for 5 s.
func TestLiveInBrowser(t *testing.T) {
	chromium := requireChromium(t)
	h := startLiveHall(t)
	h.waitOnline(t, h.token(t, console.RoleInspector), "A01")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	recordCSPViolations(t, ctx)

	_, err := chromedp.Run(ctx, chromedp.Navigate(h.url+"/live-test#window=A01&user=inspector&pass=inspectorinspector"))
	require.NoError(t, err)
	width, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => { const v = document.getElementById('video');
		if (window.sunlightLive.error) throw new Error(window.sunlightLive.error);
		return v.videoWidth > 0 && v.currentTime > 0 ? v.videoWidth : 0; })()`, chromedp.WithPollingTimeout(20*time.Second)))
	require.NoError(t, err)
	require.Equal(t, 640, width)

	var times []float64
	for i := 0; i <= 5; i++ {
		ct, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('video').currentTime`))
		require.NoError(t, err)
		times = append(times, ct)
		if i < 5 {
			time.Sleep(time.Second)
		}
	}
	t.Logf("currentTime over 5 s: %v", times)
	for i := 1; i < len(times); i++ {
		require.Greater(t, times[i], times[i-1], "currentTime advances every second")
	}
	require.InDelta(t, 5.0, times[5]-times[0], 1.5, "plays at the camera's pace")
	// The page's inline script and style run under the CSP by their hashes.
	requireNoCSPViolations(t, ctx)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	if dir := os.Getenv("SUNLIGHT_SCREENSHOTS"); dir != "" {
		require.NoError(t, os.WriteFile(dir+"/live-test.png", shot, 0o644))
	}
}
