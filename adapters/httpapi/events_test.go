package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The events endpoint pages through the appspace's log with a cursor,
// filters by type, and streams NDJSON; the audit endpoint shows one
// referral's events with their metadata. Scopes are enforced.
func TestEventsAndAudit(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		codes := make([]string, 5)
		for i := range codes {
			codes[i] = s.create(t, fmt.Sprintf("paul-%d", i))
		}
		want := s.events(t, s.space) // settles the log: every event is readable
		if len(want) != 10 {
			t.Fatalf("log holds %d events, want 10 (5 creates of 2 events)", len(want))
		}

		// Pages of 3 cover the log exactly once, in the log's order.
		var got []string
		after := "0"
		for page := 0; page < 10; page++ {
			out := s.must(t, http.StatusOK, "GET", "/v1/api/events?limit=3&after="+after, nil)
			evs := out["events"].([]any)
			for _, e := range evs {
				got = append(got, e.(map[string]any)["id"].(string))
			}
			after = fmt.Sprint(out["next_after"])
			if len(evs) < 3 {
				break
			}
		}
		if len(got) != len(want) {
			t.Fatalf("paged %d events, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i].ID {
				t.Errorf("event %d: paged %s, log order has %s", i, got[i], want[i].ID)
			}
		}

		out := s.must(t, http.StatusOK, "GET", "/v1/api/events?type=ReferralCreated", nil)
		for _, e := range out["events"].([]any) {
			if e.(map[string]any)["type"] != "ReferralCreated" {
				t.Errorf("type filter let through %v", e)
			}
		}
		if n := len(out["events"].([]any)); n != 5 {
			t.Errorf("type filter returned %d events, want 5", n)
		}

		// NDJSON streams the same events, one JSON object per line.
		resp := s.get(t, context.Background(), s.key, "/v1/api/events", "application/x-ndjson")
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Errorf("Content-Type %q, want application/x-ndjson", ct)
		}
		lines := 0
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var e struct {
				ID, Type, Stream string
				Metadata         map[string]any
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if lines < len(want) && e.ID != want[lines].ID {
				t.Errorf("ndjson line %d is %s, want %s", lines, e.ID, want[lines].ID)
			}
			lines++
		}
		if lines != len(want) {
			t.Errorf("ndjson streamed %d events, want %d", lines, len(want))
		}

		// Audit: the referral's events, with who did it and why.
		out = s.must(t, http.StatusOK, "GET", "/v1/api/audit/referrals/"+codes[0], nil)
		evs := out["events"].([]any)
		if len(evs) != 1 || evs[0].(map[string]any)["type"] != "ReferralCreated" {
			t.Fatalf("audit events: %v", evs)
		}
		meta := evs[0].(map[string]any)["metadata"].(map[string]any)
		if meta["actor_key_id"] == "" || meta["request_id"] == "" || meta["correlation_id"] == nil || meta["causation_id"] == nil {
			t.Errorf("audit metadata lacks actor, request, correlation or causation: %v", meta)
		}
		if _, err := time.Parse(time.RFC3339, evs[0].(map[string]any)["recorded_at"].(string)); err != nil {
			t.Errorf("recorded_at: %v", err)
		}
		if d, ok := out["deliveries"].([]any); !ok || len(d) != 0 {
			t.Errorf("deliveries = %v, want an empty list", out["deliveries"])
		}

		analyst := s.newKey(t, s.space, "analyst")
		status, body := s.call(t, analyst, "GET", "/v1/api/audit/referrals/"+codes[0], nil)
		wantError(t, status, body, http.StatusForbidden, "forbidden")
		if status, _ := s.call(t, analyst, "GET", "/v1/api/events", nil); status != http.StatusOK {
			t.Errorf("analyst reading events: %d, want 200", status)
		}
		auditor := s.newKey(t, s.space, "auditor")
		if status, _ := s.call(t, auditor, "GET", "/v1/api/audit/referrals/"+codes[0], nil); status != http.StatusOK {
			t.Errorf("auditor reading the audit trail: %d, want 200", status)
		}
		status, body = s.call(t, s.key, "GET", "/v1/api/events?after=abc", nil)
		wantError(t, status, body, http.StatusBadRequest, "invalid_request")
	})
}

// With follow=true the NDJSON stream stays open and carries new events of
// the key's appspace as they are appended, and no other appspace's.
func TestEventsFollow(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		_, otherKey := s.newAppspace(t, "other", "server")
		s.create(t, "quinn")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp := s.get(t, ctx, s.key, "/v1/api/events?follow=true", "application/x-ndjson")
		lines := bufio.NewScanner(resp.Body)
		next := func() map[string]any {
			t.Helper()
			if !lines.Scan() {
				t.Fatalf("the follow stream ended: %v", lines.Err())
			}
			var e map[string]any
			if err := json.Unmarshal(lines.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			return e
		}
		for range 2 { // quinn's ReferrerCodeIssued and ReferralCreated
			next()
		}
		s.createWith(t, otherKey, "rita") // another appspace: not streamed here
		code := s.create(t, "sam")
		for _, want := range []string{"ReferrerCodeIssued", "ReferralCreated"} {
			e := next()
			if e["type"] != want || !strings.HasPrefix(e["stream"].(string), s.space+":") {
				t.Fatalf("followed event %v, want %s of this appspace", e, want)
			}
			if want == "ReferralCreated" && e["data"].(map[string]any)["referral_code"] != code {
				t.Errorf("followed ReferralCreated is for %v, want %s", e["data"], code)
			}
		}
	})
}
