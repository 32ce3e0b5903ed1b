package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// TestSeedFlow runs the seed's whole flow (create, milestones, completion,
// both claims) and checks what a receiver like the seed's Express one gets:
// each event once, verified both ways, with the payloads payload.go builds.
func TestSeedFlow(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		recv := newReceiver(t, nil)
		wh, secret := s.addWebhook(t, recv.url)
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("secret %q lacks the whsec_ prefix", secret)
		}
		if _, err := s.svc.UpdateSettings(ctx, s.origin(), func(st *domain.Settings) error {
			st.ReferralMilestones = []string{"signup", "first_purchase"}
			st.ReferralRewardMilestone = "first_purchase"
			st.RewardType, st.RewardValue = ptr("credit"), ptr("10")
			st.RefereeRewardType, st.RefereeRewardValue = ptr("discount"), ptr("20%")
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		created, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		code := created.Referral.ReferralCode
		for _, m := range []string{"signup", "first_purchase"} {
			if _, err := s.svc.ReachMilestone(ctx, s.origin(), code, domain.MilestoneInput{Milestone: m, ReferredUserID: "bob"}); err != nil {
				t.Fatal(err)
			}
		}
		for _, side := range []string{domain.SideReferrer, domain.SideReferee} {
			if _, err := s.svc.ClaimReward(ctx, s.origin(), code, side); err != nil {
				t.Fatal(err)
			}
		}
		want := map[string]int{"referral.created": 1, "referral.milestone_reached": 2, "referral.completed": 1,
			"referral.reward_claimed": 2}
		eventually(t, "every event delivered", 10*time.Second, func() bool { return len(recv.requests()) >= 6 })
		time.Sleep(100 * time.Millisecond) // nothing more should come
		got := map[string]int{}
		ids := map[string]bool{}
		for _, q := range recv.requests() {
			got[q.Header.Get("X-Webhook-Event")]++
			verify(t, q, secret)
			b := body(t, q)
			if b["id"] != q.Header.Get("webhook-id") || ids[b["id"].(string)] {
				t.Errorf("body id %v, header webhook-id %q: ids must match and be unique", b["id"], q.Header.Get("webhook-id"))
			}
			ids[b["id"].(string)] = true
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events received (-want +got):\n%s", diff)
		}
		createdBody := body(t, recv.byEvent("referral.created")[0])
		if diff := cmp.Diff(map[string]any{"referral_code": code, "referrer_id": "alice", "referral_url": nil},
			createdBody["data"]); diff != "" {
			t.Errorf("referral.created data (-want +got):\n%s", diff)
		}
		completed := body(t, recv.byEvent("referral.completed")[0])
		if diff := cmp.Diff(map[string]any{"referral_code": code, "referrer_id": "alice", "referred_user_id": "bob",
			"milestone": "first_purchase", "reward_type": "credit", "reward_value": "10",
			"referee_reward_type": "discount", "referee_reward_value": "20%"}, completed["data"]); diff != "" {
			t.Errorf("referral.completed data (-want +got):\n%s", diff)
		}
		// Tolinku's field order: the data object starts with referral_code.
		raw := string(recv.byEvent("referral.completed")[0].Body)
		if !strings.Contains(raw, `"data":{"referral_code":`) || !strings.HasPrefix(raw, `{"id":`) {
			t.Errorf("body %s: want the envelope id, event, timestamp, data in order", raw)
		}
		sides := []string{}
		for _, q := range recv.byEvent("referral.reward_claimed") {
			d := body(t, q)["data"].(map[string]any)
			sides = append(sides, d["side"].(string))
			if d["referred_user_id"] != "bob" || d["referrer_id"] != "alice" {
				t.Errorf("reward_claimed data %v", d)
			}
		}
		slices.Sort(sides) // deliveries run concurrently: no order across events
		if diff := cmp.Diff([]string{"referee", "referrer"}, sides); diff != "" {
			t.Errorf("claim sides (-want +got):\n%s", diff)
		}
		// The delivery log has one succeeded delivery per event, one attempt
		// each. Attempts are recorded after the receiver has answered: wait
		// for the record, not for the receipt.
		eventually(t, "every delivery's attempt recorded", 30*time.Second, func() bool {
			for _, d := range s.deliveries(t, wh.ID) {
				if d.State == "pending" {
					return false
				}
			}
			return true
		})
		ds := s.deliveries(t, wh.ID)
		if len(ds) != 6 {
			t.Fatalf("%d deliveries, want 6", len(ds))
		}
		for _, d := range ds {
			if d.State != "succeeded" || len(d.Attempts) != 1 || !d.Attempts[0].Success || *d.Attempts[0].StatusCode != 200 {
				t.Errorf("delivery %+v: want succeeded after one 200 attempt", d)
			}
		}
		// The audit trail's deliveries are the referral's.
		audit, err := s.wh.ReferralDeliveries(ctx, s.appspaceID, code)
		if err != nil || len(audit) != 6 {
			t.Errorf("referral deliveries: %d, %v; want 6", len(audit), err)
		}
	})
}

// verify checks a request's signatures: the seed's hex HMAC of the raw body
// keyed with the whole secret string, and Standard Webhooks' with the
// official library.
func verify(tb testing.TB, q request, secret string) {
	tb.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(q.Body)
	if got, want := q.Header.Get("X-Webhook-Signature"), hex.EncodeToString(mac.Sum(nil)); got != want {
		tb.Errorf("X-Webhook-Signature %q, want %q", got, want)
	}
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		tb.Fatal(err)
	}
	if err := v.Verify(q.Body, q.Header); err != nil {
		tb.Errorf("Standard Webhooks verification: %v", err)
	}
	if ct := q.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type %q", ct)
	}
	if ua := q.Header.Get("User-Agent"); !strings.HasPrefix(ua, "ReferralLedger/") {
		tb.Errorf("User-Agent %q", ua)
	}
}

// TestRetrySchedule: a receiver that always fails gets four attempts and
// the delivery fails; one that recovers after two failures ends
// succeeded. The webhook-id stays the same across attempts, and the
// attempts follow the (compressed) schedule.
func TestRetrySchedule(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		down := newReceiver(t, func(int) int { return http.StatusInternalServerError })
		flaky := newReceiver(t, func(n int) int {
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusNoContent
		})
		whDown, _ := s.addWebhook(t, down.url, webhooks.EventReferralCreated)
		whFlaky, _ := s.addWebhook(t, flaky.url, webhooks.EventReferralCreated)
		if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "carol"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the down receiver's delivery failed", 10*time.Second, func() bool {
			ds := s.deliveries(t, whDown.ID)
			return len(ds) == 1 && ds[0].State == "failed"
		})
		eventually(t, "the flaky receiver's delivery succeeded", 10*time.Second, func() bool {
			ds := s.deliveries(t, whFlaky.ID)
			return len(ds) == 1 && ds[0].State == "succeeded"
		})
		d := s.deliveries(t, whDown.ID)[0]
		if d.AttemptCount != 4 || len(d.Attempts) != 4 || len(down.requests()) != 4 {
			t.Errorf("down: %d attempts logged, %d counted, %d received; want 4", len(d.Attempts), d.AttemptCount, len(down.requests()))
		}
		for i, a := range d.Attempts {
			if a.Success || a.StatusCode == nil || *a.StatusCode != 500 || a.Attempt != i+1 {
				t.Errorf("attempt %d: %+v", i+1, a)
			}
			if i > 0 {
				gap := a.AttemptedAt.Sub(d.Attempts[i-1].AttemptedAt)
				if wantMin := s.cfg.RetrySchedule[i-1]; gap < wantMin-5*time.Millisecond {
					t.Errorf("attempt %d came %s after the previous one; the schedule says %s", i+1, gap, wantMin)
				}
			}
		}
		if f := s.deliveries(t, whFlaky.ID)[0]; f.AttemptCount != 3 {
			t.Errorf("flaky: %d attempts, want 3", f.AttemptCount)
		}
		for _, r := range []*receiver{down, flaky} {
			reqs := r.requests()
			for _, q := range reqs[1:] {
				if q.Header.Get("webhook-id") != reqs[0].Header.Get("webhook-id") || string(q.Body) != string(reqs[0].Body) {
					t.Errorf("a retry changed webhook-id or body: %q vs %q", q.Header.Get("webhook-id"), reqs[0].Header.Get("webhook-id"))
				}
			}
		}
	})
}
