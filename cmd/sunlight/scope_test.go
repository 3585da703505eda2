package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/console"
	"github.com/sunlight-gov/sunlight/internal/whepclient"
)

// districtHall is a district hall under city-main, its window X01 on the
// simulator's cameras like the city's.
func districtHall(rtsp string) string {
	return fmt.Sprintf(`  - id: district-xincheng
    name: 新城区政务服务中心
    tier: district
    parent: city-main
    windows:
      - id: X01
        department: 市场监管局
        items: [SC-001]
        camera: rtsp://%s/window/X01
items:
`, rtsp)
}

// TestScopedUsers (issue 17, acceptance): users added with `user add
// --scope district-xincheng` against the real server, cameras and
// ClickHouse: the district inspector gets 403 on the city window's WHEP
// and plays its own window; the district auditor gets 403 on a city case's
// clip and the clip of its district's case; the district manager 403 on
// the city hall's KPIs and its own hall's rows.
func TestScopedUsers(t *testing.T) {
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (make deps)", bin)
		}
	}
	dir := t.TempDir()
	rtspPort := freePort(t)
	listen := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	h := &liveHall{url: "http://" + listen, rtsp: fmt.Sprintf("127.0.0.1:%d", rtspPort), dir: dir, chPort: freePort(t)}
	h.cfgPath = writeConfig(t, dir, listen, h.chPort, freePort(t), rtspPort, "recording:\n  segment_seconds: 2\n  clip_padding_seconds: 1\n")
	cfg, err := os.ReadFile(h.cfgPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(h.cfgPath, []byte(strings.Replace(string(cfg), "items:\n", districtHall(h.rtsp), 1)), 0o644))
	for _, r := range console.Roles {
		require.NoError(t, console.AddUser(dir+"/users.yaml", string(r), r, string(r)+string(r)))
	}

	var out, errOut bytes.Buffer
	err = user([]string{"add", "--config", h.cfgPath, "--username", "x", "--role", "inspector", "--scope", "district-xincheng,nowhere,elsewhere"},
		strings.NewReader("a-long-password\n"), &out, &errOut)
	require.ErrorContains(t, err, "--scope: unknown hall id(s) nowhere, elsewhere")
	for _, r := range []console.Role{console.RoleInspector, console.RoleAuditor, console.RoleManager} {
		out.Reset()
		require.NoError(t, user([]string{"add", "--config", h.cfgPath, "--username", "x-" + string(r), "--role", string(r), "--scope", "district-xincheng"},
			strings.NewReader("district-"+string(r)+"\n"), &out, &errOut))
		require.Contains(t, out.String(), "halls district-xincheng and those under them")
	}
	h.startCameras(t)
	h.startServe(t)
	login := func(user string) string {
		body := fmt.Sprintf(`{"username":%q,"password":%q}`, user, "district-"+strings.TrimPrefix(user, "x-"))
		resp, err := http.Post(h.url+"/api/v1/auth/login", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var tok struct{ Token string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
		return tok.Token
	}
	inspector, auditor, manager := login("x-inspector"), login("x-auditor"), login("x-manager")
	cityInspector := h.token(t, console.RoleInspector)
	h.waitOnline(t, cityInspector, "A01")
	h.waitOnline(t, inspector, "X01")

	t.Run("console", func(t *testing.T) {
		if !(&consoleHall{h}).consoleBuilt(t) {
			t.Skip("the web console is not built (make web)")
		}
		ctx := newTab(t, newBrowser(t, requireChromium(t)), 60*time.Second)
		loginAs(t, ctx, h.url, "x-inspector", "district-inspector")
		require.NoError(t, chromedp.Do(ctx,
			chromedp.Navigate(h.url+"/#/live"),
			chromedp.WaitVisible(`.tree-row[data-hall="district-xincheng"]`),
			chromedp.WaitVisible(`.tree-row[data-window="X01"]`),
			chromedp.WaitVisible(`.tile`)))
		scope, err := chromedp.Run(ctx, chromedp.Text("#user-scope"))
		require.NoError(t, err)
		cityRows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-hall="city-main"], [data-window="A01"]').length`))
		require.NoError(t, err)
		tiles, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('.win-id')].filter((e) => e.textContent === 'X01').length`))
		require.NoError(t, err)
		require.Contains(t, scope, "district-xincheng", "the top bar names the scope")
		require.Zero(t, cityRows, "the city hall is not on a district wall")
		require.Equal(t, 1, tiles, "the district window has its tile")
		saveScreenshot(t, ctx, "live-wall-district-scope")
	})
	t.Run("live", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		auth := http.Header{"Authorization": {"Bearer " + inspector}}
		_, err := whepclient.Dial(ctx, h.url+"/api/v1/live/A01/whep", whepclient.Options{Header: auth})
		require.ErrorContains(t, err, "403")
		viewer, err := whepclient.Dial(ctx, h.url+"/api/v1/live/X01/whep", whepclient.Options{Header: auth})
		require.NoError(t, err)
		defer viewer.Close()
		au, err := viewer.Next(10 * time.Second)
		require.NoError(t, err)
		require.True(t, au.IDR, "the district's own window plays")
	})

	// One case at each hall, served on recorded time.
	time.Sleep(4 * time.Second)
	start := time.Now().Truncate(time.Second)
	end := start.Add(4 * time.Second)
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	var events []string
	for _, c := range []struct{ hall, window, ticket, id string }{{"city-main", "A01", "A009", "CM-9"}, {"district-xincheng", "X01", "X009", "XC-9"}} {
		events = append(events, fmt.Sprintf(`
 {"event_id":"%[1]s-1","type":"ticket_issued","ts":%[5]q,"hall":%[2]q,"ticket":%[4]q,"item":"SC-001"},
 {"event_id":"%[1]s-2","type":"called","ts":%[6]q,"hall":%[2]q,"window":%[3]q,"ticket":%[4]q},
 {"event_id":"%[1]s-3","type":"service_started","ts":%[7]q,"hall":%[2]q,"window":%[3]q,"ticket":%[4]q},
 {"event_id":"%[1]s-4","type":"case_accepted","ts":%[8]q,"hall":%[2]q,"window":%[3]q,"ticket":%[4]q,"case_id":%[1]q,"item":"SC-001"},
 {"event_id":"%[1]s-5","type":"service_ended","ts":%[9]q,"hall":%[2]q,"window":%[3]q,"ticket":%[4]q,"case_id":%[1]q}`,
			c.id, c.hall, c.window, c.ticket, ts(start.Add(-time.Minute)), ts(start.Add(-10*time.Second)), ts(start), ts(start.Add(time.Second)), ts(end)))
	}
	for time.Now().Before(end.Add(5 * time.Second)) { // the footage must exist, and its segments be closed
		time.Sleep(200 * time.Millisecond)
	}
	req, _ := http.NewRequest(http.MethodPost, h.url+"/api/v1/events", strings.NewReader("["+strings.Join(events, ",")+"]"))
	req.Header.Set("X-API-Key", "demo-queue-key")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Eventually(t, func() bool {
		status, _, _ := h.get(t, h.token(t, console.RoleAuditor), "/api/v1/cases/CM-9", nil)
		status2, _, _ := h.get(t, auditor, "/api/v1/cases/XC-9", nil)
		return status == http.StatusOK && status2 == http.StatusOK
	}, 15*time.Second, 100*time.Millisecond, "the cases are stored")

	t.Run("clip", func(t *testing.T) {
		status, _, body := h.get(t, auditor, "/api/v1/cases/CM-9/clip?reason=review", nil)
		require.Equal(t, http.StatusForbidden, status, string(body))
		require.Contains(t, string(body), `"code":"case_out_of_scope"`)
		status, hdr, clip := h.get(t, auditor, "/api/v1/cases/XC-9/clip?reason=review", nil)
		require.Equal(t, http.StatusOK, status, string(clip))
		require.Equal(t, "video/mp4", hdr.Get("Content-Type"))
		require.Greater(t, len(clip), 1000)
		// The city's auditor still gets the city's clip.
		status, _, body = h.get(t, h.token(t, console.RoleAuditor), "/api/v1/cases/CM-9/clip?reason=review", nil)
		require.Equal(t, http.StatusOK, status, string(body[:min(len(body), 200)]))
	})
	t.Run("kpi", func(t *testing.T) {
		q := "/api/v1/analytics/kpi?level=hall&from=" + start.Add(-time.Hour).UTC().Format(time.RFC3339) +
			"&to=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		status, _, body := h.get(t, manager, q+"&hall=city-main", nil)
		require.Equal(t, http.StatusForbidden, status, string(body))
		require.Contains(t, string(body), `"code":"hall_out_of_scope"`)
		var tab struct{ Rows []struct{ Hall string } }
		status, _, body = h.get(t, manager, q, nil)
		require.Equal(t, http.StatusOK, status, string(body))
		require.NoError(t, json.Unmarshal(body, &tab))
		require.Len(t, tab.Rows, 1, string(body))
		require.Equal(t, "district-xincheng", tab.Rows[0].Hall)
		status, _, body = h.get(t, h.token(t, console.RoleManager), q, nil)
		require.Equal(t, http.StatusOK, status, string(body))
		require.NoError(t, json.Unmarshal(body, &tab))
		require.Len(t, tab.Rows, 2, "the city's manager sees both halls: %s", body)
	})
}
