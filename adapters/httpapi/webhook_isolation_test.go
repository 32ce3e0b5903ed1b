package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
)

// isolationFields picks a webhook object's isolation fields.
func isolationFields(h map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"max_in_flight", "rate_limit", "state", "failure_streak", "disabled_reason", "disabled_at"} {
		v, ok := h[k]
		if !ok {
			v = "(absent)"
		}
		out[k] = v
	}
	return out
}

// TestWebhookIsolationFields: create, get and PATCH show and set
// max_in_flight and rate_limit (null clears it), show state,
// failure_streak and disabled_*; out-of-range limits are 400; a disabled
// endpoint's pending delivery says why it waits, and PATCH {active: true}
// re-enables it.
func TestWebhookIsolationFields(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *stack) {
		recv := newHookReceiver(t)
		fields := func(maxInFlight, rate any, state string, streak float64, reason, at any) map[string]any {
			return map[string]any{"max_in_flight": maxInFlight, "rate_limit": rate, "state": state,
				"failure_streak": streak, "disabled_reason": reason, "disabled_at": at}
		}
		created := s.must(t, http.StatusCreated, "POST", "/v1/api/webhooks", map[string]any{
			"name": "limits", "url": recv.url, "events": []string{"referral.created"}})
		id := created["id"].(string)
		if diff := cmp.Diff(fields(float64(4), nil, "active", 0, nil, nil), isolationFields(created)); diff != "" {
			t.Errorf("defaults on create (-want +got):\n%s", diff)
		}
		set := s.must(t, http.StatusCreated, "POST", "/v1/api/webhooks", map[string]any{
			"name": "set", "url": recv.url, "events": []string{"referral.created"}, "max_in_flight": 64, "rate_limit": 2.5})
		if diff := cmp.Diff(fields(float64(64), 2.5, "active", 0, nil, nil), isolationFields(set)); diff != "" {
			t.Errorf("limits set on create (-want +got):\n%s", diff)
		}
		patched := s.must(t, http.StatusOK, "PATCH", "/v1/api/webhooks/"+id, map[string]any{"max_in_flight": 1, "rate_limit": 5})
		if diff := cmp.Diff(fields(float64(1), float64(5), "active", 0, nil, nil), isolationFields(patched)); diff != "" {
			t.Errorf("after PATCH (-want +got):\n%s", diff)
		}
		// A PATCH without the fields keeps them; rate_limit: null clears the limit.
		kept := s.must(t, http.StatusOK, "PATCH", "/v1/api/webhooks/"+id, map[string]any{"name": "renamed"})
		if kept["max_in_flight"] != float64(1) || kept["rate_limit"] != float64(5) {
			t.Errorf("a PATCH without limits changed them: %v", isolationFields(kept))
		}
		cleared := s.must(t, http.StatusOK, "PATCH", "/v1/api/webhooks/"+id, map[string]any{"rate_limit": nil})
		if diff := cmp.Diff(fields(float64(1), nil, "active", 0, nil, nil), isolationFields(cleared)); diff != "" {
			t.Errorf("after rate_limit: null (-want +got):\n%s", diff)
		}
		for _, bad := range []map[string]any{
			{"max_in_flight": 0}, {"max_in_flight": 65}, {"max_in_flight": -1},
			{"rate_limit": 0}, {"rate_limit": -2},
		} {
			status, out := s.call(t, s.key, "PATCH", "/v1/api/webhooks/"+id, bad)
			wantError(t, status, out, http.StatusBadRequest, domain.EInvalid)
			create := map[string]any{"name": "bad", "url": recv.url, "events": []string{"referral.created"}}
			for k, v := range bad {
				create[k] = v
			}
			status, out = s.call(t, s.key, "POST", "/v1/api/webhooks", create)
			wantError(t, status, out, http.StatusBadRequest, domain.EInvalid)
		}
		if got := s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id, nil); got["max_in_flight"] != float64(1) {
			t.Errorf("a refused PATCH changed the webhook: %v", isolationFields(got))
		}

		// The breaker's fields as the worker leaves a disabled endpoint
		// (no worker runs here), with one delivery waiting.
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		if _, err := s.write.Exec(s.write.Rebind(`UPDATE webhooks SET state = 'disabled', failure_streak = 7,
			failing_since = ?, disabled_reason = 'every attempt failed', disabled_at = ? WHERE id = ?`),
			at.Add(-72*time.Hour).UnixMilli(), at.UnixMilli(), id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.write.Exec(s.write.Rebind(`INSERT INTO webhook_deliveries (id, appspace_id, webhook_id, event_id,
			event_type, body, state, attempt_count, schedule_from, max_attempts, next_attempt_at, created_at, updated_at)
			VALUES ('dlv_waiting', ?, ?, 'evt_waiting', 'referral.created', '{}', 'pending', 2, 0, 4, 0, 0, 0)`),
			s.space, id); err != nil {
			t.Fatal(err)
		}
		disabled := s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id, nil)
		if diff := cmp.Diff(fields(float64(1), nil, "disabled", 7, "every attempt failed", "2026-03-01T12:00:00.000Z"),
			isolationFields(disabled)); diff != "" {
			t.Errorf("disabled endpoint (-want +got):\n%s", diff)
		}
		log := s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id+"/deliveries", nil)["deliveries"].([]any)
		if len(log) != 1 || log[0].(map[string]any)["waiting_reason"] != "endpoint_disabled" {
			t.Errorf("deliveries of a disabled endpoint: %v", log)
		}
		enabled := s.must(t, http.StatusOK, "PATCH", "/v1/api/webhooks/"+id, map[string]any{"active": true})
		if diff := cmp.Diff(fields(float64(1), nil, "active", 0, nil, nil), isolationFields(enabled)); diff != "" {
			t.Errorf("after PATCH {active: true} (-want +got):\n%s", diff)
		}
		log = s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id+"/deliveries", nil)["deliveries"].([]any)
		if len(log) != 1 || log[0].(map[string]any)["waiting_reason"] != nil {
			t.Errorf("deliveries of a re-enabled endpoint: %v", log)
		}
	})
}
