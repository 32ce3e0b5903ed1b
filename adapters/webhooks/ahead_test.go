package webhooks_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
)

// TestClaimAheadKeepsTheCap: the worker holds up to aheadFactor times an endpoint's
// max_in_flight of claimed deliveries so its requests follow each other
// without waiting for a claim, but never has more than max_in_flight
// requests to it at once, and sends each event once.
func TestClaimAheadKeepsTheCap(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		const n, maxInFlight = 40, 3
		s := newStack(t, kind, webhooks.Config{Concurrency: 16})
		recv := newConcurrencyReceiver(t, func() { time.Sleep(20 * time.Millisecond) })
		s.addIn(t, s.appspaceID, recv.url, webhooks.Limits{MaxInFlight: ptr(maxInFlight)}, webhooks.EventReferralCreated)
		s.createIn(t, s.appspaceID, n)
		eventually(t, "every delivery", 20*time.Second, func() bool { return len(recv.received()) >= n })
		time.Sleep(200 * time.Millisecond) // a duplicate would arrive now
		recv.mu.Lock()
		defer recv.mu.Unlock()
		if recv.peakAll > maxInFlight {
			t.Errorf("%d requests at once to an endpoint with max_in_flight %d", recv.peakAll, maxInFlight)
		}
		if recv.peakAll < 2 {
			t.Errorf("at most %d request at once: the cap of %d was never used", recv.peakAll, maxInFlight)
		}
		for id, c := range recv.perID {
			if c != 1 {
				t.Errorf("event %s received %d times", id, c)
			}
		}
		if len(recv.perID) != n {
			t.Errorf("%d distinct events, want %d", len(recv.perID), n)
		}
	})
}

// TestBreakerOpensOnAnEndpointClaimedAhead: a healthy endpoint has
// deliveries claimed ahead when it starts failing. They are given back,
// not sent: once the breaker opens nothing goes to the endpoint and no
// attempt is spent while it cools, and after it heals every delivery
// succeeds, soon (a given-back delivery does not wait for its lease).
func TestBreakerOpensOnAnEndpointClaimedAhead(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		const n, maxInFlight = 40, 8
		var failing atomic.Bool
		recv := newReceiver(t, func(k int) int {
			if k == 5 {
				failing.Store(true)
			}
			if failing.Load() {
				time.Sleep(10 * time.Millisecond)
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		})
		s := newStack(t, kind, webhooks.Config{BreakerThreshold: 3, BreakerCooldown: 3 * time.Second,
			BreakerMaxCooldown: 3 * time.Second, Timeout: time.Minute,
			RetrySchedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}})
		wh := s.addIn(t, s.appspaceID, recv.url, webhooks.Limits{MaxInFlight: ptr(maxInFlight)}, webhooks.EventReferralCreated)
		s.createIn(t, s.appspaceID, n)
		eventually(t, "the breaker opens", 10*time.Second, func() bool { return s.webhook(t, wh.ID).State == "paused" })
		time.Sleep(200 * time.Millisecond) // the attempts in flight when it opened are recorded
		// Attempts start before the breaker opens (then they are in
		// flight) or after its cooling; a delivery held when it opened
		// and sent anyway would start in between.
		pausedUntil := s.count(t, `SELECT paused_until FROM webhooks WHERE id = ?`, wh.ID)
		opened := pausedUntil - 3000
		if got := s.count(t, `SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
			WHERE d.webhook_id = ? AND a.attempted_at >= ?`, wh.ID, opened); got != 0 {
			t.Errorf("%d attempts started after the breaker opened", got)
		}
		seen := len(recv.requests())
		time.Sleep(time.Until(time.UnixMilli(int64(pausedUntil) - 300))) // within the cooling
		if got := len(recv.requests()); got != seen {
			t.Errorf("%d requests while paused", got-seen)
		}
		if got := s.count(t, `SELECT coalesce(sum(attempt_count), 0) FROM webhook_deliveries WHERE webhook_id = ?`, wh.ID); got != seen {
			t.Errorf("%d attempts counted for %d requests", got, seen)
		}
		failing.Store(false)
		// The lease is two minutes long: well before it ends, everything
		// is delivered after the probe.
		eventually(t, "every delivery succeeds after the probe", 20*time.Second, func() bool {
			return s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND state = 'succeeded'`, wh.ID) == n
		})
	})
}
