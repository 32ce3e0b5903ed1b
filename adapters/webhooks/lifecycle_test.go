package webhooks_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// The reward lifecycle's events reach subscribers signed, with the
// payloads of the API and the log event's id as their stable id.
func TestLifecycleWebhooks(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		recv := newReceiver(t, nil)
		_, secret := s.addWebhook(t, recv.url, webhooks.EventReferralFlagged, webhooks.EventReviewResolved,
			webhooks.EventRewardReversed, webhooks.EventReferralVoided)
		if _, err := s.svc.UpdateSettings(ctx, s.origin(), func(st *domain.Settings) error {
			st.RewardType, st.RewardValue = ptr("credit"), ptr("10")
			st.ReviewMode = domain.ReviewFlag
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		created, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "alice", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		code := created.Referral.ReferralCode
		if _, err := s.svc.CompleteReferral(ctx, s.origin(), code, domain.MilestoneInput{ReferredUserID: "bob", ReferredIP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.ClaimReward(ctx, s.origin(), code, domain.SideReferrer); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.RejectReview(ctx, s.origin(), code, "fraud"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "every lifecycle event delivered", 10*time.Second, func() bool { return len(recv.requests()) >= 4 })
		time.Sleep(100 * time.Millisecond) // nothing more should come
		bob := "bob"
		want := map[string]any{
			"referral.flagged":         map[string]any{"referral_code": code, "referrer_id": "alice", "referred_user_id": bob, "reasons": []any{"same_ip"}},
			"referral.review_resolved": map[string]any{"referral_code": code, "referrer_id": "alice", "referred_user_id": bob, "decision": "rejected"},
			"referral.reward_reversed": map[string]any{"referral_code": code, "referrer_id": "alice", "referred_user_id": bob, "side": "referrer", "reason": "fraud", "clawback": true},
			"referral.voided":          map[string]any{"referral_code": code, "referrer_id": "alice", "referred_user_id": bob, "reason": "fraud"},
		}
		if got := len(recv.requests()); got != len(want) {
			t.Errorf("%d requests, want %d", got, len(want))
		}
		logIDs := map[string]bool{}
		evs, err := s.store.ReadStream(ctx, domain.ReferralStream(s.appspaceID, code), 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			logIDs[e.ID] = true
		}
		for event, data := range want {
			qs := recv.byEvent(event)
			if len(qs) != 1 {
				t.Errorf("%s: %d requests, want 1", event, len(qs))
				continue
			}
			verify(t, qs[0], secret)
			b := body(t, qs[0])
			if id := qs[0].Header.Get("webhook-id"); b["id"] != id || !logIDs[id] {
				t.Errorf("%s: webhook-id %q, body id %v: want the log event's id", event, id, b["id"])
			}
			if diff := cmp.Diff(data, b["data"]); diff != "" {
				t.Errorf("%s data (-want +got):\n%s", event, diff)
			}
		}
	})
}
