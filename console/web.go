package console

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
)

//go:embed web
var webFiles embed.FS

// inlineBlock finds the inline <script> and <style> elements of a page.
var inlineBlock = regexp.MustCompile(`(?s)<(script|style)>(.*?)</(?:script|style)>`)

// pageCSP is the console's CSP for a page of ours that keeps its script
// and style inline: each block is allowed by its SHA-256, nothing else
// inline is (an injected script has another hash).
func pageCSP(page []byte) string {
	var scripts, styles []string
	for _, m := range inlineBlock.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[2])
		src := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if string(m[1]) == "script" {
			scripts = append(scripts, src)
		} else {
			styles = append(styles, src)
		}
	}
	csp := contentSecurityPolicy
	csp = strings.Replace(csp, "script-src 'self'", "script-src 'self' "+strings.Join(scripts, " "), 1)
	csp = strings.Replace(csp, "style-src 'self'", "style-src 'self' "+strings.Join(styles, " "), 1)
	return csp
}

// handleLiveTest serves a minimal WHEP player page, for checking live video
// in a browser before the full console exists. The page holds no data; the
// API calls it makes are authorized as usual.
func (s *Server) handleLiveTest(c *gin.Context) {
	page, err := webFiles.ReadFile("web/live-test.html")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.Header("Content-Security-Policy", pageCSP(page))
	c.Data(http.StatusOK, "text/html; charset=utf-8", page)
}
