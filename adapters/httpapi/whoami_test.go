package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
)

func TestWhoami(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *stack) {
		space, key := s.newAppspace(t, "whoami-shop", domain.RoleAnalyst)
		status, out := s.call(t, key, "GET", "/v1/api/whoami", nil)
		if status != http.StatusOK {
			t.Fatalf("got %d %v, want 200", status, out)
		}
		if out["appspace_id"] != space || out["appspace_name"] != "whoami-shop" || out["role"] != domain.RoleAnalyst {
			t.Errorf("got %v, want appspace %s named whoami-shop, role analyst", out, space)
		}
		if id, _ := out["key_id"].(string); id == "" {
			t.Errorf("key_id %v, want the key's id", out["key_id"])
		}
		if diff := cmp.Diff([]any{domain.ScopeReferralsRead, domain.ScopeEventsRead}, out["scopes"]); diff != "" {
			t.Errorf("scopes (-want +got):\n%s", diff)
		}
		status, out = s.call(t, "", "GET", "/v1/api/whoami", nil)
		wantError(t, status, out, http.StatusUnauthorized, "unauthorized")
	})
}
