// Package servicetest tests domain.NewService over the real stores. It is
// a package of its own because domain's tests may not import adapters.
package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// A service with its defaults issues a valid code at the store's clock,
// and a second create returns the same pending referral.
func TestNewServiceDefaults(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		store, _, _ := storetest.Open(t, kind)
		svc := domain.NewService(store, domain.ServiceConfig{})
		o := domain.Origin{AppspaceID: domain.NewPrefixedID("as"), RequestID: "req-1"}
		before := time.Now()
		first, err := svc.CreateReferral(context.Background(), o, domain.CreateInput{ReferrerID: "uma"})
		if err != nil {
			t.Fatal(err)
		}
		if !first.Created || first.Referral.CreatedAt.Before(before.Truncate(time.Millisecond)) || first.Referral.CreatedAt.After(time.Now()) {
			t.Errorf("first create = %+v, want created now", first)
		}
		if err := domain.ValidateCode("referral_code", first.Referral.ReferralCode); err != nil {
			t.Errorf("default code %q: %v", first.Referral.ReferralCode, err)
		}
		again, err := svc.CreateReferral(context.Background(), o, domain.CreateInput{ReferrerID: "uma"})
		if err != nil {
			t.Fatal(err)
		}
		if again.Created || again.Referral.ReferralCode != first.Referral.ReferralCode {
			t.Errorf("second create = %+v, want the first referral back", again)
		}
	})
}

// The configured clock and code generator are the service's, and the
// referrer's stream records the issue: with multi-stream appends, and
// stream by stream (a FaultStore that never faults hides AppendMulti).
func TestNewServiceUsesConfig(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		for _, sequential := range []bool{false, true} {
			store, _, _ := storetest.Open(t, kind)
			var svcStore domain.EventStore = store
			if sequential {
				svcStore = eventstoretest.NewFaultStore(store, eventstoretest.FailNext, func(string) bool { return false })
			}
			at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
			codes := []string{"CODE000001", "CODE000002"}
			svc := domain.NewService(svcStore, domain.ServiceConfig{
				Now:     func() time.Time { return at },
				NewCode: func() string { c := codes[0]; codes = codes[1:]; return c },
			})
			as := domain.NewPrefixedID("as")
			res, err := svc.CreateReferral(context.Background(), domain.Origin{AppspaceID: as}, domain.CreateInput{ReferrerID: "vic"})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := []any{res.Referral.ReferralCode, res.Referral.CreatedAt, res.Created}, []any{"CODE000001", at, true}; !cmp.Equal(got, want) {
				t.Errorf("sequential %t: got %v, want %v", sequential, got, want)
			}
			last, err := store.ReadLast(context.Background(), domain.ReferrerStream(as, "vic"))
			if err != nil {
				t.Fatal(err)
			}
			if last.Type != domain.TypeReferrerCodeIssued || last.Version != 1 {
				t.Errorf("sequential %t: referrer stream ends with %s at %d, want %s at 1", sequential, last.Type, last.Version, domain.TypeReferrerCodeIssued)
			}
		}
	})
}
