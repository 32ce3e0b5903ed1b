package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// Invariant 10: another appspace's key gets 404 for every referral
// endpoint, and sees none of this appspace's events.
func TestAppspaceIsolation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, map[string]any{"reward_type": "credit", "referee_reward_type": "credit"})
		code := s.create(t, "liam")
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "referred_user_id": "mia"})
		otherSpace, other := s.newAppspace(t, "other", "server")
		before := len(s.events(t, s.space))
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/api/referral/" + code},
			{"POST", "/v1/api/referral/milestone"},
			{"POST", "/v1/api/referral/complete"},
			{"POST", "/v1/api/referral/claim-reward"},
			{"POST", "/v1/api/referral/claim-referee-reward"},
			{"GET", "/v1/api/audit/referrals/" + code},
		} {
			var body any
			switch c.path {
			case "/v1/api/referral/milestone", "/v1/api/referral/complete":
				body = map[string]any{"referral_code": code, "milestone": "completed", "referred_user_id": "mia"}
			case "/v1/api/referral/claim-reward", "/v1/api/referral/claim-referee-reward":
				body = map[string]any{"referral_code": code}
			}
			status, out := s.call(t, other, c.method, c.path, body)
			wantError(t, status, out, http.StatusNotFound, "not_found")
		}
		if after := len(s.events(t, s.space)); after != before {
			t.Errorf("the other appspace's calls appended %d events here", after-before)
		}
		_, out := s.call(t, other, "GET", "/v1/api/events", nil)
		if evs := out["events"].([]any); len(evs) != 0 {
			t.Errorf("the other appspace's key reads %d events, want 0", len(evs))
		}
		// The same code can exist in both appspaces without clashing, and
		// the same user may be referred in each.
		otherCode := s.createWith(t, other, "liam")
		if otherCode == "" {
			t.Fatal("create in the other appspace failed")
		}
		if len(s.events(t, otherSpace)) == 0 {
			t.Error("the other appspace's create appended nothing to its own log")
		}
	})
}

func (s *stack) createWith(t *testing.T, key, user string) string {
	t.Helper()
	status, out := s.call(t, key, "POST", "/v1/api/referral/create", map[string]any{"user_id": user})
	if status != http.StatusOK {
		t.Errorf("create: %d %v", status, out)
		return ""
	}
	return out["referral_code"].(string)
}

// Invariant 2: repeating a command that took effect returns 200 with the
// same result and appends nothing.
func TestRepeatedCommandsAppendNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		settings := map[string]any{
			"referral_milestones": []string{"signed_up", "first_purchase"}, "referral_reward_milestone": "first_purchase",
			"reward_type": "credit", "reward_value": "$5", "referee_reward_type": "credit", "referee_reward_value": "$5",
		}
		code := ""
		steps := []struct {
			name, path string
			body       func() map[string]any
		}{
			{"settings", "/v1/api/referral/settings", func() map[string]any { return settings }},
			{"create", "/v1/api/referral/create", func() map[string]any { return map[string]any{"user_id": "noah"} }},
			{"signed_up", "/v1/api/referral/milestone", func() map[string]any {
				return map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "olga"}
			}},
			{"first_purchase", "/v1/api/referral/milestone", func() map[string]any {
				return map[string]any{"referral_code": code, "milestone": "first_purchase"}
			}},
			{"complete", "/v1/api/referral/complete", func() map[string]any {
				return map[string]any{"referral_code": code, "referred_user_id": "olga", "milestone": "first_purchase"}
			}},
			{"claim", "/v1/api/referral/claim-reward", func() map[string]any { return map[string]any{"referral_code": code} }},
			{"claim referee", "/v1/api/referral/claim-referee-reward", func() map[string]any { return map[string]any{"referral_code": code} }},
		}
		for _, st := range steps {
			method := "POST"
			if st.name == "settings" {
				method = "PUT"
			}
			first := s.must(t, http.StatusOK, method, st.path, st.body())
			if st.name == "create" {
				code = first["referral_code"].(string)
			}
			before := len(s.events(t, s.space))
			again := s.must(t, http.StatusOK, method, st.path, st.body())
			if after := len(s.events(t, s.space)); after != before {
				t.Errorf("%s: the repeat appended %d events", st.name, after-before)
			}
			delete(first, "created")
			delete(again, "created")
			if !equalJSON(first, again) && st.name != "complete" {
				t.Errorf("%s: repeat returned %v, first call %v", st.name, again, first)
			}
		}
		got := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		if got["status"] != "completed" || got["reward_claimed"] != true || got["referee_reward_claimed"] != true || got["reward_value"] != "$5" {
			t.Errorf("final referral: %v", got)
		}
		if hist := got["milestone_history"].([]any); len(hist) != 2 {
			t.Errorf("milestone_history has %d entries, want 2: %v", len(hist), hist)
		}
	})
}

// The edge rejects what it cannot accept, before anything is appended.
func TestRequestRejections(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		analyst := s.newKey(t, s.space, "analyst")
		cases := []struct {
			name, key, method, path string
			body                    any
			status                  int
			code                    string
		}{
			{"no key", "", "GET", "/v1/api/referral/settings", nil, 401, "unauthorized"},
			{"bad key", "rlk_nope_nope", "GET", "/v1/api/referral/settings", nil, 401, "unauthorized"},
			{"missing scope", analyst, "POST", "/v1/api/referral/create", map[string]any{"user_id": "u"}, 403, "forbidden"},
			{"unknown field", s.key, "POST", "/v1/api/referral/create", map[string]any{"user_id": "u", "colour": "red"}, 400, "invalid_request"},
			{"not json", s.key, "POST", "/v1/api/referral/create", "user_id=u", 400, "invalid_request"},
			{"trailing data", s.key, "POST", "/v1/api/referral/create", `{"user_id":"u"} {}`, 400, "invalid_request"},
			{"no user", s.key, "POST", "/v1/api/referral/create", map[string]any{}, 400, "invalid_request"},
			{"metadata not object", s.key, "POST", "/v1/api/referral/create", map[string]any{"user_id": "u", "metadata": []int{1}}, 400, "invalid_request"},
			{"too large", s.key, "POST", "/v1/api/referral/create", `{"user_id":"u","metadata":{"x":"` + strings.Repeat("a", 70<<10) + `"}}`, 413, "payload_too_large"},
			{"unknown code", s.key, "GET", "/v1/api/referral/ZZZZZZZZZZ", nil, 404, "not_found"},
			{"bad settings", s.key, "PUT", "/v1/api/referral/settings", map[string]any{"reward_type": "gold"}, 400, "invalid_request"},
			{"unknown endpoint", s.key, "GET", "/v1/api/nothing", nil, 404, "not_found"},
		}
		for _, c := range cases {
			before := len(s.events(t, s.space))
			status, out := s.call(t, c.key, c.method, c.path, c.body)
			if status != c.status || out["code"] != c.code {
				t.Errorf("%s: got %d %v, want %d %s", c.name, status, out, c.status, c.code)
			}
			if out["error"] == nil || out["error"] == "" {
				t.Errorf("%s: error body has no message: %v", c.name, out)
			}
			if after := len(s.events(t, s.space)); after != before {
				t.Errorf("%s: a rejected request appended %d events", c.name, after-before)
			}
		}
		s.setSettings(t, map[string]any{"referrals_enabled": false})
		status, out := s.call(t, s.key, "POST", "/v1/api/referral/create", map[string]any{"user_id": "u"})
		wantError(t, status, out, http.StatusForbidden, "referrals_disabled")
	})
}
