package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/console"
)

// TestConsoleInBrowser drives the web console in headless Chromium against
// serve + simulate (cameras, live events and two days of history): each
// role sees only its pages, the live wall plays, the dashboards draw
// ClickHouse's numbers, a case's clip plays beside its timeline, and the
// public lookup shows progress without personal data. Every step saves a
// screenshot (the test's artifact dir; also $SUNLIGHT_SCREENSHOTS).
func TestConsoleInBrowser(t *testing.T) {
	chromium := requireChromium(t)
	h := startConsoleHall(t)
	if !h.consoleBuilt(t) {
		t.Skip("the web console was not built into the binary: run make web (make test does)")
	}
	browser := newBrowser(t, chromium)

	t.Run("roles", func(t *testing.T) {
		pages := map[console.Role][]string{
			console.RoleInspector: {"live", "alerts"},
			console.RoleManager:   {"analytics", "alerts"},
			console.RoleAuditor:   {"cases", "audit"},
			console.RoleAdmin:     {"live", "analytics", "cases", "alerts", "audit"},
		}
		all := []string{"live", "analytics", "cases", "alerts", "audit"}
		for _, role := range console.Roles {
			t.Run(string(role), func(t *testing.T) {
				ctx := newTab(t, browser, 40*time.Second)
				loginUI(t, ctx, h.url, role)
				nav, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.topbar .nav a')].map(a => a.dataset.page)`))
				require.NoError(t, err)
				require.Equal(t, pages[role], nav, "the navigation offers exactly this role's pages")
				saveScreenshot(t, ctx, "roles-"+string(role))
				for _, p := range all {
					if slices.Contains(pages[role], p) {
						continue
					}
					// Typing the address of another role's page gets a
					// refusal, not the page (the API refuses its data too).
					require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/#/"+p), chromedp.WaitVisible("#forbidden")))
				}
				requireTranslated(t, ctx)
				requireNoCSPViolations(t, ctx)
			})
		}
	})

	t.Run("session ends", func(t *testing.T) {
		ctx := newTab(t, browser, 40*time.Second)
		loginUI(t, ctx, h.url, console.RoleInspector)
		require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(".tile")))
		// The session dies behind the page's back (as at expiry): the wall's
		// next poll gets a 401 and the page goes back to the sign-in form
		// with a message instead of showing errors.
		// (A POST signed in by the cookie carries the session's CSRF token.)
		status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/api/v1/auth/me').then(r => r.json()).then(me =>
			fetch('/api/v1/auth/logout', {method: 'POST', headers: {'X-CSRF-Token': me.csrf_token}})).then(r => r.status)`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		msg := waitText(t, ctx, "#login-msg", 10*time.Second)
		require.Contains(t, msg, "登录已过期")
		saveScreenshot(t, ctx, "session-expired")

		// And an explicit sign-out says so, and ends the session on the
		// server: the console's POST carries the session's CSRF token.
		meStatus := func() int {
			t.Helper()
			status, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/api/v1/auth/me').then(r => r.status)`, chromedp.EvalAwaitPromise))
			require.NoError(t, err)
			return status
		}
		loginUI(t, ctx, h.url, console.RoleInspector)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click("#logout")))
		require.Contains(t, waitText(t, ctx, "#login-msg", 10*time.Second), "已安全退出")
		require.Equal(t, http.StatusUnauthorized, meStatus(), "the sign-out revoked the session")

		// Signed in again behind the page's back (another tab): the page
		// holds the old session's CSRF token, its sign-out gets
		// csrf_token_invalid, takes the new session's token and succeeds.
		loginUI(t, ctx, h.url, console.RoleInspector)
		status, err = chromedp.Run(ctx, chromedp.Evaluate[int](`fetch('/api/v1/auth/login', {method: 'POST', headers: {'Content-Type': 'application/json'},
			body: JSON.stringify({username: 'inspector', password: 'inspectorinspector'})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click("#logout")))
		require.Contains(t, waitText(t, ctx, "#login-msg", 10*time.Second), "已安全退出")
		require.Equal(t, http.StatusUnauthorized, meStatus(), "the sign-out with the refreshed token revoked the new session")
		requireNoCSPViolations(t, ctx)
	})

	t.Run("live wall", func(t *testing.T) {
		ctx := newTab(t, browser, 60*time.Second)
		loginUI(t, ctx, h.url, console.RoleInspector)
		video := `document.querySelector('.tile[data-window="A01"] video')`
		width, err := chromedp.Run(ctx, chromedp.Poll[int](`(() => { const v = `+video+`;
			return v && v.videoWidth > 0 && v.currentTime > 0 ? v.videoWidth : 0; })()`, chromedp.WithPollingTimeout(25*time.Second)))
		require.NoError(t, err, "the A01 tile plays")
		require.Equal(t, 640, width)
		var times []float64
		for i := 0; i <= 5; i++ {
			ct, err := chromedp.Run(ctx, chromedp.Evaluate[float64](video+`.currentTime`))
			require.NoError(t, err)
			times = append(times, ct)
			if i < 5 {
				time.Sleep(time.Second)
			}
		}
		t.Logf("A01 tile currentTime over 5 s: %v", times)
		for i := 1; i < len(times); i++ {
			require.Greater(t, times[i], times[i-1], "currentTime advances every second")
		}
		// The overlay carries the window's live state from the API.
		overlay, err := chromedp.Run(ctx, chromedp.Text(`.tile[data-window="A01"] .ov-top`))
		require.NoError(t, err)
		require.Contains(t, overlay, "A01")
		require.Contains(t, overlay, "市场监管局")
		require.Contains(t, overlay, "在线")
		saveScreenshot(t, ctx, "live-wall")

		// A click focuses the tile; the video keeps playing there.
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(`.tile[data-window="A01"]`), chromedp.WaitVisible("#wall-back")))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.wall-grid .tile').length`))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		requireTranslated(t, ctx)
	})

	t.Run("dashboard", func(t *testing.T) {
		// A queue system that sends a service end alone (no ticket, no
		// call, no start): the data-quality panel names what is missing.
		now := time.Now()
		h.postEvents(t, fmt.Sprintf(`{"event_id":"e2e-q-%d","type":"service_ended","ts":%q,"hall":"city-main","window":"A02","ticket":"Q901"}`,
			now.UnixNano(), now.Format(time.RFC3339Nano)))
		manager := h.token(t, console.RoleManager)
		hallZone, err := time.LoadLocation("Asia/Shanghai") // the demo config's zone
		require.NoError(t, err)
		day := func(d int) string { return now.In(hallZone).AddDate(0, 0, d).Format("2006-01-02") }
		require.Eventually(t, func() bool {
			var q struct {
				Rows []analytics.QualityRow `json:"rows"`
			}
			return h.getJSON(t, manager, "/api/v1/analytics/quality?from="+day(-1)+"&to="+day(1), &q) == http.StatusOK &&
				slices.ContainsFunc(q.Rows, func(r analytics.QualityRow) bool { return r.Window == "A02" && r.EndWithoutStart > 0 })
		}, 30*time.Second, 200*time.Millisecond, "the quality API counts the service end without its start")

		ctx := newTab(t, browser, 60*time.Second)
		loginUI(t, ctx, h.url, console.RoleManager)
		loaded, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById('page').dataset.loaded || ''`,
			chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err)
		if loaded == "error" {
			banner, _ := chromedp.Run(ctx, chromedp.Text("#an-banner"))
			t.Fatalf("the dashboard could not load: %s", banner)
		}
		require.Equal(t, "api", loaded)
		drawn, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.chart')].filter(c => c.dataset.rendered === 'data' && c.querySelector('canvas')).map(c => c.id)`))
		require.NoError(t, err)
		t.Logf("charts drawn with data: %v", drawn)
		for _, id := range []string{"chart-hour", "chart-heat", "chart-wait", "chart-handle", "chart-windows", "chart-depts", "chart-rating"} {
			require.Contains(t, drawn, id, "chart %s has data from ClickHouse", id)
		}
		served, err := chromedp.Run(ctx, chromedp.Text(`#kpi-cards .kpi:first-child .kpi-value`))
		require.NoError(t, err)
		require.Regexp(t, `^[1-9][0-9,]*$`, served, "cases served in the period")
		// The hall's history is a few days: the previous 30 days hold
		// nothing, and the cards say so instead of comparing with zeros.
		foot, err := chromedp.Run(ctx, chromedp.Text(`#kpi-cards .kpi:first-child .kpi-foot`))
		require.NoError(t, err)
		require.Equal(t, "上期无数据", strings.TrimSpace(foot))
		// Drill down from the tier to its halls.
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#drill-table tbody tr[data-key="city"]`), chromedp.WaitVisible(`#drill-table tbody tr[data-key="city-main"]`)))
		missing, err := chromedp.Run(ctx, chromedp.Text(`#quality-table tbody tr[data-key="city-main/A02"]`))
		require.NoError(t, err, "the data-quality panel lists A02")
		t.Logf("data-quality row of A02: %s", missing)

		// A one-star rating raises a red alert at once: its pop-up leaves
		// the dashboard's controls free, and its × dismisses it without
		// leaving the page.
		h.postEvents(t, fmt.Sprintf(`{"event_id":"e2e-red-%d","type":"rating","ts":%q,"hall":"city-main","window":"A01","ticket":"Z902","rating":1}`,
			time.Now().UnixNano(), time.Now().Format(time.RFC3339Nano)))
		require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(`#toasts .red-banner`)))
		covered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
			const t = document.querySelector('#toasts .red-banner').getBoundingClientRect();
			return [...document.querySelectorAll('#page button, #page select, #page input')].filter((c) => {
				const r = c.getBoundingClientRect();
				return r.width > 0 && r.left < t.right && t.left < r.right && r.top < t.bottom && t.top < r.bottom;
			}).map((c) => c.id || c.className || c.tagName);
		})()`))
		require.NoError(t, err)
		require.Empty(t, covered, "controls under the red alert pop-up")
		saveScreenshot(t, ctx, "dashboard")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#toasts .toast-close`), chromedp.WaitNotPresent(`#toasts .red-banner`)))
		page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash`))
		require.NoError(t, err)
		require.Equal(t, "#/analytics", page, "dismissing stays on the dashboard")
		requireTranslated(t, ctx)

		// A chart's tooltip is HTML with style attributes (its colour
		// markers): the CSP allows those, and nothing else inline.
		tip, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => {
			const el = document.getElementById('chart-hour');
			el.sunlightChart.chart.dispatchAction({ type: 'showTip', seriesIndex: 0, dataIndex: 0 });
			const d = [...el.querySelectorAll('div')].find((d) => d.innerHTML.includes('style=') && d.offsetParent && d.textContent.trim());
			return d ? d.innerHTML : '';
		})()`, chromedp.WithPollingTimeout(10*time.Second)))
		require.NoError(t, err, "the hourly chart shows a tooltip")
		t.Logf("tooltip: %.120s", tip)
		requireNoCSPViolations(t, ctx)
	})

	t.Run("english", func(t *testing.T) {
		ctx := newTab(t, browser, 60*time.Second)
		loginUI(t, ctx, h.url, console.RoleAdmin)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/#/analytics"), chromedp.WaitVisible("#kpi-cards .kpi"),
			chromedp.Click(".topbar-right button")))
		nav, err := chromedp.Run(ctx, chromedp.Poll[string](`(() => { const t = document.querySelector('.topbar .nav').textContent;
			return t.includes('Analytics') ? t : ''; })()`, chromedp.WithPollingTimeout(10*time.Second)))
		require.NoError(t, err, "the language switch re-renders the page in English")
		require.NotRegexp(t, `\p{Han}`, nav)
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById('page').dataset.loaded === 'api'`, chromedp.WithPollingTimeout(20*time.Second)))
		require.NoError(t, err)
		saveScreenshot(t, ctx, "dashboard-en")
		requireTranslated(t, ctx)
	})

	caseID := h.serveCase(t)

	t.Run("case clip", func(t *testing.T) {
		// The auditor finds the case in the list of recent cases with
		// footage, without knowing its ID (once its visit is stored).
		auditor := h.token(t, console.RoleAuditor)
		require.Eventually(t, func() bool {
			var r struct {
				Cases []analytics.RecordedCase `json:"cases"`
			}
			return h.getJSON(t, auditor, "/api/v1/cases", &r) == http.StatusOK &&
				slices.ContainsFunc(r.Cases, func(c analytics.RecordedCase) bool { return c.CaseID == caseID && c.Recorded > 0 })
		}, 30*time.Second, 200*time.Millisecond, "GET /api/v1/cases lists %s as recorded", caseID)
		ctx := newTab(t, browser, 60*time.Second)
		loginUI(t, ctx, h.url, console.RoleAuditor)
		link := fmt.Sprintf(`#recorded-cases a[data-case=%q]`, caseID)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/#/cases"), chromedp.WaitVisible(link)))
		saveScreenshot(t, ctx, "cases-recorded")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(link), chromedp.WaitVisible("#case-timeline")))
		events, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#case-timeline li')].map(li => li.dataset.type)`))
		require.NoError(t, err)
		require.Equal(t, []string{"ticket_issued", "called", "service_started", "case_accepted", "service_ended"}, events)

		// No reason, no video.
		require.NoError(t, chromedp.Do(ctx, chromedp.Click("#clip-play")))
		require.Contains(t, waitText(t, ctx, ".reason-form .form-msg", 5*time.Second), "调阅事由")
		require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys("#clip-reason", "e2e 投诉核查"), chromedp.Click("#clip-play")))
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const v = document.getElementById('clip-video');
			return !!v && v.videoWidth > 0 && v.currentTime > 1; })()`, chromedp.WithPollingTimeout(30*time.Second)))
		require.NoError(t, err, "the clip plays")
		sha, err := chromedp.Run(ctx, chromedp.Text("#clip-sha"))
		require.NoError(t, err)
		require.Regexp(t, `^[0-9a-f]{64}$`, sha)
		markers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#clip-seek .marker')].map(m => m.dataset.type)`))
		require.NoError(t, err)
		require.Subset(t, markers, []string{"service_started", "case_accepted", "service_ended"}, "the events during service are marked on the seek bar")
		// The signed evidence link downloads the export zip with the
		// session cookie and the reason given.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
			const a = document.getElementById('clip-export');
			const r = await fetch(a.href);
			const b = new Uint8Array(await r.arrayBuffer());
			return [r.status, r.headers.get('Content-Type'), String.fromCharCode(b[0], b[1]), new URL(a.href).searchParams.get('reason')].join(' ');
		})()`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		require.Equal(t, "200 application/zip PK e2e 投诉核查", got)
		saveScreenshot(t, ctx, "case-clip")
		requireTranslated(t, ctx)
	})

	t.Run("audit log", func(t *testing.T) {
		// The live wall above opened a tile's session each: the API lists
		// them one by one, the page as one line per layout.
		admin := h.token(t, console.RoleAdmin)
		var log struct {
			Entries []struct{ Action string } `json:"entries"`
		}
		require.Equal(t, http.StatusOK, h.getJSON(t, admin, "/api/v1/audit?action=live_start", &log))
		ctx := newTab(t, browser, 60*time.Second)
		loginUI(t, ctx, h.url, console.RoleAuditor)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/#/audit"), chromedp.WaitVisible(`#audit-table tr[data-action="clip"]`)))
		clip, err := chromedp.Run(ctx, chromedp.Text(`#audit-table tr[data-action="clip"] td:nth-child(3)`))
		require.NoError(t, err)
		require.Equal(t, "调阅录像", clip, "the action's name, not its code")
		lines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#audit-table tr[data-action="live_start"]').length`))
		require.NoError(t, err)
		t.Logf("live_start: %d entries, %d lines", len(log.Entries), lines)
		require.Greater(t, len(log.Entries), 1)
		require.Less(t, lines, len(log.Entries), "sessions opened together are one line")
		// Filtered to the case's clip views.
		_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.getElementById('audit-action');
			s.value = 'clip'; return s.dispatchEvent(new Event('change')); })()`))
		require.NoError(t, err)
		require.NoError(t, chromedp.Do(ctx, chromedp.WaitNotPresent(`#audit-table tr[data-action="live_start"]`)))
		saveScreenshot(t, ctx, "audit")
		requireTranslated(t, ctx)
	})

	t.Run("public lookup", func(t *testing.T) {
		ctx := newTab(t, browser, 30*time.Second)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/#/public/case/"+caseID), chromedp.WaitVisible("#pub-case")))
		text, err := chromedp.Run(ctx, chromedp.Text("#pub-case"))
		require.NoError(t, err)
		require.Contains(t, text, caseID)
		require.Contains(t, text, "企业设立登记")
		require.Contains(t, text, "办理中")
		for _, private := range []string{"A01", "E2E-STAFF", "Z901"} {
			require.NotContains(t, text, private, "the public page names no window, staff or ticket")
		}
		saveScreenshot(t, ctx, "public-case")
		requireTranslated(t, ctx)
	})
}

// consoleHall is serve + simulate with cameras, live events (hall always
// open) and two days of history.
type consoleHall struct {
	*liveHall
}

// startConsoleHall starts the hall of writeConfig with extraConfig (more
// top-level keys) appended.
func startConsoleHall(t *testing.T, extraConfig ...string) *consoleHall {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (make deps)", bin)
		}
	}
	dir := t.TempDir()
	rtspPort := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	h := &liveHall{url: "http://" + listen, rtsp: fmt.Sprintf("127.0.0.1:%d", rtspPort), dir: dir}
	h.chPort = freePort(t)
	h.cfgPath = writeConfig(t, dir, listen, h.chPort, freePort(t), rtspPort, append([]string{"recording:\n  segment_seconds: 2\n"}, extraConfig...)...)
	for _, r := range console.Roles {
		require.NoError(t, console.AddUser(filepath.Join(dir, "users.yaml"), string(r), r, string(r)+string(r)))
	}
	h.startServe(t)
	h.simulate = startSunlight(t, "simulate", "--config", h.cfgPath, "--api-key", "demo-queue-key",
		"--rtsp-listen", h.rtsp, "--always-open", "--backfill", "2d")
	ch := &consoleHall{h}
	inspector := h.token(t, console.RoleInspector)
	h.waitOnline(t, inspector, "A01")
	h.waitOnline(t, inspector, "A02")
	// The dashboards need the history in ClickHouse.
	manager := h.token(t, console.RoleManager)
	require.Eventually(t, func() bool {
		var out struct{ Rows []struct{ Served int } }
		if ch.getJSON(t, manager, "/api/v1/analytics/kpi?level=window&from="+time.Now().AddDate(0, 0, -3).Format("2006-01-02"), &out) != http.StatusOK {
			return false
		}
		served := 0
		for _, r := range out.Rows {
			served += r.Served
		}
		return served > 0
	}, 90*time.Second, time.Second, "the backfilled history reaches the KPI API")
	return ch
}

// consoleBuilt reports whether the binary embeds the built console rather
// than the "not built" page.
func (h *consoleHall) consoleBuilt(t *testing.T) bool {
	resp, err := http.Get(h.url + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode == http.StatusOK && strings.Contains(string(page), "/assets/")
}

func (h *consoleHall) getJSON(t *testing.T, token, path string, out any) int {
	req, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return 0
		}
	}
	return resp.StatusCode
}

// postEvents posts events (JSON objects) as the queue system would.
func (h *consoleHall) postEvents(t *testing.T, events ...string) {
	t.Helper()
	body := "[" + strings.Join(events, ",") + "]"
	req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/events", strings.NewReader(body))
	req.Header.Set("X-API-Key", "demo-queue-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
}

// serveCase posts one served case at A01 as the queue system would, a few
// seconds of it while the camera records, and returns its id once the
// recording covers the service.
func (h *consoleHall) serveCase(t *testing.T) string {
	t.Helper()
	caseID := fmt.Sprintf("E2E-%d", time.Now().UnixNano()%1e9)
	post := func(events ...string) { h.postEvents(t, events...) }
	ev := func(n int, typ string, at time.Time, extra string) string {
		return fmt.Sprintf(`{"event_id":"%s-%d","type":%q,"ts":%q,"hall":"city-main","ticket":"Z901"%s}`,
			caseID, n, typ, at.Format(time.RFC3339Nano), extra)
	}
	// The clip pads the service by 5 s on each side: the camera must have
	// been recording for longer than that when the service starts, or the
	// padding is a gap (a test that serves a case right after the cameras
	// came up).
	if wait := 8*time.Second - time.Since(h.cameraState(t, h.token(t, console.RoleInspector), "A01").Since); wait > 0 {
		time.Sleep(wait)
	}
	start := time.Now()
	atWindow := `,"window":"A01","staff":"E2E-STAFF"`
	post(ev(1, "ticket_issued", start.Add(-2*time.Minute), `,"item":"SC-001"`),
		ev(2, "called", start.Add(-3*time.Second), atWindow),
		ev(3, "service_started", start, atWindow))
	time.Sleep(3 * time.Second)
	post(ev(4, "case_accepted", time.Now(), atWindow+`,"case_id":"`+caseID+`","item":"SC-001"`))
	time.Sleep(3 * time.Second)
	post(ev(5, "service_ended", time.Now(), atWindow+`,"case_id":"`+caseID+`"`))
	auditor := h.token(t, console.RoleAuditor)
	require.Eventually(t, func() bool {
		var out struct {
			Intervals []struct {
				Segments []json.RawMessage
				Gaps     []json.RawMessage
			}
		}
		if h.getJSON(t, auditor, "/api/v1/cases/"+caseID+"/recordings?reason=e2e+setup", &out) != http.StatusOK || len(out.Intervals) == 0 {
			return false
		}
		return len(out.Intervals[0].Segments) > 0 && len(out.Intervals[0].Gaps) == 0
	}, 30*time.Second, 500*time.Millisecond, "the recording covers case %s", caseID)
	// The writer stores events every few seconds while they trickle in:
	// the timeline is complete once the last one is stored.
	require.Eventually(t, func() bool {
		var out struct{ Events []json.RawMessage }
		return h.getJSON(t, auditor, "/api/v1/cases/"+caseID, &out) == http.StatusOK && len(out.Events) == 5
	}, 30*time.Second, 500*time.Millisecond, "case %s has its five events stored", caseID)
	return caseID
}

func newBrowser(t *testing.T, chromium string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.WindowSize(1600, 900), chromedp.Flag("lang", "zh-CN"))
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx)) // start the browser
	return ctx
}

// newTab opens a tab in a fresh browser context (no cookies shared with
// the other tabs), closed with the test, that records CSP violations
// (requireNoCSPViolations reads them).
func newTab(t *testing.T, browser context.Context, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTimeout)
	recordCSPViolations(t, ctx)
	return ctx
}

// loginUI signs in through the form as the test user of role.
func loginUI(t *testing.T, ctx context.Context, base string, role console.Role) {
	t.Helper()
	loginAs(t, ctx, base, string(role), string(role)+string(role))
}

// loginAs signs in through the form, as a person would.
func loginAs(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"/#/login"),
		chromedp.WaitVisible("#username"),
		chromedp.SendKeys("#username", user),
		chromedp.SendKeys("#password", password),
		chromedp.Click("#login-submit"),
		chromedp.WaitVisible(".topbar .nav"),
	), "sign in as %s", user)
}

func waitText(t *testing.T, ctx context.Context, sel string, within time.Duration) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Poll[string](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ''`, sel),
		chromedp.WithPollingTimeout(within)))
	require.NoError(t, err, "text in %s", sel)
	return text
}

// requireTranslated fails when the page used a string missing from the
// translations (the console records each one it shows as its key).
func requireTranslated(t *testing.T, ctx context.Context) {
	t.Helper()
	missing, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.sunlightMissingI18n || []`))
	require.NoError(t, err)
	require.Empty(t, missing, "strings without a translation")
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// saveScreenshot writes a PNG of the whole page into the test's artifact
// directory (kept with go test -artifacts) and $SUNLIGHT_SCREENSHOTS.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("SUNLIGHT_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	screenshotTo(t, ctx, name, dirs...)
}

// screenshotTo writes a PNG of the whole page, name.png, into each of dirs.
func screenshotTo(t *testing.T, ctx context.Context, name string, dirs ...string) {
	t.Helper()
	// From the top, so the sticky bar sits where a person sees it; after
	// the charts' animation.
	_, err := chromedp.Run(ctx, chromedp.Evaluate[any](`window.scrollTo(0, 0)`))
	require.NoError(t, err)
	time.Sleep(700 * time.Millisecond)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	name = unsafeName.ReplaceAllString(name, "-") + ".png"
	for _, d := range dirs {
		require.NoError(t, os.MkdirAll(d, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, name), shot, 0o644))
	}
	t.Logf("screenshot %s", filepath.Join(dirs[len(dirs)-1], name))
}
