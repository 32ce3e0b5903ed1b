// Package console serves the operator console: a web app embedded in the
// binary (plain HTML, CSS and JavaScript modules, no build step) that signs
// in with a pasted API key and calls only the public API.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// csp allows only the console's own files and calls to its own origin: no
// inline script or style, no framing, no form posts elsewhere.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console at / and under /console/. Other paths are 404,
// and every response carries the security headers.
func Handler() http.Handler {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed above guarantees the directory
	}
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		path := r.URL.Path
		switch {
		case path == "/" || path == "/console" || path == "/console/":
			h.Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, root, "index.html")
		case strings.HasPrefix(path, "/console/"):
			h.Set("Cache-Control", "no-cache")
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimPrefix(path, "/console")
			files.ServeHTTP(w, r2)
		default:
			http.NotFound(w, r)
		}
	})
}
