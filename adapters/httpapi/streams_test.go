package httpapi_test

import (
	"context"
	"io"
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

// TestStreamsArePerKeyCapped: every stream counts against its key's
// MaxStreams, follow=true or not, events or a CSV export: a key with one
// valid key's worth of rate could otherwise open streams faster than slow
// reads end them, each holding pages of the log in the process. At the
// cap, the next stream gets 429 with Retry-After (a JSON page is no
// stream, and another key is not counted); streams that end, or are left,
// free their slots.
func TestStreamsArePerKeyCapped(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite", httpapi.Config{MaxFollowStreams: 10, MaxStreams: 2})
	other := s.newKey(t, s.space, "server")
	stream := func(ctx context.Context, key, path, accept string) *http.Response {
		resp := s.get(t, ctx, key, path, accept)
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
		}
		return resp
	}
	ndjson := func(key string) int {
		resp := stream(context.Background(), key, "/v1/api/events", "application/x-ndjson")
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	csvExport := func(key string) int {
		resp := stream(context.Background(), key, "/v1/api/referrals", "text/csv")
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}

	// Streams that end free their slots: more of them than the cap, one
	// after another, all pass.
	for i := range 5 {
		if code := ndjson(s.key); code != http.StatusOK {
			t.Fatalf("stream %d of a sequence: %d", i, code)
		}
		if code := csvExport(s.key); code != http.StatusOK {
			t.Fatalf("CSV export %d of a sequence: %d", i, code)
		}
	}

	// Two open follow streams hold both of the key's stream slots.
	first, cancelFirst := context.WithCancel(context.Background())
	defer cancelFirst()
	second, cancelSecond := context.WithCancel(context.Background())
	defer cancelSecond()
	for _, ctx := range []context.Context{first, second} {
		if resp := stream(ctx, s.key, "/v1/api/events?follow=true", "application/x-ndjson"); resp.StatusCode != http.StatusOK {
			t.Fatalf("follow within the cap: %d", resp.StatusCode)
		}
	}
	for what, path := range map[string][2]string{
		"a stream without follow": {"/v1/api/events", "application/x-ndjson"},
		"a follow stream":         {"/v1/api/events?follow=true", "application/x-ndjson"},
		"a CSV export":            {"/v1/api/referrals", "text/csv"},
	} {
		resp := stream(context.Background(), s.key, path[0], path[1])
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s at the cap: %d, Retry-After %q; want 429 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		resp.Body.Close()
	}
	if resp := s.get(t, context.Background(), s.key, "/v1/api/events", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("a JSON page at the cap: %d", resp.StatusCode)
	}
	if code := ndjson(other); code != http.StatusOK {
		t.Errorf("another key's stream: %d", code)
	}

	// Leaving a follow stream frees its slot, once the server has seen it go.
	cancelFirst()
	for deadline := time.Now().Add(10 * time.Second); ndjson(s.key) != http.StatusOK; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("a slot was not freed 10s after its stream closed")
		}
	}
	if code := csvExport(s.key); code != http.StatusOK {
		t.Errorf("a CSV export with a slot free: %d", code)
	}
}
