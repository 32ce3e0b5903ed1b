package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// Invariant 3: N concurrent creates for one referrer yield one pending code.
func TestConcurrentCreatesYieldOneCode(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		const n = 50
		codes := make([]string, n)
		created := make([]bool, n)
		parallel(n, func(i int) {
			status, out := s.call(t, s.key, "POST", "/v1/api/referral/create", map[string]any{"user_id": "alice"})
			if status != http.StatusOK {
				t.Errorf("create %d: %d %v", i, status, out)
				return
			}
			codes[i], created[i] = out["referral_code"].(string), out["created"].(bool)
		})
		nCreated := 0
		for i := range n {
			if codes[i] != codes[0] {
				t.Errorf("create %d returned %s, create 0 returned %s", i, codes[i], codes[0])
			}
			if created[i] {
				nCreated++
			}
		}
		if nCreated != 1 {
			t.Errorf("%d creates said created=true, want 1", nCreated)
		}
		if got := s.countEvents(t, s.space, "ReferralCreated", nil); got != 1 {
			t.Errorf("log holds %d ReferralCreated events, want 1", got)
		}
	})
}

// Invariant 3: with a cap of M, never more than M active referrals, while
// creates race and referrals complete or expire in between.
func TestCapHoldsWithExpiriesBetween(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, map[string]any{"referral_max_per_user": 3, "referral_expiration_days": 1})
		seen := map[string]bool{}
		for round := 0; ; round++ {
			if round > 20 {
				t.Fatal("the cap was never reached")
			}
			results := make([]int, 10)
			codes := make([]string, 10)
			parallel(10, func(i int) {
				status, out := s.call(t, s.key, "POST", "/v1/api/referral/create", map[string]any{"user_id": "bob"})
				results[i] = status
				if status == http.StatusOK {
					codes[i] = out["referral_code"].(string)
				} else if out["code"] != "max_referrals_reached" {
					t.Errorf("create: %d %v", status, out)
				}
			})
			if results[0] == http.StatusBadRequest {
				for i, st := range results {
					if st != http.StatusBadRequest {
						t.Errorf("round %d: create %d got %d while another hit the cap", round, i, st)
					}
				}
				break
			}
			for i := range codes {
				if codes[i] != codes[0] {
					t.Fatalf("round %d: concurrent creates returned %s and %s", round, codes[0], codes[i])
				}
			}
			seen[codes[0]] = true
			// Alternate: expire this referral, or complete it.
			if round%2 == 0 {
				s.advance(25 * time.Hour)
			} else {
				s.must(t, http.StatusOK, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": codes[0], "milestone": "completed"})
			}
			if active := activeReferrals(t, s, seen); active > 3 {
				t.Fatalf("round %d: %d active referrals, cap is 3", round, active)
			}
		}
		if active := activeReferrals(t, s, seen); active != 3 {
			t.Errorf("at the cap: %d active referrals, want 3", active)
		}
	})
}

func activeReferrals(t *testing.T, s *stack, codes map[string]bool) int {
	t.Helper()
	active := 0
	for code := range codes {
		out := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		if out["status"] != "expired" {
			active++
		}
	}
	return active
}

// Invariant 4: N concurrent claims of one reward append one claim event,
// and every caller sees the same claimed_at.
func TestConcurrentClaimsAppendOneEvent(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, map[string]any{"reward_type": "credit", "reward_value": "$5", "referee_reward_type": "points", "referee_reward_value": "100"})
		code := s.create(t, "carol")
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "referred_user_id": "dave"})
		for _, path := range []string{"/v1/api/referral/claim-reward", "/v1/api/referral/claim-referee-reward"} {
			const n = 50
			stamps := make([]any, n)
			parallel(n, func(i int) {
				status, out := s.call(t, s.key, "POST", path, map[string]any{"referral_code": code})
				if status != http.StatusOK || out["success"] != true {
					t.Errorf("%s: %d %v", path, status, out)
				}
				stamps[i] = out["claimed_at"]
			})
			for i := range n {
				if stamps[i] != stamps[0] {
					t.Errorf("%s: claim %d saw claimed_at %v, claim 0 saw %v", path, i, stamps[i], stamps[0])
				}
			}
		}
		for _, side := range []string{"referrer", "referee"} {
			got := s.countEvents(t, s.space, "RewardClaimed", func(d map[string]any) bool { return d["side"] == side })
			if got != 1 {
				t.Errorf("log holds %d RewardClaimed events for side %s, want 1", got, side)
			}
		}
	})
}

// Invariant 5: nobody refers themselves; a referred user is attributed to
// at most one referral, even when many referrals race for them.
func TestAttributionRules(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		code := s.create(t, "erin")
		status, out := s.call(t, s.key, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "erin"})
		wantError(t, status, out, http.StatusBadRequest, "self_referral")
		status, out = s.call(t, s.key, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "referred_user_id": "erin"})
		wantError(t, status, out, http.StatusBadRequest, "self_referral")

		s.must(t, http.StatusOK, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "frank"})
		status, out = s.call(t, s.key, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "gina"})
		wantError(t, status, out, http.StatusConflict, "referee_mismatch")
		other := s.create(t, "harry")
		status, out = s.call(t, s.key, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": other, "milestone": "signed_up", "referred_user_id": "frank"})
		wantError(t, status, out, http.StatusConflict, "referee_already_referred")

		// Twenty referrals race for one referred user: one wins.
		const n = 20
		codes := make([]string, n)
		for i := range codes {
			codes[i] = s.create(t, fmt.Sprintf("racer-%d", i))
		}
		wins := make([]bool, n)
		parallel(n, func(i int) {
			status, out := s.call(t, s.key, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": codes[i], "milestone": "signed_up", "referred_user_id": "ivy"})
			switch {
			case status == http.StatusOK:
				wins[i] = true
			case status != http.StatusConflict || out["code"] != "referee_already_referred":
				t.Errorf("attribution %d: %d %v", i, status, out)
			}
		})
		nWins := 0
		for _, w := range wins {
			if w {
				nWins++
			}
		}
		if nWins != 1 {
			t.Errorf("%d referrals won the referred user, want 1", nWins)
		}
		if got := s.countEvents(t, s.space, "RefereeAttributed", func(d map[string]any) bool { return d["referred_user_id"] == "ivy" }); got != 1 {
			t.Errorf("log attributes ivy %d times, want 1", got)
		}
	})
}

// Invariant 6: an expired referral never completes.
func TestExpiredReferralNeverCompletes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, map[string]any{"referral_expiration_days": 2})
		code := s.create(t, "jack")
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "kate"})
		s.advance(49 * time.Hour)
		status, out := s.call(t, s.key, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "completed"})
		wantError(t, status, out, http.StatusConflict, "referral_expired")
		status, out = s.call(t, s.key, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code})
		wantError(t, status, out, http.StatusConflict, "referral_expired")
		status, out = s.call(t, s.key, "POST", "/v1/api/referral/claim-reward", map[string]any{"referral_code": code})
		wantError(t, status, out, http.StatusConflict, "referral_not_completed")
		got := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		if got["status"] != "expired" || got["expired_at"] != got["expires_at"] || got["completed_at"] != nil {
			t.Errorf("referral after expiry: %v", got)
		}
		if n := s.countEvents(t, s.space, "ReferralExpired", nil); n != 1 {
			t.Errorf("log holds %d ReferralExpired events, want 1", n)
		}
		if n := s.countEvents(t, s.space, "ReferralCompleted", nil); n != 0 {
			t.Errorf("log holds %d ReferralCompleted events, want 0", n)
		}
	})
}
