package crashrepair_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// dayCounts returns, for each referral code, the day counts that the
// referrer stream's ReferrerCompletionCounted events gave it, in log order.
func dayCounts(t *testing.T, n *node) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, e := range n.log() {
		if e.Type != domain.TypeReferrerCompletionCounted {
			continue
		}
		var c domain.ReferrerCompletionCounted
		if err := json.Unmarshal(e.Data, &c); err != nil {
			t.Fatal(err)
		}
		out[c.ReferralCode] = append(out[c.ReferralCode], c.DayCompletions)
	}
	return out
}

// The velocity rule's count is appended to the referrer's stream before
// the completion is appended to the referral's. A completion that breaks
// between the two (the process dies, the second append fails, or the
// first one's acknowledgement is lost) and is then retried counts once:
// the retry finds its own count as the referrer stream's last event. The
// referrer's next completions that day are counted 2 and 3, and only the
// third, beyond fraud_max_daily_completions = 2, is flagged.
func TestVelocityCountRepairedByRetry(t *testing.T) {
	t.Parallel()
	faults := []fault{
		{name: "fail", fault: eventstoretest.FailNext, want: eventstoretest.ErrInjected},
		{name: "stop", fault: eventstoretest.Stop, want: eventstoretest.ErrStopped},
		{name: "lose-ack", fault: eventstoretest.LoseAck},
	}
	for _, fc := range faults {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, n *node) { velocityAcrossFault(t, n, fc) })
		})
	}
}

func velocityAcrossFault(t *testing.T, n *node, fc fault) {
	ctx := context.Background()
	max := 2
	if _, err := n.service().UpdateSettings(ctx, n.origin(), func(s *domain.Settings) error {
		s.ReviewMode, s.FraudMaxDailyCompletions = domain.ReviewFlag, &max
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	complete := func(svc *domain.Service, code, referee string) (domain.ReferralView, error) {
		return svc.CompleteReferral(ctx, n.origin(), code, domain.MilestoneInput{ReferredUserID: referee})
	}
	// The referee is attributed first, so the completion appends to two
	// streams only: the referrer's count, then the referral.
	first := create(t, n.service(), n, "vic")
	if _, err := signup(n.service(), n, first, "vic-friend-0"); err != nil {
		t.Fatal(err)
	}
	fs := eventstoretest.NewFaultStore(n.store, fc.fault, n.category("referrer"))
	svc := n.serviceOver(fs)
	v, err := complete(svc, first, "")
	if !fs.Fired() {
		t.Fatalf("the completion never appended the referrer's count (err %v)", err)
	}
	switch {
	case fc.want != nil && !errors.Is(err, fc.want):
		t.Fatalf("completion across the fault: %v, want %v", err, fc.want)
	case fc.want != nil && v.Status == domain.StatusCompleted:
		t.Fatalf("the completion failed with %v but returned a completed referral", err)
	}
	if fc.fault == eventstoretest.Stop {
		n.restart()
		svc = n.service()
	}
	// The retry (a lost acknowledgement may already have been recognised:
	// then the retry is a repeat).
	if v, err = complete(svc, first, ""); err != nil || v.Status != domain.StatusCompleted {
		t.Fatalf("retried completion: %v, %v", v.Status, err)
	}
	if v.Review != nil {
		t.Errorf("the first completion of the day is flagged: %+v", v.Review)
	}
	var codes []string
	for i := 1; i <= 2; i++ {
		code := create(t, svc, n, "vic")
		if v, err = complete(svc, code, fmt.Sprintf("vic-friend-%d", i)); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
		flagged := v.Review != nil && slices.Contains(v.Review.Reasons, domain.ReasonVelocity)
		if want := i == 2; flagged != want {
			t.Errorf("completion %d of the day: flagged for velocity %v, want %v (review %+v)", i+1, flagged, want, v.Review)
		}
	}
	counts := dayCounts(t, n)
	want := map[string][]int{first: {1}, codes[0]: {2}, codes[1]: {3}}
	for code, w := range want {
		if !slices.Equal(counts[code], w) {
			t.Errorf("counts of %s: %v, want %v", code, counts[code], w)
		}
	}
	checkInvariants(t, n, 0)
}
