package projections_test

import (
	"context"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// A voided referral leaves the completed and pending counts (it stays in
// the total), and the counters agree with the rows they summarise.
func TestVoidedReferralsLeaveCompleted(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		done := e.create(t, "vera", nil, "")
		e.complete(t, done, "vera-1")
		e.project(t)
		if _, err := e.svc.VoidReferral(context.Background(), e.origin(), done, "chargeback"); err != nil {
			t.Fatal(err)
		}
		pending := e.create(t, "vera", nil, "")
		if _, err := e.svc.VoidReferral(context.Background(), e.origin(), pending, "spam"); err != nil {
			t.Fatal(err)
		}
		e.project(t)
		e.checkCounts(t)
		var got countRow
		if err := e.read.Get(&got, e.read.Rebind(`SELECT referrer_id AS k, total, completed, pending, expired
			FROM rm_referrers WHERE appspace_id = ? AND referrer_id = ?`), e.appspace, "vera"); err != nil {
			t.Fatal(err)
		}
		if got.Total != 2 || got.Completed != 0 || got.Pending != 0 {
			t.Errorf("vera's counts %+v, want total 2, completed 0, pending 0", got)
		}
		page, err := e.rm.List(context.Background(), projections.ListFilter{AppspaceID: e.appspace, Status: string(domain.StatusVoided)})
		if err != nil {
			t.Fatal(err)
		}
		st, err := e.rm.Stats(context.Background(), projections.StatsQuery{AppspaceID: e.appspace})
		if err != nil {
			t.Fatal(err)
		}
		if st.Voided != 2 || st.Pending != 0 || st.Completed != 0 || st.Total != 2 {
			t.Errorf("stats %+v, want total 2, voided 2, pending and completed 0", st)
		}
		if len(page.Referrals) != 2 {
			t.Errorf("status=voided lists %d referrals, want 2", len(page.Referrals))
		}
	})
}
