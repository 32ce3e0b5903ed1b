package sqlstore_test

import (
	"context"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
)

func forEachDialect(t *testing.T, f func(t *testing.T, a *sqlstore.Access)) {
	t.Helper()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		_, write, read := storetest.Open(t, kind)
		f(t, sqlstore.NewAccess(write, read))
	})
}

func TestKeys(t *testing.T) {
	t.Parallel()
	forEachDialect(t, func(t *testing.T, a *sqlstore.Access) {
		ctx := context.Background()
		as, err := a.CreateAppspace(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.CreateAppspace(ctx, "shop"); domain.ErrorCode(err) != domain.EConflict {
			t.Errorf("second appspace named shop: %v, want conflict", err)
		}
		for _, name := range []string{"", " padded", "a:b"} {
			if _, err := a.CreateAppspace(ctx, name); domain.ErrorCode(err) != domain.EInvalid {
				t.Errorf("appspace name %q: %v, want invalid", name, err)
			}
		}
		byName, err := a.FindAppspace(ctx, "shop")
		if err != nil || byName.ID != as.ID {
			t.Errorf("find by name: %v %v", byName, err)
		}
		key, secret, err := a.CreateKey(ctx, "shop", domain.RoleAuditor, "audit")
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Authenticate(ctx, secret)
		if err != nil || got.ID != key.ID || got.AppspaceID != as.ID || !got.Has(domain.ScopeAuditRead) || got.Has(domain.ScopeReferralsWrite) {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		for name, presented := range map[string]string{
			"wrong secret":   secret[:len(secret)-4] + "AAAA",
			"no prefix":      strings.TrimPrefix(secret, "rlk_"),
			"empty":          "",
			"unknown key id": "rlk_aaaaaaaaaaaaaaaaaaaa_" + secret[len(secret)-43:],
		} {
			if _, err := a.Authenticate(ctx, presented); domain.ErrorCode(err) != domain.EUnauthorized {
				t.Errorf("%s: %v, want unauthorized", name, err)
			}
		}
		keys, err := a.ListKeys(ctx, as.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("list: %v %v", keys, err)
		}
		if err := a.RevokeKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, secret); domain.ErrorCode(err) != domain.EUnauthorized {
			t.Errorf("revoked key: %v, want unauthorized", err)
		}
		if err := a.RevokeKey(ctx, "key_missing"); domain.ErrorCode(err) != domain.ENotFound {
			t.Errorf("revoke a missing key: %v, want not_found", err)
		}
	})
}
