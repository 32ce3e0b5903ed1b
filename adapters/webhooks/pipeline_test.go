package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// count returns a number from the database.
func (s *stack) count(tb testing.TB, q string, args ...any) int {
	tb.Helper()
	var n int
	if err := s.db.Get(&n, s.db.Rebind(q), args...); err != nil {
		tb.Fatal(err)
	}
	return n
}

// TestForwarderReplayAddsNoDelivery moves the forwarder's checkpoint back
// to zero: every event is published and dispatched again, and no second
// delivery row (nor request) appears.
func TestForwarderReplayAddsNoDelivery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		recv := newReceiver(t, nil)
		wh, _ := s.addWebhook(t, recv.url)
		for i := range 5 {
			if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "r" + string(rune('a'+i))}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "five deliveries", 10*time.Second, func() bool { return len(recv.requests()) == 5 })
		published := s.count(t, `SELECT count(*) FROM watermill_webhook_events`)

		s.stop()
		if _, err := s.db.Exec(s.db.Rebind(`UPDATE projection_checkpoints SET position = 0 WHERE name = ?`), "webhooks"); err != nil {
			t.Fatal(err)
		}
		s.start(t)
		eventually(t, "the forwarder republished the log", 10*time.Second, func() bool {
			return s.count(t, `SELECT count(*) FROM watermill_webhook_events`) == 2*published
		})
		eventually(t, "the dispatcher consumed the repeats", 10*time.Second, func() bool {
			return s.consumed(t) == 2*published
		})
		if n := s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?`, wh.ID); n != 5 {
			t.Errorf("%d delivery rows after the replay, want 5", n)
		}
		time.Sleep(200 * time.Millisecond)
		if n := len(recv.requests()); n != 5 {
			t.Errorf("the receiver got %d requests, want 5", n)
		}
	})
}

// consumed is how many messages of the topic the dispatcher has acked.
func (s *stack) consumed(tb testing.TB) int {
	tb.Helper()
	if s.db.DriverName() == "postgres" {
		return s.count(tb, `SELECT count(*) FROM watermill_webhook_events m, watermill_offsets_webhook_events o
			WHERE o.consumer_group = 'webhook-dispatcher' AND (m.transaction_id < o.last_processed_transaction_id
			OR (m.transaction_id = o.last_processed_transaction_id AND m."offset" <= o.offset_acked))`)
	}
	return s.count(tb, `SELECT count(*) FROM watermill_webhook_events m, watermill_offsets_webhook_events o
		WHERE o.consumer_group = 'webhook-dispatcher' AND m."offset" <= o.offset_acked`)
}

// TestInactiveWebhookGetsNothing: events raised while a webhook is
// inactive are not queued, not even after it is reactivated; a deleted
// webhook gets nothing and its log stays.
func TestInactiveWebhookGetsNothing(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		recv := newReceiver(t, nil)
		wh, _ := s.addWebhook(t, recv.url, webhooks.EventReferralCreated)
		create := func(user string) {
			t.Helper()
			if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: user}); err != nil {
				t.Fatal(err)
			}
		}
		create("before")
		eventually(t, "the first event delivered", 10*time.Second, func() bool { return len(recv.requests()) == 1 })
		if _, err := s.wh.Update(ctx, s.appspaceID, wh.ID, webhooks.WebhookPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		create("while-inactive")
		// Wait until the forwarder has passed the event, then reactivate.
		eventually(t, "the dispatcher saw the event", 10*time.Second, func() bool {
			return s.consumed(t) == 2
		})
		if _, err := s.wh.Update(ctx, s.appspaceID, wh.ID, webhooks.WebhookPatch{Active: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		create("after")
		eventually(t, "the third event delivered", 10*time.Second, func() bool { return len(recv.requests()) == 2 })
		for _, q := range recv.requests() {
			if strings.Contains(string(q.Body), "while-inactive") {
				t.Errorf("an event raised while the webhook was inactive was delivered: %s", q.Body)
			}
		}
		// Raised while inactive but dispatched after the reactivation: still
		// not queued (the webhook's active_since is later than the event).
		s.stop()
		if _, err := s.wh.Update(ctx, s.appspaceID, wh.ID, webhooks.WebhookPatch{Active: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		create("while-inactive-2")
		time.Sleep(5 * time.Millisecond)
		if _, err := s.wh.Update(ctx, s.appspaceID, wh.ID, webhooks.WebhookPatch{Active: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		s.start(t)
		eventually(t, "the dispatcher saw the event", 10*time.Second, func() bool { return s.consumed(t) == 4 })
		if err := s.wh.Delete(ctx, s.appspaceID, wh.ID); err != nil {
			t.Fatal(err)
		}
		create("deleted")
		eventually(t, "the dispatcher saw the last event", 10*time.Second, func() bool { return s.consumed(t) == 5 })
		time.Sleep(100 * time.Millisecond)
		if n := len(recv.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
		if _, err := s.wh.Get(ctx, s.appspaceID, wh.ID); domain.ErrorCode(err) != domain.ENotFound {
			t.Errorf("get a deleted webhook: %v, want not_found", err)
		}
		if n := s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?`, wh.ID); n != 2 {
			t.Errorf("%d rows in the deleted webhook's log, want 2", n)
		}
	})
}

// TestRestartResumesSchedule stops the pipeline in the middle of a retry
// schedule and starts a new one on the same store: the schedule resumes
// where it was, nothing is lost, and webhook-id is stable.
func TestRestartResumesSchedule(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{RetrySchedule: []time.Duration{300 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}})
		recv := newReceiver(t, func(n int) int {
			if n <= 2 {
				return http.StatusBadGateway
			}
			return http.StatusOK
		})
		wh, _ := s.addWebhook(t, recv.url, webhooks.EventReferralCreated)
		if _, err := s.svc.CreateReferral(context.Background(), s.origin(), domain.CreateInput{ReferrerID: "dana"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the first attempt", 10*time.Second, func() bool { return len(recv.requests()) == 1 })
		s.stop()
		time.Sleep(500 * time.Millisecond) // the retry falls due while nothing runs
		if n := len(recv.requests()); n != 1 {
			t.Fatalf("%d requests while stopped", n)
		}
		s.start(t)
		eventually(t, "the delivery succeeded after the restart", 10*time.Second, func() bool {
			ds := s.deliveries(t, wh.ID)
			return len(ds) == 1 && ds[0].State == "succeeded"
		})
		reqs := recv.requests()
		if len(reqs) != 3 {
			t.Errorf("%d requests, want 3", len(reqs))
		}
		for _, q := range reqs {
			if q.Header.Get("webhook-id") != reqs[0].Header.Get("webhook-id") {
				t.Errorf("webhook-id changed across the restart")
			}
		}
	})
}

// TestReplicasShareDeliveries runs two replicas of the pipeline on one
// PostgreSQL database: each event reaches the receiver exactly once (the
// forwarders take turns, the dispatchers share one consumer group, the
// workers skip each other's claimed rows), and both workers deliver.
func TestReplicasShareDeliveries(t *testing.T) {
	t.Parallel()
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	a := newStack(t, "postgres", webhooks.Config{Metrics: regs[0], Concurrency: 4})
	b := &stack{store: a.store, db: a.db, read: a.read, svc: a.svc, appspaceID: a.appspaceID, cfg: a.cfg}
	b.cfg.Metrics = regs[1]
	b.start(t)
	recv := newReceiver(t, func(int) int {
		time.Sleep(2 * time.Millisecond) // let both workers take part
		return http.StatusOK
	})
	s := a
	s.addWebhook(t, recv.url, webhooks.EventReferralCreated)
	const n = 300
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 6 {
				if _, err := s.svc.CreateReferral(context.Background(), s.origin(), domain.CreateInput{ReferrerID: fmt.Sprintf("u%d", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, "every event delivered", 30*time.Second, func() bool { return len(recv.requests()) >= n })
	// Outcomes are recorded after the response, in batches: wait for them,
	// then a moment more for any duplicate request or attempt to show.
	eventually(t, "every attempt recorded", 30*time.Second, func() bool {
		return s.count(t, `SELECT count(*) FROM webhook_attempts`) >= n
	})
	time.Sleep(300 * time.Millisecond)
	perID := map[string]int{}
	for _, q := range recv.requests() {
		perID[q.Header.Get("webhook-id")]++
	}
	if len(perID) != n {
		t.Errorf("%d distinct events received, want %d", len(perID), n)
	}
	for id, c := range perID {
		if c != 1 {
			t.Errorf("event %s received %d times", id, c)
		}
	}
	if rows := s.count(t, `SELECT count(*) FROM webhook_attempts`); rows != n {
		t.Errorf("%d attempts recorded, want %d", rows, n)
	}
	for i, reg := range regs {
		if got := attempts(t, reg); got == 0 {
			t.Errorf("replica %d's worker delivered nothing", i)
		}
	}
}

// attempts sums a registry's ledger_webhook_attempts_total.
func attempts(tb testing.TB, reg *prometheus.Registry) float64 {
	tb.Helper()
	families, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == "ledger_webhook_attempts_total" {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
