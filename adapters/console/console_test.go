package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/console"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(console.Handler())
	t.Cleanup(srv.Close)
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
	}{
		{"index at the root", "GET", "/", http.StatusOK, "text/html"},
		{"index under /console/", "GET", "/console/", http.StatusOK, "text/html"},
		{"a module", "GET", "/console/js/main.js", http.StatusOK, "text/javascript"},
		{"the stylesheet", "GET", "/console/style.css", http.StatusOK, "text/css"},
		{"another path", "GET", "/elsewhere", http.StatusNotFound, ""},
		{"a missing file", "GET", "/console/nope.js", http.StatusNotFound, ""},
		{"a write", "POST", "/", http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Type"), tt.status, tt.contentType)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
				resp.Header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("security headers: CSP %q, X-Frame-Options %q", csp, resp.Header.Get("X-Frame-Options"))
			}
		})
	}
}
