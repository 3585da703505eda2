package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/console"
	"github.com/sunlight-gov/sunlight/internal/config"
)

// The zones of TestConsoleLanguages: the halls are neither in UTC, nor in
// the console's old default (Asia/Shanghai), nor in the browser's zone, so
// a time rendered in any of those is told apart from the halls' rendering.
const (
	i18nHallZone    = "Asia/Tokyo"
	i18nBrowserZone = "America/New_York"
)

// What the test types, which pages then show as it was typed.
const (
	i18nClipReason = "多语言核查"
	i18nAckComment = "已电话回访"
)

// TestConsoleLanguages signs in as each role, walks every page the role
// can open (and the public pages, signed in and not) in Chinese and in
// English, saves a full-page screenshot of each under $SUNLIGHT_SCREENSHOTS
// (default: a temporary directory, logged), and fails on:
//
//   - in English, Chinese text (Han characters or CJK punctuation) other
//     than data that has no English: hall and window names (the
//     configuration gives them in one language), departments and items
//     without a name_en, the catalog's materials, steps, legal basis and
//     fees, and what a person typed (a reason); and the language switch,
//     which names Chinese in Chinese;
//   - in Chinese, an English phrase of four words or more (codes, IDs and
//     single words are not phrases);
//   - on any page, an ISO time (T between date and time), a time marked Z
//     or UTC, or a time the API returned rendered in another zone than the
//     halls' (UTC, Asia/Shanghai or the browser's);
//
// and on any string missing from the translations. Chart labels are drawn
// on a canvas: they are read from the chart's option.
func TestConsoleLanguages(t *testing.T) {
	chromium := requireChromium(t)
	h := startConsoleHall(t, "timezone: "+i18nHallZone+"\n")
	if !h.consoleBuilt(t) {
		t.Skip("the web console was not built into the binary: run make web (make test does)")
	}
	cfg, err := config.Load(h.cfgPath)
	require.NoError(t, err)
	require.Equal(t, i18nHallZone, cfg.Location().String())
	dir := os.Getenv("SUNLIGHT_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	t.Logf("screenshots of every page in both languages: %s", dir)
	browser := newBrowser(t, chromium, chromedp.Env("TZ="+i18nBrowserZone))
	w := &langWalk{h: h, cfg: cfg, dir: dir, admin: h.token(t, console.RoleAdmin), caseID: h.serveCase(t)}
	w.hall, err = time.LoadLocation(i18nHallZone)
	require.NoError(t, err)
	w.raiseAndAckAlert(t)

	pages := w.pages()
	walks := []struct {
		who   string
		role  console.Role // empty: not signed in
		pages []string
	}{
		{"public", "", []string{"login", "public-case", "public-items"}},
		{"inspector", console.RoleInspector, []string{"live", "alerts", "public-case", "public-items"}},
		{"manager", console.RoleManager, []string{"analytics", "alerts", "public-case", "public-items"}},
		{"auditor", console.RoleAuditor, []string{"cases", "case", "bad-case", "audit", "public-case", "public-items"}},
		{"admin", console.RoleAdmin, []string{"live", "analytics", "cases", "case", "bad-case", "alerts", "audit", "public-case", "public-items"}},
	}
	for _, walk := range walks {
		t.Run(walk.who, func(t *testing.T) {
			ctx := newTab(t, browser, 6*time.Minute)
			if walk.role != "" {
				loginUI(t, ctx, h.url, walk.role)
			} else {
				require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/#/login"), chromedp.WaitVisible("#username")))
			}
			for _, lang := range []string{"zh", "en"} {
				// The language is read when the console loads.
				_, err := chromedp.Run(ctx, chromedp.Evaluate[any](fmt.Sprintf(`localStorage.setItem('sunlight.lang', %q)`, lang)))
				require.NoError(t, err)
				require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
				for _, name := range walk.pages {
					p := pages[name]
					t.Run(lang+"/"+name, func(t *testing.T) {
						require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(h.url+"/#/"+p.hash)))
						w.ready(t, ctx, p.ready)
						w.check(t, ctx, lang, walk.who, name)
						if p.then != nil {
							p.then(t, ctx, lang, walk.who, walk.role)
						}
					})
				}
			}
		})
	}
}

// langWalk is the state of TestConsoleLanguages.
type langWalk struct {
	h      *consoleHall
	cfg    *config.Config
	hall   *time.Location
	dir    string
	admin  string // a token, to read what the pages show from the API
	caseID string
}

type langPage struct {
	hash  string
	ready string // a JS expression, true once the page shows its data
	// then does more on the page (drills down, plays a clip) and checks it
	// again.
	then func(t *testing.T, ctx context.Context, lang, who string, role console.Role)
}

const badCaseID = "NO-SUCH-CASE-1"

func (w *langWalk) pages() map[string]langPage {
	return map[string]langPage{
		"login": {hash: "login", ready: `!!document.querySelector('#login-submit')`},
		"live": {hash: "live", ready: `!!document.querySelector('#hall-tree .tree-row') &&
			[...document.querySelectorAll('.tile .win-dept')].some((e) => e.textContent)`},
		"analytics": {hash: "analytics",
			ready: `document.getElementById('page').dataset.loaded === 'api' && !!document.querySelector('#drill-table') && !!document.querySelector('#quality .card-title')`,
			then: func(t *testing.T, ctx context.Context, lang, who string, role console.Role) {
				// Down the drill: tiers, the city's halls, the main hall's
				// windows (labelled with their departments).
				require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#drill-table tbody tr[data-key="city"]`),
					chromedp.WaitVisible(`#drill-table tbody tr[data-key="city-main"]`),
					chromedp.Click(`#drill-table tbody tr[data-key="city-main"]`),
					chromedp.WaitVisible(`#drill-table tbody tr[data-key="city-main/A01"]`)))
				w.check(t, ctx, lang, who, "analytics-drill")
			}},
		"cases": {hash: "cases", ready: `!!document.querySelector('#recorded-cases table, #recorded-cases .empty')`},
		"case": {hash: "cases/" + w.caseID, ready: `!!document.querySelector('#case-timeline')`,
			then: func(t *testing.T, ctx context.Context, lang, who string, role console.Role) {
				if role != console.RoleAuditor {
					return
				}
				// The recording, with the reason it is opened for.
				require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys("#clip-reason", i18nClipReason), chromedp.Click("#clip-play")))
				w.ready(t, ctx, `/^[0-9a-f]{64}$/.test((document.getElementById('clip-sha') || {}).textContent || '')`)
				w.check(t, ctx, lang, who, "case-clip")
			}},
		"bad-case": {hash: "cases/" + badCaseID, ready: `!!document.querySelector('#case-error')`,
			then: func(t *testing.T, ctx context.Context, lang, who string, role console.Role) {
				// The server's answer (case_not_found) in the page's language.
				text, err := chromedp.Run(ctx, chromedp.Text("#case-error"))
				require.NoError(t, err)
				want := map[string]string{"zh": "未找到办件 " + badCaseID, "en": "No case " + badCaseID}[lang]
				require.Equal(t, want, strings.TrimSpace(text))
			}},
		"alerts": {hash: "alerts", ready: `!!document.querySelector('#alert-list table, #alert-list .empty')`,
			then: func(t *testing.T, ctx context.Context, lang, who string, role console.Role) {
				// The history too, acknowledged alerts with it.
				_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.querySelector('select[data-filter="state"]');
					s.value = 'all'; return s.dispatchEvent(new Event('change')); })()`))
				require.NoError(t, err)
				w.ready(t, ctx, `!!document.querySelector('#alert-list table, #alert-list .empty') && !document.querySelector('#alert-list').textContent.includes('…')`)
				w.check(t, ctx, lang, who, "alerts-all")
			}},
		"audit":       {hash: "audit", ready: `!!document.querySelector('#audit-table, #page .card .empty')`},
		"public-case": {hash: "public/case/" + w.caseID, ready: `!!document.querySelector('#pub-case')`},
		"public-items": {hash: "public/items", ready: `!!document.querySelector('#pub-items .item')`,
			then: func(t *testing.T, ctx context.Context, lang, who string, role console.Role) {
				require.NoError(t, chromedp.Do(ctx, chromedp.Click(`#pub-items .item .item-head`), chromedp.WaitVisible(`#pub-items .item.open .item-body`)))
				w.check(t, ctx, lang, who, "public-item-open")
			}},
	}
}

func (w *langWalk) ready(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	// Before the page renders, the expression may read what is not there yet.
	poll := fmt.Sprintf(`(() => { try { return !!(%s); } catch { return false; } })()`, expr)
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](poll, chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		screenshotTo(t, ctx, "not-ready", w.dir)
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("the page did not show its data (%s): %v\n%s", expr, err, body)
	}
}

// pageTexts is what a person sees: the page's text, the placeholders and
// the choices of its inputs, and the labels of its charts.
const pageTexts = `(() => {
	const out = document.body.innerText.split('\n');
	for (const el of document.querySelectorAll('input[placeholder], textarea[placeholder]')) if (el.offsetParent) out.push(el.placeholder);
	for (const el of document.querySelectorAll('select option')) out.push(el.textContent);
	const walk = (v, key) => {
		if (typeof v === 'string') { if (key !== 'fontFamily' && key !== 'color' && !v.startsWith('#')) out.push(v); }
		else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
		else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
	};
	for (const el of document.querySelectorAll('.chart')) if (el.sunlightChart && el.sunlightChart.option) walk(el.sunlightChart.option, '');
	return out.map((s) => s.trim()).filter(Boolean);
})()`

var (
	// cjk is what cannot be English: Han characters, CJK punctuation
	// (、。「」) and full-width forms (（）：，).
	cjk = regexp.MustCompile(`[\p{Han}\x{3000}-\x{303F}\x{FF00}-\x{FFEF}]`)
	// phrase is four English words or more in a row.
	phrase = regexp.MustCompile(`[A-Za-z][A-Za-z'’]*(?:[ ,.:;!?()/-]+[A-Za-z][A-Za-z'’]*){3,}`)
	// utcForms are times no page may show: ISO (2026-01-02T03:04), or
	// marked as UTC.
	utcForms = []*regexp.Regexp{
		regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}`),
		regexp.MustCompile(`\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?Z\b`),
		regexp.MustCompile(`\b(UTC|GMT)\b`),
	}
)

// check reads the page's texts, saves its screenshot and applies the rules.
func (w *langWalk) check(t *testing.T, ctx context.Context, lang, who, page string) {
	t.Helper()
	screenshotTo(t, ctx, fmt.Sprintf("%s-%s-%s", page, lang, who), w.dir)
	texts, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](pageTexts))
	require.NoError(t, err)
	require.NotEmpty(t, texts)
	requireTranslated(t, ctx)
	requireNoCSPViolations(t, ctx)
	allowed := w.chineseData(page)
	wrong, right := w.timeRenderings(t)
	shownRight := false
	for _, s := range texts {
		switch lang {
		case "en":
			rest := s
			for _, a := range allowed {
				rest = strings.ReplaceAll(rest, a, "")
			}
			if cjk.MatchString(rest) {
				t.Errorf("%s, English: %q is Chinese (and not data that has no English name)", page, s)
			}
		case "zh":
			if m := phrase.FindString(s); m != "" {
				t.Errorf("%s, Chinese: %q holds the English %q", page, s, m)
			}
		}
		for _, re := range utcForms {
			if m := re.FindString(s); m != "" {
				t.Errorf("%s, %s: %q shows a UTC time %q", page, lang, s, m)
			}
		}
		for r, why := range wrong {
			if strings.Contains(s, r) {
				t.Errorf("%s, %s: %q shows %s (the halls are in %s)", page, lang, s, why, i18nHallZone)
			}
		}
		for _, r := range right {
			shownRight = shownRight || strings.Contains(s, r)
		}
	}
	// The rendering check would pass a page that shows no time at all.
	if page == "audit" || page == "case" {
		require.True(t, shownRight, "%s shows the API's times in the halls' zone", page)
	}
}

// chineseData is the Chinese that stays Chinese in English mode: the
// configuration's names and texts that have no English, what the test
// typed, and the language switch. Longest first, so that a name holding
// another is removed whole.
func (w *langWalk) chineseData(page string) []string {
	var out []string
	for _, hall := range w.cfg.Halls {
		out = append(out, hall.Name)
		for _, win := range hall.Windows {
			out = append(out, win.Name)
		}
	}
	for _, d := range w.cfg.AllDepartments() {
		if d.NameEN == "" {
			out = append(out, d.Name)
		}
	}
	for _, it := range w.cfg.Items {
		if it.NameEN == "" {
			out = append(out, it.Name)
		}
		out = append(out, it.LegalBasis, it.Fee)
		out = append(out, it.Materials...)
		out = append(out, it.Steps...)
	}
	out = append(out, i18nClipReason, i18nAckComment, "中文")
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// timeRenderings reads the times the pages show from the API and renders
// each as the console does (YYYY-MM-DD HH:MM:SS): right, in the halls'
// zone; wrong, in UTC, in the console's old default zone and in the
// browser's (unless that is also the halls' rendering of some time).
func (w *langWalk) timeRenderings(t *testing.T) (wrong map[string]string, right []string) {
	t.Helper()
	var instants []time.Time
	add := func(vs ...string) {
		for _, v := range vs {
			if ts, err := time.Parse(time.RFC3339Nano, v); err == nil {
				instants = append(instants, ts)
			}
		}
	}
	var audit struct{ Entries []struct{ TS string } }
	require.Equal(t, http.StatusOK, w.h.getJSON(t, w.admin, "/api/v1/audit?limit=500", &audit))
	for _, e := range audit.Entries {
		add(e.TS)
	}
	var alerts struct {
		Alerts []struct{ RaisedAt, AckedAt string } `json:"alerts"`
	}
	require.Equal(t, http.StatusOK, w.h.getJSON(t, w.admin, "/api/v1/alerts?state=all&limit=500", &alerts))
	for _, a := range alerts.Alerts {
		add(a.RaisedAt, a.AckedAt)
	}
	var cases struct{ Cases []struct{ Start, End string } }
	require.Equal(t, http.StatusOK, w.h.getJSON(t, w.admin, "/api/v1/cases?limit=50", &cases))
	for _, c := range cases.Cases {
		add(c.Start, c.End)
	}
	var cs struct {
		AcceptedAt string `json:"accepted_at"`
		Events     []struct{ TS string }
	}
	require.Equal(t, http.StatusOK, w.h.getJSON(t, w.admin, "/api/v1/cases/"+w.caseID, &cs))
	add(cs.AcceptedAt)
	for _, e := range cs.Events {
		add(e.TS)
	}
	const layout = "2006-01-02 15:04:05"
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	browser, _ := time.LoadLocation(i18nBrowserZone)
	hallForms := map[string]bool{}
	for _, ts := range instants {
		r := ts.In(w.hall).Format(layout)
		hallForms[r] = true
		right = append(right, r)
	}
	wrong = map[string]string{}
	for _, ts := range instants {
		for _, z := range []struct {
			loc  *time.Location
			name string
		}{{time.UTC, "UTC"}, {shanghai, "Asia/Shanghai"}, {browser, "the browser's zone"}} {
			if r := ts.In(z.loc).Format(layout); !hallForms[r] {
				wrong[r] = fmt.Sprintf("%s in %s", ts.UTC().Format(time.RFC3339), z.name)
			}
		}
	}
	return wrong, right
}

// raiseAndAckAlert posts two one-star ratings, each raising a red alert at
// once, and acknowledges one with a comment: the alerts pages then show
// alerts' messages, an acknowledgement and an open alert.
func (w *langWalk) raiseAndAckAlert(t *testing.T) {
	t.Helper()
	now := time.Now()
	rating := func(ticket string) string {
		return fmt.Sprintf(`{"event_id":"i18n-%s-%d","type":"rating","ts":%q,"hall":"city-main","window":"A01","ticket":%q,"rating":1}`,
			ticket, now.UnixNano(), now.Format(time.RFC3339Nano), ticket)
	}
	w.h.postEvents(t, rating("Z903"), rating("Z904")) // Z904's stays open
	var id string
	require.Eventually(t, func() bool {
		var out struct {
			Alerts []struct{ ID, Ticket string } `json:"alerts"`
		}
		if w.h.getJSON(t, w.admin, "/api/v1/alerts?kind=bad_rating", &out) != http.StatusOK {
			return false
		}
		for _, a := range out.Alerts {
			if a.Ticket == "Z903" {
				id = a.ID
			}
		}
		return id != ""
	}, 30*time.Second, 200*time.Millisecond, "the bad rating raises an alert")
	req, err := http.NewRequest(http.MethodPost, w.h.url+"/api/v1/alerts/"+url.PathEscape(id)+"/ack",
		strings.NewReader(fmt.Sprintf(`{"comment":%q}`, i18nAckComment)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+w.h.token(t, console.RoleInspector))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
