package ui

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"
)

func TestHandler(t *testing.T) {
	built := fstest.MapFS{
		"index.html":          {Data: []byte("<html>console</html>")},
		"assets/app-1a2b.js":  {Data: []byte("console.log(1)")},
		"favicon.svg":         {Data: []byte("<svg/>")},
		".gitignore":          {Data: []byte("*")},
		"assets/.hidden.json": {Data: []byte("{}")},
	}
	tests := []struct {
		name, method, path string
		fsys               fstest.MapFS
		status             int
		body, cache        string
	}{
		{"root is the page", "GET", "/", built, 200, "console", "no-cache"},
		{"client route falls back to the page", "GET", "/cases/HH-1", built, 200, "console", "no-cache"},
		{"hashed asset is cached for a year", "GET", "/assets/app-1a2b.js", built, 200, "console.log", "public, max-age=31536000, immutable"},
		{"other file is revalidated", "GET", "/favicon.svg", built, 200, "<svg", "no-cache"},
		{"missing asset is 404, not the page", "GET", "/assets/app-old.js", built, 404, "not found", ""},
		{"dot files are not served", "GET", "/.gitignore", built, 404, "not found", ""},
		{"dot files under assets are not served", "GET", "/assets/.hidden.json", built, 404, "not found", ""},
		{"path tricks stay inside", "GET", "/../../etc/passwd", built, 200, "console", "no-cache"},
		{"no writes", "POST", "/", built, 405, "not allowed", ""},
		{"not built", "GET", "/live", fstest.MapFS{".gitignore": {Data: []byte("*")}}, 200, "make build", "no-cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler(tt.fsys).ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			require.Equal(t, tt.status, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tt.body)
			if tt.cache != "" {
				require.Equal(t, tt.cache, rec.Header().Get("Cache-Control"))
			}
		})
	}
}

// TestEmbedded: the embedded dist/ serves a page whether or not the
// console was built.
func TestEmbedded(t *testing.T) {
	rec := httptest.NewRecorder()
	Handler(nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "<html")
}
