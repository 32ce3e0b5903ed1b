package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// codeEvents counts the events of type typ on code's referral stream whose
// data matches (nil matches all).
func (s *stack) codeEvents(tb testing.TB, code, typ string, match func(map[string]any) bool) int {
	tb.Helper()
	n := 0
	for _, e := range s.events(tb, s.space) {
		if e.Stream != domain.ReferralStream(s.space, code) || e.Type != typ {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal(e.Data, &d); err != nil {
			tb.Fatal(err)
		}
		if match == nil || match(d) {
			n++
		}
	}
	return n
}

// Invariant 13: a void or reversal racing a claim ends in one consistent
// outcome: claimed, then reversed with clawback; or reversed, and the
// claim refused.
func TestClaimRacesReversal(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, lifecycleRewards)
		for round := range 6 {
			code := s.completed(t, fmt.Sprintf("racer-%d", round), fmt.Sprintf("raced-%d", round), nil)
			path, body, refusal := "/v1/api/referral/reverse-reward", map[string]any{"referral_code": code, "side": "referrer", "reason": "race"}, "reward_reversed"
			if round%2 == 1 {
				path, body, refusal = "/v1/api/referral/void", map[string]any{"referral_code": code, "reason": "race"}, "referral_voided"
			}
			var status int
			var out map[string]any
			parallel(2, func(i int) {
				if i == 0 {
					status, out = s.call(t, s.key, "POST", "/v1/api/referral/claim-reward", map[string]any{"referral_code": code})
					return
				}
				s.must(t, http.StatusOK, "POST", path, body)
			})
			claims := s.codeEvents(t, code, domain.TypeRewardClaimed, nil)
			reversals := s.codeEvents(t, code, domain.TypeRewardReversed, func(d map[string]any) bool { return d["side"] == "referrer" })
			clawbacks := s.codeEvents(t, code, domain.TypeRewardReversed, func(d map[string]any) bool { return d["side"] == "referrer" && d["clawback"] == true })
			if reversals != 1 {
				t.Errorf("round %d: %d reversals of the referrer reward, want 1", round, reversals)
			}
			if status == http.StatusOK {
				if claims != 1 || clawbacks != 1 {
					t.Errorf("round %d: the claim won, but %d claims and %d clawbacks, want 1 and 1", round, claims, clawbacks)
				}
			} else {
				wantError(t, status, out, http.StatusConflict, refusal)
				if claims != 0 || clawbacks != 0 {
					t.Errorf("round %d: the claim lost, but %d claims and %d clawbacks", round, claims, clawbacks)
				}
			}
		}
	})
}

// Approve racing reject resolves the review once, and 50 concurrent
// reversals of one reward append one RewardReversed.
func TestConcurrentResolutions(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, lifecycleRewards)
		s.setSettings(t, map[string]any{"review_mode": "hold"})
		code := s.createBody(t, map[string]any{"user_id": "tia", "ip": "198.51.100.4"})
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "referred_user_id": "uma", "referred_ip": "198.51.100.4"})
		statuses := make([]int, 2)
		parallel(2, func(i int) {
			path := "/v1/api/reviews/" + code + "/approve"
			if i == 1 {
				path = "/v1/api/reviews/" + code + "/reject"
			}
			statuses[i], _ = s.call(t, s.key, "POST", path, map[string]any{})
		})
		if n := s.codeEvents(t, code, domain.TypeReviewResolved, nil); n != 1 {
			t.Errorf("%d ReviewResolved, want 1 (statuses %v)", n, statuses)
		}
		if (statuses[0] == http.StatusOK) == (statuses[1] == http.StatusOK) {
			t.Errorf("approve %d, reject %d: want exactly one 200", statuses[0], statuses[1])
		}

		code2 := s.completed(t, "vic", "wes", nil)
		parallel(50, func(int) {
			s.must(t, http.StatusOK, "POST", "/v1/api/referral/reverse-reward", map[string]any{"referral_code": code2, "side": "referee", "reason": "dup"})
		})
		if n := s.codeEvents(t, code2, domain.TypeRewardReversed, nil); n != 1 {
			t.Errorf("50 concurrent reversals appended %d RewardReversed, want 1", n)
		}
	})
}
