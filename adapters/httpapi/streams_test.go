package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
)

// TestFollowStreamsArePerKeyCapped: a key may hold MaxFollowStreams
// follow=true streams; the next is refused with 429 and Retry-After until
// one ends. Other keys and streams without follow are not counted.
func TestFollowStreamsArePerKeyCapped(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite", httpapi.Config{MaxFollowStreams: 2})
	other := s.newKey(t, s.space, "server")
	follow := func(ctx context.Context, key string) *http.Response {
		return s.get(t, ctx, key, "/v1/api/events?follow=true", "application/x-ndjson")
	}
	first, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()
	second, cancelSecond := context.WithCancel(context.Background())
	defer cancelSecond()
	for _, ctx := range []context.Context{first, second} {
		if resp := follow(ctx, s.key); resp.StatusCode != http.StatusOK {
			t.Fatalf("follow within the cap: %d", resp.StatusCode)
		}
	}
	resp := follow(context.Background(), s.key)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third follow: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := s.get(t, context.Background(), s.key, "/v1/api/events", "application/x-ndjson"); resp.StatusCode != http.StatusOK {
		t.Errorf("a stream without follow, at the cap: %d", resp.StatusCode)
	}
	otherCtx, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	if resp := follow(otherCtx, other); resp.StatusCode != http.StatusOK {
		t.Errorf("another key's follow: %d", resp.StatusCode)
	}

	// Closing a stream frees its slot, once the server has seen it go.
	cancelFirst()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		resp := follow(ctx, s.key)
		if resp.StatusCode == http.StatusOK {
			break
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("a slot was not freed 10s after its stream closed: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
