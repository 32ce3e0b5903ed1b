package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

var lifecycleRewards = map[string]any{"reward_type": "credit", "reward_value": "$5", "referee_reward_type": "credit", "referee_reward_value": "$5"}

// completed creates and completes a referral of referrer for referee.
func (s *stack) completed(tb testing.TB, referrer, referee string, extra map[string]any) string {
	tb.Helper()
	code := s.create(tb, referrer)
	body := map[string]any{"referral_code": code, "referred_user_id": referee}
	for k, v := range extra {
		body[k] = v
	}
	s.must(tb, http.StatusOK, "POST", "/v1/api/referral/complete", body)
	return code
}

// repeatAppendsNothing sends a command twice: both answer 200, the second appends nothing.
func (s *stack) repeatAppendsNothing(tb testing.TB, path string, body map[string]any) map[string]any {
	tb.Helper()
	s.must(tb, http.StatusOK, "POST", path, body)
	before := len(s.events(tb, s.space))
	out := s.must(tb, http.StatusOK, "POST", path, body)
	if after := len(s.events(tb, s.space)); after != before {
		tb.Errorf("repeat of %s appended %d events", path, after-before)
	}
	return out["referral"].(map[string]any)
}

// Holds: a reward is held until completed_at + reward_hold_days, and a
// later settings change does not move the hold (invariant 14).
func TestRewardHold(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, map[string]any{"reward_type": "points", "reward_value": "500", "reward_hold_days": 7})
		code := s.completed(t, "hana", "ivo", nil)
		ref := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		if ref["reward_status"] != "held" || ref["referee_reward_status"] != "none" || ref["reward_available_at"] == nil {
			t.Fatalf("held referral: %v", ref)
		}
		s.setSettings(t, map[string]any{"reward_hold_days": 0})
		status, out := s.call(t, s.key, "POST", "/v1/api/referral/claim-reward", map[string]any{"referral_code": code})
		wantError(t, status, out, http.StatusConflict, "reward_on_hold")
		if out["available_at"] != ref["reward_available_at"] {
			t.Errorf("available_at = %v, want %v", out["available_at"], ref["reward_available_at"])
		}
		s.advance(7*24*time.Hour - time.Minute)
		status, out = s.call(t, s.key, "POST", "/v1/api/referral/claim-reward", map[string]any{"referral_code": code})
		wantError(t, status, out, http.StatusConflict, "reward_on_hold")
		s.advance(time.Minute)
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/claim-reward", map[string]any{"referral_code": code})
		if ref := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil); ref["reward_status"] != "claimed" {
			t.Errorf("after the claim: reward_status %v", ref["reward_status"])
		}
	})
}

// Reversal and void: a claimed reward is reversed with clawback, a
// reversed reward or a voided referral is never claimable again
// (invariant 13), and every repeat appends nothing.
func TestReverseAndVoid(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, lifecycleRewards)
		pending := s.create(t, "jan")
		s.refused(t, "/v1/api/referral/reverse-reward", map[string]any{"referral_code": pending, "side": "referrer", "reason": "x"}, http.StatusConflict, "referral_not_completed")
		s.refused(t, "/v1/api/referral/void", map[string]any{"referral_code": pending}, http.StatusBadRequest, "invalid_request")

		code := s.completed(t, "kai", "lea", nil)
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/claim-reward", map[string]any{"referral_code": code})
		ref := s.repeatAppendsNothing(t, "/v1/api/referral/reverse-reward", map[string]any{"referral_code": code, "side": "referrer", "reason": "refund"})
		if ref["reward_status"] != "reversed" || ref["referee_reward_status"] != "available" {
			t.Errorf("after reversal: %v", ref)
		}
		if n := s.countEvents(t, s.space, domain.TypeRewardReversed, func(d map[string]any) bool { return d["clawback"] == true }); n != 1 {
			t.Errorf("RewardReversed with clawback: %d, want 1", n)
		}
		s.refused(t, "/v1/api/referral/claim-reward", map[string]any{"referral_code": code}, http.StatusConflict, "reward_reversed")

		ref = s.repeatAppendsNothing(t, "/v1/api/referral/void", map[string]any{"referral_code": code, "reason": "chargeback"})
		if ref["status"] != "voided" || ref["void_reason"] != "chargeback" || ref["voided_at"] == nil || ref["referee_reward_status"] != "reversed" {
			t.Errorf("after void: %v", ref)
		}
		s.refused(t, "/v1/api/referral/claim-referee-reward", map[string]any{"referral_code": code}, http.StatusConflict, "referral_voided")
		s.refused(t, "/v1/api/referral/milestone", map[string]any{"referral_code": code, "milestone": "x"}, http.StatusConflict, "referral_voided")

		s.advance(31 * 24 * time.Hour)
		s.refused(t, "/v1/api/referral/void", map[string]any{"referral_code": pending, "reason": "late"}, http.StatusConflict, "referral_expired")
	})
}

// Reviews: hold mode holds both rewards until approval; flag mode lets
// them flow; reject voids; approve and reject exclude each other.
func TestReviews(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, lifecycleRewards)
		s.setSettings(t, map[string]any{"review_mode": "hold"})
		code := s.createBody(t, map[string]any{"user_id": "max", "ip": "203.0.113.9", "device_id": "d1"})
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/milestone",
			map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "nia", "referred_ip": "203.0.113.9"})
		ref := s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "referred_device_id": "d1"})["referral"].(map[string]any)
		review, _ := ref["review"].(map[string]any)
		if review["state"] != "open" || !equalJSON(review["reasons"], []string{"same_ip", "same_device"}) || ref["reward_status"] != "held" {
			t.Fatalf("flagged referral: %v", ref)
		}
		s.refused(t, "/v1/api/referral/claim-reward", map[string]any{"referral_code": code}, http.StatusConflict, "referral_under_review")
		ref = s.repeatAppendsNothing(t, "/v1/api/reviews/"+code+"/approve", map[string]any{"note": "known household"})
		if ref["review"].(map[string]any)["state"] != "approved" || ref["reward_status"] != "available" {
			t.Errorf("approved: %v", ref)
		}
		s.refused(t, "/v1/api/reviews/"+code+"/reject", map[string]any{"reason": "changed my mind"}, http.StatusConflict, "conflict")
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/claim-reward", map[string]any{"referral_code": code})

		// Flag mode: the review opens, the rewards flow; reject voids.
		s.setSettings(t, map[string]any{"review_mode": "flag"})
		code2 := s.createBody(t, map[string]any{"user_id": "ola", "device_id": "d2"})
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code2, "referred_user_id": "pia", "referred_device_id": "d2"})
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/claim-referee-reward", map[string]any{"referral_code": code2})
		ref = s.repeatAppendsNothing(t, "/v1/api/reviews/"+code2+"/reject", map[string]any{"reason": "self-dealing"})
		if ref["status"] != "voided" || ref["review"].(map[string]any)["state"] != "rejected" || ref["referee_reward_status"] != "reversed" {
			t.Errorf("rejected: %v", ref)
		}
		s.refused(t, "/v1/api/reviews/"+code2+"/approve", nil, http.StatusConflict, "referral_voided")
		s.refused(t, "/v1/api/reviews/"+s.create(t, "quin")+"/approve", nil, http.StatusNotFound, "not_found")
	})
}

// Velocity: a referrer's completions in one UTC day beyond the limit are
// flagged; at the limit they are not.
func TestVelocityRule(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		// Start early in a UTC day, so the day does not turn during the test.
		day := s.now().UTC().Truncate(24 * time.Hour).Add(24*time.Hour + time.Hour)
		s.advance(day.Sub(s.now()))
		s.setSettings(t, map[string]any{"review_mode": "flag", "fraud_max_daily_completions": 2})
		for i, want := range []any{nil, nil, "velocity"} {
			code := s.completed(t, "rex", "referee-"+string(rune('a'+i)), nil)
			ref := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
			var got any
			if rv, ok := ref["review"].(map[string]any); ok {
				got = rv["reasons"].([]any)[0]
			}
			if got != want {
				t.Errorf("completion %d: review reason %v, want %v", i+1, got, want)
			}
		}
		s.advance(24 * time.Hour)
		if ref := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+s.completed(t, "rex", "referee-next-day", nil), nil); ref["review"] != nil {
			t.Errorf("first completion of the next day flagged: %v", ref["review"])
		}
	})
}

// Scopes: reviewers void, reverse and resolve; analysts do not.
func TestReviewScopes(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite")
	code := s.create(t, "sam")
	reviewer, analyst := s.newKey(t, s.space, domain.RoleReviewer), s.newKey(t, s.space, domain.RoleAnalyst)
	status, out := s.call(t, analyst, "POST", "/v1/api/referral/void", map[string]any{"referral_code": code, "reason": "x"})
	wantError(t, status, out, http.StatusForbidden, "forbidden")
	if status, out := s.call(t, reviewer, "POST", "/v1/api/referral/void", map[string]any{"referral_code": code, "reason": "x"}); status != http.StatusOK {
		t.Errorf("reviewer void: %d %v", status, out)
	}
	status, out = s.call(t, reviewer, "POST", "/v1/api/referral/create", map[string]any{"user_id": "x"})
	wantError(t, status, out, http.StatusForbidden, "forbidden")
}

// refused sends a POST that must be refused with wantStatus and wantCode.
func (s *stack) refused(tb testing.TB, path string, body any, wantStatus int, wantCode string) {
	tb.Helper()
	status, out := s.call(tb, s.key, "POST", path, body)
	wantError(tb, status, out, wantStatus, wantCode)
}

func (s *stack) createBody(tb testing.TB, body map[string]any) string {
	tb.Helper()
	return s.must(tb, http.StatusOK, "POST", "/v1/api/referral/create", body)["referral_code"].(string)
}
