package projections_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// mixedRun drives a run through every part of the reward lifecycle over
// several UTC days, projecting now and then so the live projection
// continues referrals from their rows: holds, flags in hold and flag
// mode, approvals, rejections, reversals with and without clawback, voids
// of pending and completed referrals, velocity, expiry. It returns the
// codes and the instants between its steps (for as_of queries).
func mixedRun(t *testing.T, e *rmEnv) (codes []string, instants []time.Time) {
	t.Helper()
	ctx := context.Background()
	o := e.origin()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step := func(d time.Duration) {
		instants = append(instants, e.clock.Now())
		e.clock.Advance(d)
		instants = append(instants, e.clock.Now().Add(-time.Millisecond))
	}
	createAt := func(referrer, ip, device string) string {
		res, err := e.svc.CreateReferral(ctx, o, domain.CreateInput{ReferrerID: referrer, IP: ip, DeviceID: device})
		must(nil, err)
		codes = append(codes, res.Referral.ReferralCode)
		return res.Referral.ReferralCode
	}
	completeWith := func(code, referee, ip, device string) {
		must(e.svc.CompleteReferral(ctx, o, code, domain.MilestoneInput{ReferredUserID: referee, ReferredIP: ip, ReferredDeviceID: device}))
	}
	max := 1
	e.settings(t, func(s *domain.Settings) {
		s.RewardType, s.RewardValue = ptr("credit"), ptr("$5")
		s.RefereeRewardType, s.RefereeRewardValue = ptr("points"), ptr("100")
		s.RewardHoldDays, s.ReviewMode, s.FraudMaxDailyCompletions = 2, domain.ReviewHold, &max
	})
	held := createAt("mx-held", "198.51.100.1", "dev-held")   // flagged (same ip), held, approved
	rejected := createAt("mx-rej", "198.51.100.2", "dev-rej") // flagged (same device), rejected
	claimed := createAt("mx-claim", "", "")                   // held, claimed, reversed with clawback
	reversed := createAt("mx-rev", "", "")                    // referee side reversed unclaimed
	voidPending := createAt("mx-void-pending", "", "")        // voided while pending
	voidDone := createAt("mx-void-done", "", "")              // completed, claimed, voided
	expires := createAt("mx-expires", "", "")                 // expires
	openHold := createAt("mx-open", "198.51.100.3", "")       // flagged in hold mode, left open
	completeWith(held, "mx-held-f", "198.51.100.1", "")
	completeWith(rejected, "mx-rej-f", "", "dev-rej")
	completeWith(claimed, "mx-claim-f", "", "")
	completeWith(reversed, "mx-rev-f", "", "")
	completeWith(openHold, "mx-open-f", "198.51.100.3", "")
	e.project(t)
	step(time.Hour)
	velocity := createAt("mx-claim", "", "") // the referrer's second completion today
	completeWith(velocity, "mx-claim-f2", "", "")
	must(e.svc.ApproveReview(ctx, o, held, "household"))
	must(e.svc.ReverseReward(ctx, o, reversed, domain.SideReferee, "refund"))
	e.project(t)
	step(25 * time.Hour)
	must(e.svc.RejectReview(ctx, o, rejected, "self-dealing"))
	must(e.svc.VoidReferral(ctx, o, voidPending, "spam"))
	completeWith(voidDone, "mx-void-done-f", "", "")
	e.settings(t, func(s *domain.Settings) { s.ReviewMode = domain.ReviewFlag; s.RewardHoldDays = 0 })
	flagOpen := createAt("mx-flag", "", "dev-flag") // flagged in flag mode: rewards flow
	completeWith(flagOpen, "mx-flag-f", "", "dev-flag")
	step(2 * 24 * time.Hour) // the holds end
	must(e.svc.ClaimReward(ctx, o, claimed, domain.SideReferrer))
	must(e.svc.ClaimReward(ctx, o, voidDone, domain.SideReferee))
	must(e.svc.ClaimReward(ctx, o, flagOpen, domain.SideReferee))
	e.project(t)
	step(time.Hour)
	must(e.svc.ReverseReward(ctx, o, claimed, domain.SideReferrer, "chargeback"))
	must(e.svc.VoidReferral(ctx, o, voidDone, "refund"))
	step(31 * 24 * time.Hour)
	for _, code := range codes { // records the due expiry
		e.get(t, code)
	}
	step(time.Hour)
	// The run did what it says.
	v := func(code string) domain.ReferralView { return e.load(t, code) }
	checks := map[string]bool{
		"held approved":      v(held).Review != nil && v(held).Review.State == domain.ReviewApproved,
		"rejected voided":    v(rejected).Status == domain.StatusVoided && v(rejected).Review.State == domain.ReviewRejected,
		"clawback":           v(claimed).RewardReversal != nil && v(claimed).RewardReversal.Clawback,
		"reversed unclaimed": v(reversed).RefereeRewardReversal != nil && !v(reversed).RefereeRewardReversal.Clawback,
		"voided pending":     v(voidPending).Status == domain.StatusVoided && v(voidPending).CompletedAt == nil,
		"voided completed":   v(voidDone).Status == domain.StatusVoided && v(voidDone).RefereeRewardReversal != nil && v(voidDone).RefereeRewardReversal.Clawback,
		"expired":            v(expires).Status == domain.StatusExpired,
		"open in hold mode":  v(openHold).UnderReview() && v(openHold).Review.HoldsRewards,
		"open in flag mode":  v(flagOpen).UnderReview() && !v(flagOpen).Review.HoldsRewards,
		"velocity":           v(velocity).Review != nil && v(velocity).Review.Reasons[0] == domain.ReasonVelocity,
		"hold stamped":       v(claimed).RewardAvailableAt != nil,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("the mixed run did not reach %q", what)
		}
	}
	return codes, instants
}

// tableRows dumps the appspace's rows of the live read models, each as a
// line, zero-count rows left out (the live tables keep rows that fell to
// zero; a rebuild never writes them).
func (e *rmEnv) tableRows(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, nonzero := range map[string]string{"rm_referrals": "1 = 1", "rm_referrers": "1 = 1",
		"rm_referral_days": "n <> 0", "rm_referrer_windows": "total <> 0", "rm_referrer_rewards": "n <> 0"} {
		rows, err := e.read.Queryx(e.read.Rebind(`SELECT * FROM `+table+` WHERE appspace_id = ? AND `+nonzero), e.appspace)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				cells[i] = fmt.Sprint(v)
			}
			out[table] = append(out[table], strings.Join(cells, " | "))
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		sort.Strings(out[table])
	}
	return out
}

// Invariant 7 with the lifecycle: after a mixed run, the live read models
// equal the streams row by row, and a from-scratch rebuild (in one batch
// and in batches of 3) writes exactly the tables the live projection had.
func TestLifecycleProjectionsEqualRebuild(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		codes, _ := mixedRun(t, e)
		e.project(t)
		e.checkRows(t, codes)
		e.checkCounts(t)
		live := e.tableRows(t)
		if len(live["rm_referrals"]) != len(codes) {
			t.Fatalf("%d rows, want %d", len(live["rm_referrals"]), len(codes))
		}
		for _, small := range []bool{true, false} {
			var err error
			if small {
				_, err = projections.RebuildReferralsInBatches(context.Background(), e.store, e.write, e.rm, nil, 3)
			} else {
				_, err = projections.RebuildReferrals(context.Background(), e.store, e.write, e.rm, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(live, e.tableRows(t)); diff != "" {
				t.Errorf("rebuild (small batches %v) differs from the live projection (-live +rebuilt):\n%s", small, diff)
			}
		}
		e.checkRows(t, codes)
	})
}
