package webhooks_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
)

func (s *stack) webhook(tb testing.TB, id string) webhooks.Webhook {
	tb.Helper()
	wh, err := s.wh.Get(context.Background(), s.appspaceID, id)
	if err != nil {
		tb.Fatal(err)
	}
	return wh
}

// TestBreakerOpensProbesCloses: after the threshold of failures the
// endpoint is paused, gets nothing and spends no attempt while it cools,
// then a probe that succeeds closes it and every delivery goes out.
func TestBreakerOpensProbesCloses(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		var healthy atomic.Bool
		recv := newReceiver(t, func(int) int {
			if healthy.Load() {
				return http.StatusOK
			}
			return http.StatusInternalServerError
		})
		s := newStack(t, kind, webhooks.Config{BreakerThreshold: 3, BreakerCooldown: time.Second,
			BreakerMaxCooldown: time.Second, RetrySchedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}})
		wh := s.addIn(t, s.appspaceID, recv.url, webhooks.Limits{MaxInFlight: ptr(1)}, webhooks.EventReferralCreated)
		s.createIn(t, s.appspaceID, 5)
		eventually(t, "the breaker opens", 10*time.Second, func() bool { return s.webhook(t, wh.ID).State == "paused" })
		if got := s.webhook(t, wh.ID).FailureStreak; got < 3 {
			t.Errorf("failure_streak %d, want at least 3", got)
		}
		seen := len(recv.requests())
		time.Sleep(500 * time.Millisecond) // within the cooling
		if got := len(recv.requests()); got != seen {
			t.Errorf("%d requests while paused", got-seen)
		}
		attempts := s.count(t, `SELECT coalesce(sum(attempt_count), 0) FROM webhook_deliveries WHERE webhook_id = ?`, wh.ID)
		if attempts != seen {
			t.Errorf("%d attempts counted for %d requests", attempts, seen)
		}
		waiting := 0
		for _, d := range s.deliveries(t, wh.ID) {
			if d.WaitingReason == "circuit_open" {
				waiting++
			}
		}
		if waiting == 0 {
			t.Error("no pending delivery says it waits for the open circuit")
		}
		healthy.Store(true)
		eventually(t, "every delivery succeeds after the probe", 15*time.Second, func() bool {
			return s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND state = 'succeeded'`, wh.ID) == 5
		})
		if got := s.webhook(t, wh.ID); got.State != "active" || got.FailureStreak != 0 {
			t.Errorf("after the probe: state %s, failure_streak %d; want active, 0", got.State, got.FailureStreak)
		}
	})
}

// TestAutoDisable: an endpoint whose every attempt fails for DisableAfter
// (an injected clock jumps) is disabled with a reason, the appspace's
// other endpoints subscribed to webhook.disabled hear of it, its pending
// deliveries wait, and {active: true} resumes them.
func TestAutoDisable(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		var skew atomic.Int64
		var healthy atomic.Bool
		dead := newReceiver(t, func(int) int {
			if healthy.Load() {
				return http.StatusOK
			}
			return http.StatusBadGateway
		})
		listener, other := newReceiver(t, nil), newReceiver(t, nil)
		s := newStack(t, kind, webhooks.Config{BreakerThreshold: 2, BreakerCooldown: 100 * time.Millisecond,
			BreakerMaxCooldown: 100 * time.Millisecond, DisableAfter: 72 * time.Hour,
			Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
		wh := s.addIn(t, s.appspaceID, dead.url, webhooks.Limits{}, webhooks.EventReferralCreated)
		s.addIn(t, s.appspaceID, listener.url, webhooks.Limits{}, webhooks.EventWebhookDisabled)
		s.addIn(t, s.appspaceID, other.url, webhooks.Limits{}, webhooks.EventReferralCreated)
		s.createIn(t, s.appspaceID, 3)
		eventually(t, "the endpoint pauses", 10*time.Second, func() bool { return s.webhook(t, wh.ID).State == "paused" })
		skew.Store(int64(73 * time.Hour))
		eventually(t, "the endpoint is disabled", 10*time.Second, func() bool { return s.webhook(t, wh.ID).State == "disabled" })
		got := s.webhook(t, wh.ID)
		if got.DisabledReason == nil || got.DisabledAt == nil {
			t.Fatalf("disabled without reason or time: %+v", got.Isolation)
		}
		eventually(t, "webhook.disabled delivered", 10*time.Second, func() bool { return len(listener.requests()) == 1 })
		data := body(t, listener.requests()[0])["data"].(map[string]any)
		if data["webhook_id"] != wh.ID || data["url"] != dead.url || data["reason"] != *got.DisabledReason {
			t.Errorf("webhook.disabled data %v", data)
		}
		if n := len(other.byEvent(webhooks.EventWebhookDisabled)); n != 0 {
			t.Errorf("an endpoint not subscribed to webhook.disabled got it %d times", n)
		}
		if n := s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND state = 'failed'`, wh.ID); n != 0 {
			t.Errorf("%d deliveries failed; disabling must keep them pending", n)
		}
		seen := len(dead.requests())
		time.Sleep(300 * time.Millisecond)
		if n := len(dead.requests()); n != seen {
			t.Errorf("%d requests to the disabled endpoint", n-seen)
		}
		healthy.Store(true)
		if _, err := s.wh.Update(context.Background(), s.appspaceID, wh.ID, webhooks.WebhookPatch{Active: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "re-enabled, its deliveries go out", 10*time.Second, func() bool {
			return s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND state = 'succeeded'`, wh.ID) == 3
		})
		if got := s.webhook(t, wh.ID); got.State != "active" || got.DisabledReason != nil {
			t.Errorf("after re-enabling: state %s, reason %v", got.State, got.DisabledReason)
		}
	})
}
