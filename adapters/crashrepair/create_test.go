package crashrepair_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// crashCreate breaks alice's create between the referrer stream and the
// new referral, and returns the service the next command runs on (a new
// process's after Stop) and the appends the fault kept from the store.
func crashCreate(t *testing.T, n *node, fault eventstoretest.Fault, want error) (*domain.Service, []domain.StreamAppend) {
	t.Helper()
	fs := eventstoretest.NewFaultStore(n.store, fault, n.category("referrer"))
	svc := n.serviceOver(fs)
	_, err := svc.CreateReferral(context.Background(), n.origin(), domain.CreateInput{ReferrerID: "alice"})
	if !errors.Is(err, want) || !fs.Fired() {
		t.Fatalf("create across the fault: got %v (fired %v), want %v", err, fs.Fired(), want)
	}
	refused := fs.Refused()
	if len(refused) != 1 {
		t.Fatalf("appends refused: got %d, want 1 (the referral stream)", len(refused))
	}
	if fault == eventstoretest.Stop {
		n.restart()
		svc = n.service()
	}
	return svc, refused
}

// reservation returns alice's reserved code and checks that its referral
// stream was not written.
func reservation(t *testing.T, n *node) string {
	t.Helper()
	rec, err := n.store.ReadLast(context.Background(), domain.ReferrerStream(n.space, "alice"))
	if err != nil {
		t.Fatalf("read the referrer stream: %v", err)
	}
	e, err := domain.DecodeEvent(rec.Type, rec.Data)
	if err != nil {
		t.Fatal(err)
	}
	code := e.(*domain.ReferrerCodeIssued).ReferralCode
	if evs, err := n.store.ReadStream(context.Background(), domain.ReferralStream(n.space, code), 1, 0); err != nil || len(evs) != 0 {
		t.Fatalf("referral %s after the crash: %d events, %v; want none", code, len(evs), err)
	}
	return code
}

func TestCreateRepairedByNextCreate(t *testing.T) {
	t.Parallel()
	forEachFault(t, func(t *testing.T, f fault, n *node) {
		ctx := context.Background()
		n.setCap(1)
		svc, refused := crashCreate(t, n, f.fault, f.want)
		code := reservation(t, n)

		// The next create finishes the reserved referral; it did
		// not issue the code, so it reports created: false.
		res, err := svc.CreateReferral(ctx, n.origin(), domain.CreateInput{ReferrerID: "alice"})
		if err != nil {
			t.Fatalf("create after the crash: %v", err)
		}
		if res.Created || res.Referral.ReferralCode != code || res.Referral.Status != domain.StatusPending {
			t.Errorf("create after the crash: got %s created=%v %s, want the reserved %s, pending, created=false",
				res.Referral.ReferralCode, res.Created, res.Referral.Status, code)
		}
		checkInvariants(t, n, 1)

		// Retries return the same referral and append nothing.
		before := len(n.log())
		again, err := svc.CreateReferral(ctx, n.origin(), domain.CreateInput{ReferrerID: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(again.Referral, res.Referral); diff != "" {
			t.Errorf("retried create (-got +want):\n%s", diff)
		}
		// The dead command's own append, arriving late, is the
		// repair's event (derived ID): recognised, not repeated.
		for _, a := range refused {
			if _, err := n.store.Append(ctx, a.Stream, a.Expected, a.Events...); err != nil {
				t.Errorf("late append of the crashed command to %s: %v", a.Stream, err)
			}
		}
		if got := len(n.log()); got != before {
			t.Errorf("log after retries: got %d events, want %d", got, before)
		}

		// The cap still holds: complete the referral, and the next
		// create is refused.
		if _, err := svc.ReachMilestone(ctx, n.origin(), code, domain.MilestoneInput{Milestone: "completed", ReferredUserID: "bob"}); err != nil {
			t.Fatalf("complete %s: %v", code, err)
		}
		_, err = svc.CreateReferral(ctx, n.origin(), domain.CreateInput{ReferrerID: "alice"})
		if got := domain.ErrorCode(err); got != domain.EMaxReferralsReached {
			t.Errorf("create past the cap: got %v, want %s", err, domain.EMaxReferralsReached)
		}
		checkInvariants(t, n, 1)
	})
}

func TestCreateRepairedByConcurrentCreates(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, n *node) {
		ctx := context.Background()
		crashCreate(t, n, eventstoretest.Stop, eventstoretest.ErrStopped)
		code := reservation(t, n)
		// Several replicas find the reservation at once: one referral, one
		// ReferralCreated, and every caller gets the reserved code.
		const callers = 8
		codes := make(chan string, callers)
		var wg sync.WaitGroup
		for range callers {
			wg.Go(func() {
				res, err := n.service().CreateReferral(ctx, n.origin(), domain.CreateInput{ReferrerID: "alice"})
				if err != nil {
					t.Errorf("concurrent create: %v", err)
				}
				codes <- res.Referral.ReferralCode
			})
		}
		wg.Wait()
		close(codes)
		for got := range codes {
			if got != code {
				t.Errorf("concurrent create: got code %q, want the reserved %s", got, code)
			}
		}
		checkInvariants(t, n, 0)
	})
}
