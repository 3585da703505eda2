// Package ui serves the inspection console's web front-end: the single-page
// application that web/ builds into dist/ (make web), embedded in the binary
// so a deployment needs no other files and no CDN.
//
// A plain `go build` without `make web` first still compiles: dist/ then
// holds only its .gitignore, and every page answers with a short notice
// that the console was not built.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// notBuilt is the page served when dist/ has no index.html. Its styles are
// attributes: the console's CSP allows no inline <style> element.
const notBuilt = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Sunlight 阳光政务监督平台</title></head>
<body style="font-family:sans-serif;max-width:40rem;margin:4rem auto;color:#1f2937;line-height:1.6"><h1>控制台尚未构建 · The console was not built</h1>
<p>此二进制文件未包含网页控制台。请在源码目录运行 <code style="background:#f3f4f6;padding:0 .3em">make build</code>（需要 Node.js 与 npm）后重新启动。</p>
<p>This binary was built without the web console. Run <code style="background:#f3f4f6;padding:0 .3em">make build</code> in the source tree (it needs Node.js and npm) and start it again.
The API under <code style="background:#f3f4f6;padding:0 .3em">/api/v1/</code> works as usual.</p></body></html>
`

// Handler serves the console from fs (the embedded dist/ when fsys is nil):
// files under assets/ have content hashes in their names and are cached for
// a year; every other path that is not a file gets index.html, so the
// application's own routes survive a reload. index.html itself is never
// cached, so a new binary's assets are picked up at once.
func Handler(fsys fs.FS) http.Handler {
	if fsys == nil {
		sub, err := fs.Sub(dist, "dist")
		if err != nil {
			panic(err) // a compile-time path: cannot fail
		}
		fsys = sub
	}
	index, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		index = []byte(notBuilt)
	}
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if hidden(name) {
			http.NotFound(w, r)
			return
		}
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(fsys, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
				} else {
					w.Header().Set("Cache-Control", "no-cache")
				}
				files.ServeHTTP(w, r)
				return
			}
			if strings.HasPrefix(name, "assets/") || path.Ext(name) != "" {
				// A missing asset is a 404, not the page: a stale hashed
				// name must not be cached as HTML for a year.
				http.NotFound(w, r)
				return
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodGet {
			_, _ = w.Write(index)
		}
	})
}

// hidden reports a dot file or folder anywhere in the path (dist/.gitignore).
func hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}
