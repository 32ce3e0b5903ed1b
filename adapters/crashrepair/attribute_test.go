package crashrepair_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// create issues a referral for referrer and returns its code.
func create(t *testing.T, svc *domain.Service, n *node, referrer string) string {
	t.Helper()
	res, err := svc.CreateReferral(context.Background(), n.origin(), domain.CreateInput{ReferrerID: referrer})
	if err != nil {
		t.Fatalf("create for %s: %v", referrer, err)
	}
	return res.Referral.ReferralCode
}

// signup reports that user signed up through code.
func signup(svc *domain.Service, n *node, code, user string) (domain.ReferralView, error) {
	return svc.ReachMilestone(context.Background(), n.origin(), code, domain.MilestoneInput{Milestone: "signup", ReferredUserID: user})
}

// crashAttribution breaks bob's attribution to code between the referee
// guard and the referral, and returns the service of the next command.
func crashAttribution(t *testing.T, n *node, fault eventstoretest.Fault, want error, code string) *domain.Service {
	t.Helper()
	fs := eventstoretest.NewFaultStore(n.store, fault, n.category("referee"))
	if _, err := signup(n.serviceOver(fs), n, code, "bob"); !errors.Is(err, want) || !fs.Fired() {
		t.Fatalf("attribution across the fault: got %v (fired %v), want %v", err, fs.Fired(), want)
	}
	svc := n.serviceOver(fs) // FailNext: the same process carries on
	if fault == eventstoretest.Stop {
		n.restart()
		svc = n.service()
	}
	view, err := svc.GetReferral(context.Background(), n.origin(), code)
	if err != nil || view.ReferredUserID != nil {
		t.Fatalf("referral %s after the crash: referee %v, %v; want none", code, view.ReferredUserID, err)
	}
	return svc
}

func TestAttributionRepairedByRetry(t *testing.T) {
	t.Parallel()
	forEachFault(t, func(t *testing.T, f fault, n *node) {
		a, b := create(t, n.service(), n, "alice"), create(t, n.service(), n, "dave")
		svc := crashAttribution(t, n, f.fault, f.want, a)

		// bob stays reserved for a, which may still take him.
		if _, err := signup(svc, n, b, "bob"); domain.ErrorCode(err) != domain.ERefereeAlreadyReferred {
			t.Errorf("bob to %s while %s holds his reservation: got %v, want %s", b, a, err, domain.ERefereeAlreadyReferred)
		}
		// The retry finds its own reservation and completes.
		view, err := signup(svc, n, a, "bob")
		if err != nil || view.ReferredUserID == nil || *view.ReferredUserID != "bob" {
			t.Fatalf("retried attribution: referee %v, %v; want bob", view.ReferredUserID, err)
		}
		before := len(n.log())
		if _, err := signup(svc, n, a, "bob"); err != nil {
			t.Errorf("second retry: %v", err)
		}
		if got := len(n.log()); got != before {
			t.Errorf("log after the second retry: got %d events, want %d", got, before)
		}
		checkInvariants(t, n, 0)
	})
}

func TestStaleReservationReleased(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// moveOn lets referral a go another way than bob, then returns
		// the code that bob then joins.
		moveOn func(t *testing.T, svc *domain.Service, n *node, a string) string
	}{
		{name: "attributed to another user", moveOn: func(t *testing.T, svc *domain.Service, n *node, a string) string {
			if _, err := signup(svc, n, a, "carol"); err != nil {
				t.Fatalf("carol to %s: %v", a, err)
			}
			return create(t, svc, n, "dave")
		}},
		{name: "expired", moveOn: func(t *testing.T, svc *domain.Service, n *node, a string) string {
			n.advance(31 * 24 * time.Hour) // past the default 30 days
			if _, err := signup(svc, n, a, "bob"); domain.ErrorCode(err) != domain.EReferralExpired {
				t.Errorf("bob to the expired %s: got %v, want %s", a, err, domain.EReferralExpired)
			}
			return create(t, svc, n, "dave")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, n *node) {
				a := create(t, n.service(), n, "alice")
				svc := crashAttribution(t, n, eventstoretest.Stop, eventstoretest.ErrStopped, a)
				b := tc.moveOn(t, svc, n, a)
				// a can never hold bob now: his reservation is stale and
				// another referral takes him.
				view, err := signup(svc, n, b, "bob")
				if err != nil || view.ReferredUserID == nil || *view.ReferredUserID != "bob" {
					t.Fatalf("bob to %s after %s moved on: referee %v, %v; want bob", b, a, view.ReferredUserID, err)
				}
				checkInvariants(t, n, 0)
			})
		})
	}
}
