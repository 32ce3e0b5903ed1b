package httpapi_test

import (
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"net/http"
	"testing"
)

// The shapes Tolinku's SDKs expect of the referral routes, written from
// the published type definitions of @tolinku/web-sdk, src/types.ts
// (github.com/tolinku/web-sdk at commit 01ee344b2e1a): CreateReferralResult,
// MilestoneResult, ReferralInfo, CompleteReferralResult, LeaderboardEntry;
// and the error body its HttpClient (src/client.ts) reads: error and code.
// Field name to JSON type; a trailing "?" allows null.
type sdkShape map[string]string

var (
	sdkCreateResult = sdkShape{"referral_code": "string", "referral_url": "string?", "referral_id": "string"}
	sdkMilestone    = sdkShape{"id": "string", "referral_code": "string", "milestone": "string", "status": "string",
		"reward_type": "string?", "reward_value": "string?"}
	sdkReferralInfo = sdkShape{"referrer_id": "string", "status": "string", "milestone": "string",
		"milestone_history": "array", "reward_type": "string?", "reward_value": "string?",
		"reward_claimed": "boolean", "created_at": "string"}
	sdkHistoryEntry = sdkShape{"milestone": "string", "timestamp": "string"}
	sdkComplete     = sdkShape{"id": "string", "referrer_id": "string", "referred_user_id": "string", "status": "string",
		"milestone": "string", "completed_at": "string", "reward_type": "string?", "reward_value": "string?"}
	sdkLeaderboardEntry = sdkShape{"referrer_id": "string", "referrer_name": "string?", "total": "number",
		"completed": "number", "pending": "number", "total_reward_value": "string?"}
	sdkError = sdkShape{"error": "string", "code": "string"}
)

// jsonType names the JSON type of a decoded value.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	default:
		return "object"
	}
}

// checkShape checks that obj has every field of shape with its type.
func checkShape(tb testing.TB, what string, obj any, shape sdkShape) {
	tb.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		tb.Errorf("%s: %v is not an object", what, obj)
		return
	}
	for field, want := range shape {
		v, present := m[field]
		got := jsonType(v)
		switch {
		case !present:
			tb.Errorf("%s: no field %q", what, field)
		case got == want, got == "null" && want[len(want)-1] == '?', want[len(want)-1] == '?' && got == want[:len(want)-1]:
		default:
			tb.Errorf("%s: %q is %s (%v), the SDK expects %s", what, field, got, v, want)
		}
	}
}

// Every referral route answers what the SDKs' types promise, with the
// JSON types they declare, on both stores.
func TestSDKResponseShapes(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind)
		s.setSettings(t, map[string]any{"reward_type": "credit", "reward_value": "$5",
			"referral_url_template": "https://example.com/ref/{code}"})
		created := s.must(t, http.StatusOK, "POST", "/v1/api/referral/create", map[string]any{"user_id": "uma", "user_name": "Uma"})
		checkShape(t, "create", created, sdkCreateResult)
		code := created["referral_code"].(string)
		s.create(t, "vic") // a referrer with nothing completed: a null total

		ms := s.must(t, http.StatusOK, "POST", "/v1/api/referral/milestone",
			map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "wes"})
		checkShape(t, "milestone", ms["referral"], sdkMilestone)
		info := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		checkShape(t, "referral info", info, sdkReferralInfo)
		for _, h := range info["milestone_history"].([]any) {
			checkShape(t, "milestone_history entry", h, sdkHistoryEntry)
		}
		done := s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete",
			map[string]any{"referral_code": code, "milestone": "completed", "referred_user_name": "Wes"})
		checkShape(t, "complete", done["referral"], sdkComplete)
		for _, r := range []map[string]any{ms, done} {
			if ref := r["referral"].(map[string]any); ref["id"] != created["referral_id"] {
				t.Errorf("referral.id %v, want the referral_id %v", ref["id"], created["referral_id"])
			}
		}

		s.project(t)
		for _, period := range []string{"all", "7d", "30d", "90d"} {
			out := s.must(t, http.StatusOK, "GET", "/v1/api/referral/leaderboard?period="+period, nil)
			rows, _ := out["leaderboard"].([]any)
			if len(rows) != 2 {
				t.Fatalf("%s leaderboard: %v, want 2 rows", period, out)
			}
			for _, row := range rows {
				checkShape(t, period+" leaderboard entry", row, sdkLeaderboardEntry)
			}
			if got := rows[0].(map[string]any)["total_reward_value"]; got != "$5" {
				t.Errorf("%s leaderboard: uma's total_reward_value %v, want $5", period, got)
			}
			if got := rows[1].(map[string]any)["total_reward_value"]; got != nil {
				t.Errorf("%s leaderboard: vic's total_reward_value %v, want null", period, got)
			}
		}

		status, body := s.call(t, s.key, "GET", "/v1/api/referral/NOSUCHCODE", nil)
		if status != http.StatusNotFound {
			t.Errorf("unknown code: %d, want 404", status)
		}
		checkShape(t, "error body", body, sdkError)
	})
}
