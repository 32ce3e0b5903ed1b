package main

import (
	"net/http"
	"testing"
)

// TestCLIRevocationReachesServeAtOnce: on the embedded store serve keeps
// keys in memory, and `apikey revoke`, another process's Access on the same
// data dir, still shuts a key out from the moment it returns (well inside
// the cache's two seconds).
func TestCLIRevocationReachesServeAtOnce(t *testing.T) {
	s := startConsoleServer(t)
	whoami := func() int {
		req, _ := http.NewRequest("GET", s.url+"/v1/api/whoami", nil)
		req.Header.Set("X-API-Key", s.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 { // the first looks the key up and keeps it; the others are served from memory
		if got := whoami(); got != http.StatusOK {
			t.Fatalf("before revocation: %d, want 200", got)
		}
	}
	mustRun(t, []string{"--data-dir", s.dataDir}, "apikey", "revoke", s.keyID)
	if got := whoami(); got != http.StatusUnauthorized {
		t.Errorf("right after the CLI's revocation: %d, want 401", got)
	}
}
