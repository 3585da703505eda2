package console

import (
	"embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

//go:embed web
var webFiles embed.FS

// handleLiveTest serves a minimal WHEP player page, for checking live video
// in a browser before the full console exists. The page holds no data; the
// API calls it makes are authorized as usual.
func (s *Server) handleLiveTest(c *gin.Context) {
	page, err := webFiles.ReadFile("web/live-test.html")
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.Data(http.StatusOK, "text/html; charset=utf-8", page)
}
