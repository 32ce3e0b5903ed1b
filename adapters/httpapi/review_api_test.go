package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// readCounter counts the global-log reads made through it; the reads
// themselves go to the real store.
type readCounter struct {
	domain.EventStore
	reads atomic.Int64
}

func (c *readCounter) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	c.reads.Add(1)
	return c.EventStore.ReadAll(ctx, opts)
}

// appendNoise appends n events of type typ to streams of appspace, 100 to
// an append.
func appendNoise(tb testing.TB, store domain.EventStore, appspace, typ string, n int) {
	tb.Helper()
	for i := 0; i < n; i += 100 {
		evs := make([]domain.EventData, min(100, n-i))
		for k := range evs {
			evs[k] = domain.EventData{ID: domain.NewID(), Type: typ, Data: []byte(`{}`), Metadata: []byte(`{}`)}
		}
		if _, err := store.Append(context.Background(), fmt.Sprintf("%s:noise:%s", appspace, domain.NewID()), domain.NoStream(), evs...); err != nil {
			tb.Fatal(err)
		}
	}
}

// A JSON page of /events with a type filter scans up to 10,000 events for
// matches. It read them in batches of the page's limit: limit=1 and a type
// no event has made one request cost one store round trip per event
// scanned, up to 10,000 round trips, which one key at its rate limit
// (100 requests/s) turns into a million queries a second against the store
// every appspace shares. The scan reads full batches now.
func TestReviewEventsTypeFilterReadsInBatches(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		var counter *readCounter
		s := newWrappedStack(t, kind, func(st domain.EventStore) domain.EventStore {
			counter = &readCounter{EventStore: st}
			return counter
		})
		appendNoise(t, s.store, s.space, "Noise", 500)
		log := s.events(t, s.space)
		if len(log) != 500 {
			t.Fatalf("log holds %d events, want 500", len(log))
		}

		before := counter.reads.Load()
		out := s.must(t, http.StatusOK, "GET", "/v1/api/events?limit=1&type=Nothing", nil)
		reads := counter.reads.Load() - before
		if n := len(out["events"].([]any)); n != 0 {
			t.Errorf("type=Nothing returned %d events", n)
		}
		if got, want := fmt.Sprint(out["next_after"]), fmt.Sprint(log[len(log)-1].Position); got != want {
			t.Errorf("next_after %s, want %s (the last event scanned)", got, want)
		}
		if reads > 2 {
			t.Errorf("one page of limit=1 over 500 events made %d reads of the log, want at most 2", reads)
		}

		// The filter still pages exactly: limit=1 finds each match in turn.
		appendNoise(t, s.store, s.space, "Signal", 1)
		appendNoise(t, s.store, s.space, "Noise", 50)
		appendNoise(t, s.store, s.space, "Signal", 1)
		log = s.events(t, s.space)
		var signals []string
		for _, e := range log {
			if e.Type == "Signal" {
				signals = append(signals, e.ID)
			}
		}
		after := "0"
		for i, want := range signals {
			out := s.must(t, http.StatusOK, "GET", "/v1/api/events?limit=1&type=Signal&after="+after, nil)
			evs := out["events"].([]any)
			if len(evs) != 1 || evs[0].(map[string]any)["id"] != want {
				t.Fatalf("page %d: %v, want the signal %s", i, evs, want)
			}
			if out["next_after"] != evs[0].(map[string]any)["position"] {
				t.Errorf("page %d: next_after %v, want the match's position %v", i, out["next_after"], evs[0].(map[string]any)["position"])
			}
			after = fmt.Sprint(out["next_after"])
		}
		out = s.must(t, http.StatusOK, "GET", "/v1/api/events?limit=1&type=Signal&after="+after, nil)
		if n := len(out["events"].([]any)); n != 0 {
			t.Errorf("past the last signal: %d events", n)
		}
	})
}

// /events?type= takes a comma-separated list, and every event scanned was
// compared with each entry: one query string of ~900 KB (129,000 type
// names, under the server's 1 MB header limit) over a page's 10,000
// scanned events was 1.3 billion comparisons, about a second of CPU per
// request (and per event of a whole NDJSON stream), which one key at its
// rate limit multiplies past the cores of a process every appspace shares.
// The types are a set now (measured: 1.4 s before, 70 ms after, for this
// list over 10,000 events; not asserted, as a time). This holds what the
// set must still do with such a list: match any of its members, wherever
// in the list, and nothing else.
func TestReviewEventsLongTypeList(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind)
		appendNoise(t, s.store, s.space, "Noise", 300)
		appendNoise(t, s.store, s.space, "Signal", 1)
		s.events(t, s.space)
		var b strings.Builder
		for i := 0; b.Len() < 900<<10; i++ {
			fmt.Fprintf(&b, "T%d,", i)
		}
		long := strings.TrimSuffix(b.String(), ",")
		count := func(types string) int {
			t.Helper()
			out := s.must(t, http.StatusOK, "GET", "/v1/api/events?limit=1000&type="+types, nil)
			return len(out["events"].([]any))
		}
		if n := count(long); n != 0 {
			t.Errorf("a list naming no stored type returned %d events", n)
		}
		if n := count(long + ",Signal"); n != 1 {
			t.Errorf("the list ending with Signal returned %d events, want 1", n)
		}
		if n := count("Signal," + long + ",Noise"); n != 301 {
			t.Errorf("the list with Signal first and Noise last returned %d events, want 301", n)
		}
	})
}

// Held: the second round's commands (void, reverse, review approve and
// reject) and every read model refuse or hide another appspace's referral,
// and a cursor taken from another appspace's log reads only the caller's
// own events.
func TestReviewOtherAppspaceLifecycleAndReadModels(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind)
		s.setSettings(t, map[string]any{"reward_type": "credit", "review_mode": "flag"})
		code := s.create(t, "liam")
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "referred_user_id": "mia"})
		_, other := s.newAppspace(t, "other", domain.RoleServer)
		s.project(t)
		before := len(s.events(t, s.space))
		for _, c := range []struct {
			path string
			body any
		}{
			{"/v1/api/referral/void", map[string]any{"referral_code": code, "reason": "x"}},
			{"/v1/api/referral/reverse-reward", map[string]any{"referral_code": code, "side": "referrer", "reason": "x"}},
			{"/v1/api/reviews/" + code + "/approve", map[string]any{"note": "x"}},
			{"/v1/api/reviews/" + code + "/reject", map[string]any{"reason": "x"}},
		} {
			status, out := s.call(t, other, "POST", c.path, c.body)
			wantError(t, status, out, http.StatusNotFound, "not_found")
		}
		if after := len(s.events(t, s.space)); after != before {
			t.Errorf("the other appspace's commands appended %d events here", after-before)
		}
		for _, path := range []string{"/v1/api/referrals", "/v1/api/referrals?referrer_id=liam", "/v1/api/reviews?state=open"} {
			_, out := s.call(t, other, "GET", path, nil)
			for _, k := range []string{"referrals", "reviews"} {
				if items, ok := out[k].([]any); ok && len(items) != 0 {
					t.Errorf("%s: the other appspace sees %d items", path, len(items))
				}
			}
		}
		_, out := s.call(t, other, "GET", "/v1/api/referral/stats", nil)
		if out["total"] != float64(0) {
			t.Errorf("other appspace's stats: %v", out)
		}
		_, out = s.call(t, other, "GET", "/v1/api/referral/leaderboard", nil)
		if n := len(out["leaderboard"].([]any)); n != 0 {
			t.Errorf("other appspace's leaderboard has %d rows", n)
		}
		// The other appspace's key, given this appspace's first event as a
		// cursor, reads none of this appspace's events.
		log := s.events(t, s.space)
		status, out := s.call(t, other, "GET", fmt.Sprintf("/v1/api/events?after=%d", log[0].Position), nil)
		if status != http.StatusOK || len(out["events"].([]any)) != 0 {
			t.Errorf("events after another appspace's position: %d %v", status, out)
		}
	})
}

// TestMilestonesPerReferralOverHTTP: a caller alternating two milestone
// names (no pipeline) grew a referral by an event a call, without end.
// Past domain.MaxReferralMilestones a new milestone is 409 conflict and
// appends nothing; the referral still answers and repeats of its current
// milestone still succeed.
func TestMilestonesPerReferralOverHTTP(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind)
		code := s.create(t, "alice")
		reach := func(m string) (int, map[string]any) {
			return s.call(t, s.key, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": m})
		}
		for i := range domain.MaxReferralMilestones {
			if status, out := reach([]string{"a", "b"}[i%2]); status != http.StatusOK {
				t.Fatalf("milestone %d: %d %v", i+1, status, out)
			}
		}
		before := len(s.events(t, s.space))
		status, out := reach("a")
		if status != http.StatusConflict || out["code"] != "conflict" {
			t.Errorf("milestone %d: %d %v, want 409 conflict", domain.MaxReferralMilestones+1, status, out)
		}
		if status, out := reach("b"); status != http.StatusOK {
			t.Errorf("the current milestone again: %d %v, want 200", status, out)
		}
		if after := len(s.events(t, s.space)); after != before {
			t.Errorf("%d events appended past the bound", after-before)
		}
		got := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		if n := len(got["milestone_history"].([]any)); n != domain.MaxReferralMilestones {
			t.Errorf("milestone_history holds %d entries, want %d", n, domain.MaxReferralMilestones)
		}
	})
}

// TestMetadataCanonicalBoundOverHTTP: metadata of 16 KiB as sent whose
// canonical form is about 70 KiB (1e20 is 21 digits canonical) made a
// leaf no entry bundle can hold; it is 400 and appends nothing.
func TestMetadataCanonicalBoundOverHTTP(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind)
		nums := strings.TrimSuffix(strings.Repeat("1e20,", (domain.MaxMetadataBytes-16)/5), ",")
		meta := json.RawMessage(`{"a":[` + nums + `]}`)
		if len(meta) > domain.MaxMetadataBytes {
			t.Fatalf("test metadata is %d bytes as sent", len(meta))
		}
		before := len(s.events(t, s.space))
		status, out := s.call(t, s.key, "POST", "/v1/api/referral/create", map[string]any{"user_id": "alice", "metadata": meta})
		if status != http.StatusBadRequest || out["code"] != "invalid_request" {
			t.Errorf("create with %d bytes of metadata, about 70 KiB canonical: %d %v, want 400", len(meta), status, out)
		}
		if after := len(s.events(t, s.space)); after != before {
			t.Errorf("%d events appended", after-before)
		}
	})
}
