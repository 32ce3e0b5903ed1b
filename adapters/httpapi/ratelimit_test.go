package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
)

// Each key has its own bucket; an empty bucket answers 429 rate_limited
// with Retry-After and the RateLimit headers, and takes nothing further.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite", httpapi.Config{RateLimit: 0.5, RateBurst: 2})
	other := s.newKey(t, s.space, "server")
	get := func(key string) *http.Response {
		return s.get(t, context.Background(), key, "/v1/api/referral/settings", "")
	}
	for i := range 2 {
		resp := get(s.key)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, resp.StatusCode)
		}
		if got, want := resp.Header.Get("RateLimit-Remaining"), strconv.Itoa(1-i); got != want {
			t.Errorf("request %d: RateLimit-Remaining %s, want %s", i, got, want)
		}
	}
	status, out := s.call(t, s.key, "GET", "/v1/api/referral/settings", nil)
	wantError(t, status, out, http.StatusTooManyRequests, "rate_limited")
	resp := get(s.key)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Limit") != "2" {
		t.Errorf("over the limit: %d, Retry-After %q, RateLimit-Limit %q", resp.StatusCode,
			resp.Header.Get("Retry-After"), resp.Header.Get("RateLimit-Limit"))
	}
	if resp := get(other); resp.StatusCode != http.StatusOK {
		t.Errorf("another key was limited too: %d", resp.StatusCode)
	}
}
