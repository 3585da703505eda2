package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
)

// demoWithin is how soon after `make demo` starts an auditor can play a
// recorded case (issue 18's acceptance).
const demoWithin = 3 * time.Minute

// TestDemoFirstMinutes runs scripts/demo.sh as `make demo` does, on free
// ports in a fresh directory (the demo's own configuration, users and
// simulator flags), and meets it as its users would in the first minutes:
// the inspector's wall shows a window open with people waiting or being
// served, as GET /api/v1/windows says, and the auditor opens a case from
// the recent cases with footage and plays its clip, whose timeline has the
// ticket, the call and the service's start and end. Ctrl-C then ends the
// demo with status 0.
func TestDemoFirstMinutes(t *testing.T) {
	chromium := requireChromium(t)
	for _, bin := range []string{"ffmpeg", "ffprobe", "bash"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (make deps)", bin)
		}
	}
	d := startDemo(t)
	t.Logf("demo banner after %s", time.Since(d.started).Round(time.Second))
	browser := newBrowser(t, chromium)

	t.Run("inspector", func(t *testing.T) {
		ctx := newTab(t, browser, 90*time.Second)
		loginAs(t, ctx, d.url, "inspector", "sunlight-inspector")
		// The whole city hall on one page (12 windows).
		_, err := chromedp.Run(ctx, chromedp.Evaluate[any](`localStorage.setItem('sunlight.wall.size', '16'); localStorage.setItem('sunlight.wall.hall', 'city-main')`))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(d.url+"/#/live"), chromedp.Reload(), chromedp.WaitVisible(`.tile[data-window="A12"]`)))
		// In the page, compare every tile with the API until one shows an
		// open window with a queue or a service, as the API says.
		_, err = chromedp.Run(ctx, chromedp.Evaluate[any](`(() => {
			window.tileMatch = '';
			const tick = async () => {
				const { windows } = await (await fetch('/api/v1/windows')).json();
				for (const w of windows) {
					const tile = document.querySelector('.tile[data-window="' + w.id + '"]');
					const q = w.queue;
					if (!tile || !q || q.status !== 'open' || (q.length === 0 && !q.serving)) continue;
					const chip = tile.querySelector('.ov-bottom .chip').textContent;
					const ticket = (tile.querySelector('.ov-bottom .ticket') || {}).textContent || '';
					const queue = tile.querySelector('.ov-bottom').textContent.match(/等候 (\d+) 人/);
					const want = q.serving ? (q.serving.started ? '办理中' : '已叫号') : '空闲';
					if (chip === want && ticket === (q.serving ? q.serving.ticket : '') && queue && Number(queue[1]) === q.length) {
						window.tileMatch = w.id + ': ' + tile.querySelector('.ov-bottom').textContent;
						return;
					}
				}
				setTimeout(tick, 300);
			};
			tick();
		})()`))
		require.NoError(t, err)
		match, err := chromedp.Run(ctx, chromedp.Poll[string](`window.tileMatch`, chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err, "a tile shows an open window with people waiting or served, as /api/v1/windows says")
		t.Logf("tile %s", match)
		saveScreenshot(t, ctx, "demo-inspector-wall")
		requireTranslated(t, ctx)
	})

	t.Run("auditor", func(t *testing.T) {
		// A case from the list of recent cases with footage: the one with
		// the most recorded service, once one has at least 10 s.
		token := d.token(t, "auditor", "sunlight-auditor")
		var pick analytics.RecordedCase
		deadline := d.started.Add(demoWithin - 30*time.Second)
		for pick.CaseID == "" {
			var r struct{ Cases []analytics.RecordedCase }
			d.getJSON(t, token, "/api/v1/cases", &r)
			best := 0.0
			for _, c := range r.Cases {
				if sec := c.Recorded * c.End.Sub(c.Start).Seconds(); sec >= 10 && sec > best {
					pick, best = c, sec
				}
			}
			if pick.CaseID == "" {
				require.True(t, time.Now().Before(deadline), "no case with 10 s of recorded service %s after the demo started: %+v",
					time.Since(d.started).Round(time.Second), r.Cases)
				time.Sleep(2 * time.Second)
			}
		}
		t.Logf("case %s at %s: %.0f%% of its service recorded, listed %s after the start", pick.CaseID, pick.Window,
			100*pick.Recorded, time.Since(d.started).Round(time.Second))

		ctx := newTab(t, browser, 90*time.Second)
		loginAs(t, ctx, d.url, "auditor", "sunlight-auditor")
		link := fmt.Sprintf(`#recorded-cases a[data-case=%q]`, pick.CaseID)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(d.url+"/#/cases"), chromedp.WaitVisible(link)))
		saveScreenshot(t, ctx, "demo-auditor-cases")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(link), chromedp.WaitVisible("#case-timeline")))
		events, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#case-timeline li')].map(li => li.dataset.type)`))
		require.NoError(t, err)
		require.Subset(t, events, []string{"ticket_issued", "called", "service_started", "service_ended"}, "the case's timeline is whole")
		require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys("#clip-reason", "演示 投诉核查"), chromedp.Click("#clip-play")))
		video := `document.getElementById('clip-video')`
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const v = `+video+`;
			return !!v && v.videoWidth > 0 && v.currentTime > 1; })()`, chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err, "the clip plays")
		t1, err := chromedp.Run(ctx, chromedp.Evaluate[float64](video+`.currentTime`))
		require.NoError(t, err)
		time.Sleep(time.Second)
		t2, err := chromedp.Run(ctx, chromedp.Evaluate[float64](video+`.currentTime`))
		require.NoError(t, err)
		require.Greater(t, t2, t1, "currentTime advances")
		playing := time.Since(d.started)
		t.Logf("the auditor's clip plays %s after the demo started", playing.Round(time.Second))
		require.Less(t, playing, demoWithin, "a recorded case plays within %s of the start", demoWithin)
		saveScreenshot(t, ctx, "demo-auditor-clip")
		requireTranslated(t, ctx)
	})

	t.Run("ctrl-c", func(t *testing.T) {
		require.NoError(t, syscall.Kill(-d.cmd.Process.Pid, syscall.SIGINT))
		done := make(chan error, 1)
		go func() { done <- d.cmd.Wait() }()
		select {
		case err := <-done:
			require.NoError(t, err, "Ctrl-C ends the demo with status 0")
		case <-time.After(60 * time.Second):
			t.Fatal("the demo did not stop within 60 s of Ctrl-C")
		}
	})
}

type demoRun struct {
	cmd     *exec.Cmd
	url     string
	started time.Time
}

// startDemo runs scripts/demo.sh in a fresh directory on free ports, with
// this test binary as the sunlight binary, and waits for its banner.
func startDemo(t *testing.T) *demoRun {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := t.TempDir()
	httpPort := freePort(t)
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "demo.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "SUNLIGHT_BE_MAIN=1", "SUNLIGHT_BIN="+os.Args[0], "DEMO_DIR="+dir,
		fmt.Sprintf("DEMO_HTTP_PORT=%d", httpPort), fmt.Sprintf("DEMO_RTSP_PORT=%d", freePort(t)),
		fmt.Sprintf("DEMO_CLICKHOUSE_PORT=%d", freePort(t)), fmt.Sprintf("DEMO_CLICKHOUSE_HTTP_PORT=%d", freePort(t)),
		fmt.Sprintf("DEMO_WEBRTC_PORT=%d", freeUDPPort(t)))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C goes to the group
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	d := &demoRun{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", httpPort), started: time.Now()}
	require.NoError(t, cmd.Start())
	var mu sync.Mutex
	var log strings.Builder
	banner := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		said := false
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !said && strings.Contains(sc.Text(), "Sunlight is running") {
				said = true
				close(banner)
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("make demo output:\n%s", log.String())
			mu.Unlock()
			for _, f := range []string{"serve.log", "simulate.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
					t.Logf("%s (last 4 KB):\n%s", f, b[max(0, len(b)-4096):])
				}
			}
		}
	})
	select {
	case <-banner:
	case <-time.After(demoWithin):
		t.Fatalf("no banner within %s", demoWithin)
	}
	return d
}

func (d *demoRun) token(t *testing.T, user, password string) string {
	t.Helper()
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, password)
	resp, err := http.Post(d.url+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "sign in as %s", user)
	var r struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	return r.Token
}

func (d *demoRun) getJSON(t *testing.T, token, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, d.url+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
}
