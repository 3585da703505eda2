package main

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// cspRecorder runs in every document of a test tab before the page's own
// scripts: it keeps each Content-Security-Policy violation the browser
// reports (the securitypolicyviolation event), which
// requireNoCSPViolations then reads.
const cspRecorder = `window.sunlightCSPViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.sunlightCSPViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') +
    ' at ' + (e.sourceFile || e.documentURI) + ':' + e.lineNumber + (e.sample ? ' (' + e.sample + ')' : ''));
});`

// recordCSPViolations installs cspRecorder in the tab of ctx.
func recordCSPViolations(t *testing.T, ctx context.Context) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspRecorder})
		return err
	})))
}

// requireNoCSPViolations fails when the page broke the server's CSP: a
// script, style, image or connection it needed was blocked.
func requireNoCSPViolations(t *testing.T, ctx context.Context) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.sunlightCSPViolations`))
	require.NoError(t, err)
	require.NotNil(t, got, "the CSP recorder is installed in this tab (newTab does it)")
	require.Empty(t, got, "Content-Security-Policy violations")
}
