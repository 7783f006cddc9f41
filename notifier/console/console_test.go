package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler("/console/"))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/console/", 200, `<script src="app.js" defer></script>`},
		{"GET", "/console/app.js", 200, "textContent"},
		{"GET", "/console/style.css", 200, "font-family"},
		{"GET", "/console/nope.js", 404, ""},
		{"POST", "/console/", 405, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s %s: %d, want %d with %q", tc.method, tc.path, resp.StatusCode, tc.status, tc.contains)
		}
		if tc.status == 200 {
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("%s: security headers %v", tc.path, resp.Header)
			}
		}
	}
}

// TestNoHTMLSinks: the page inserts text from the API with textContent
// only; innerHTML, outerHTML, insertAdjacentHTML, document.write and eval
// would let a hostile incident field run as script.
func TestNoHTMLSinks(t *testing.T) {
	js, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if strings.Contains(string(js), sink) {
			t.Errorf("app.js uses %s", sink)
		}
	}
}
