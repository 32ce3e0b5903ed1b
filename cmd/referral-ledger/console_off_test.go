package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for serve's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var printedKey = regexp.MustCompile(`(?m)^\s*(rlk_\S+)\s*$`)

// TestConsoleOff runs serve's command line with the console on (the
// default), off by flag and off by environment: off, / and the console's
// files are 404 while the API answers as before.
func TestConsoleOff(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   []string
		env     string
		console int
	}{
		{"default", nil, "", http.StatusOK},
		{"--no-console", []string{"--no-console"}, "", http.StatusNotFound},
		{"--console=false", []string{"--console=false"}, "", http.StatusNotFound},
		{"LEDGER_CONSOLE=false", nil, "false", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("LEDGER_CONSOLE", tc.env)
			}
			addr := freeAddr(t)
			ctx, cancel := context.WithCancel(context.Background())
			var out syncBuffer
			done := make(chan error, 1)
			args := append([]string{"serve", "--addr", addr, "--data-dir", t.TempDir()}, tc.flags...)
			go func() { done <- run(ctx, args, &out, io.Discard) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			})
			waitHealthy(t, addr)
			var key string
			for deadline := time.Now().Add(10 * time.Second); key == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if m := printedKey.FindStringSubmatch(out.String()); m != nil {
					key = m[1]
				}
			}
			if key == "" {
				t.Fatalf("serve printed no key: %q", out.String())
			}
			for _, path := range []string{"/", "/console/", "/console/js/main.js"} {
				if got := status(t, "http://"+addr+path, ""); got != tc.console {
					t.Errorf("GET %s: %d, want %d", path, got, tc.console)
				}
			}
			if got := status(t, "http://"+addr+"/v1/api/whoami", key); got != http.StatusOK {
				t.Errorf("GET /v1/api/whoami: %d, want 200", got)
			}
			if got := status(t, "http://"+addr+"/v1/openapi.json", ""); got != http.StatusOK {
				t.Errorf("GET /v1/openapi.json: %d, want 200", got)
			}
		})
	}
}

func status(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}
