package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// countingKeys counts the lookups of the real key store.
type countingKeys struct {
	httpapi.KeyStore
	lookups atomic.Int64
}

func (c *countingKeys) Authenticate(ctx context.Context, presented string) (domain.APIKey, error) {
	c.lookups.Add(1)
	return c.KeyStore.Authenticate(ctx, presented)
}

// TestFailedAuthenticationIsLimitedPerAddress: past its budget of failures
// an address is refused with 429 and Retry-After before any key lookup,
// valid keys included.
func TestFailedAuthenticationIsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	store, write, read := storetest.Open(t, "sqlite")
	access := sqlstore.NewAccess(write, read)
	keys := &countingKeys{KeyStore: access}
	api := httpapi.New(domain.NewService(store, domain.ServiceConfig{}), keys, slog.New(slog.DiscardHandler),
		httpapi.Config{AuthFailuresPerMinute: 1, AuthFailureBurst: 3})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	as, err := access.CreateAppspace(context.Background(), "default")
	if err != nil {
		t.Fatal(err)
	}
	_, valid, err := access.CreateKey(context.Background(), as.ID, domain.RoleServer, "test")
	if err != nil {
		t.Fatal(err)
	}
	get := func(key string) *http.Response {
		req, err := http.NewRequest("GET", srv.URL+"/v1/api/referral/settings", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := get(valid); resp.StatusCode != http.StatusOK {
		t.Fatalf("valid key before any failure: %d", resp.StatusCode)
	}
	for i := range 3 {
		if resp := get("rlk_wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong key %d, within the budget: %d, want 401", i, resp.StatusCode)
		}
	}
	before := keys.lookups.Load()
	for _, key := range []string{"rlk_wrong", valid} {
		resp := get(key)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("over the budget: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if got := keys.lookups.Load() - before; got != 0 {
		t.Errorf("%d key lookups over the budget, want 0", got)
	}
}

func TestNotReadySaysWhenToRetry(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite", httpapi.Config{Ready: []httpapi.Check{
		{Name: "store", Check: func(context.Context) error { return errors.New("down") }}}})
	resp := s.get(t, context.Background(), "", "/readyz", "")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz failing: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
