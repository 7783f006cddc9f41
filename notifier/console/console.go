// Package console serves the security and privacy team's web console: the
// incident list, one incident with its scope, obligations and their
// clocks, notice progress and history, and the commands of the lifecycle
// (triage, confirm, dismiss, contain, close; record notice content;
// approve, waive, submit). It is static HTML, CSS and JavaScript that call
// the notifier's API (/api/v1/…) with the operator's bearer token, which
// the page keeps in the tab's sessionStorage only; every command is
// checked and recorded by the API, never by the page.
//
// The pages are served with a strict Content-Security-Policy (no inline
// script or style, same-origin connections only), no-store caching and
// frame denial; text from the API is inserted with textContent, never as
// HTML.
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the console under prefix (e.g. "/console/").
func Handler(prefix string) http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded folder exists
	}
	files := http.StripPrefix(prefix, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		files.ServeHTTP(w, r)
	})
}
