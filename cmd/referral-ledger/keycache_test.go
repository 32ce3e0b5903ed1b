package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TestCLIRevocationReachesServeAtOnce: on the embedded store serve keeps
// keys in memory, and `apikey revoke`, another process's Access on the same
// data dir, still shuts a key out from the moment it returns (well inside
// the cache's two seconds).
func TestCLIRevocationReachesServeAtOnce(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	m, err := Open(ctx, Config{Addr: "127.0.0.1:0", DataDir: dir, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	as, err := m.access.CreateAppspace(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	key, secret, err := m.access.CreateKey(ctx, as.ID, domain.RoleServer, "revoked soon")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := m.Listen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && ctx.Err() == nil {
			t.Error(err)
		}
		m.Close()
	})
	whoami := func() int {
		req, _ := http.NewRequest("GET", "http://"+addr.String()+"/v1/api/whoami", nil)
		req.Header.Set("X-API-Key", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitHealthy(t, addr.String())
	for range 3 { // the first looks the key up and keeps it; the others are served from memory
		if got := whoami(); got != http.StatusOK {
			t.Fatalf("before revocation: %d, want 200", got)
		}
	}
	mustRun(t, []string{"--data-dir", dir}, "apikey", "revoke", key.ID)
	if got := whoami(); got != http.StatusUnauthorized {
		t.Errorf("right after the CLI's revocation: %d, want 401", got)
	}
}
