package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

var testStart = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

// The read model equals the command side's view of every referral, after a
// history of creates, milestones, completions, claims and expiries that
// the projection follows in small batches and in several runs.
func TestReferralsProjectionMatchesStreams(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		e.settings(t, func(s *domain.Settings) {
			s.RewardType, s.RewardValue = ptr("points"), ptr("500")
			s.RefereeRewardType, s.RefereeRewardValue = ptr("credit"), ptr("$5")
			s.ReferralURLTemplate = ptr("https://example.com/r/{code}")
		})
		var codes []string
		add := func(code string) string { codes = append(codes, code); return code }

		a1 := add(e.create(t, "alice", ptr("Alice"), `{"campaign": "spring", "n": [1, 2]}`))
		e.clock.Advance(time.Hour)
		e.milestone(t, a1, "signed_up", "bob")
		e.project(t) // a first run: later events update existing rows
		e.clock.Advance(1500 * time.Millisecond)
		e.milestone(t, a1, "purchased", "")
		e.clock.Advance(time.Minute)
		e.complete(t, a1, "")
		e.clock.Advance(time.Minute)
		if _, err := e.svc.ClaimReward(ctx, e.origin(), a1, domain.SideReferrer); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		if _, err := e.svc.ClaimReward(ctx, e.origin(), a1, domain.SideReferee); err != nil {
			t.Fatal(err)
		}
		a2 := add(e.create(t, "alice", nil, ""))
		c1 := add(e.create(t, "carol", nil, `{}`))
		e.milestone(t, c1, "signed_up", "dave")
		// Events of other streams (and of types the projection does not
		// know) are ignored.
		if _, err := e.store.Append(ctx, e.appspace+":tested:1", domain.NoStream(),
			domain.EventData{ID: domain.NewID(), Type: "Tested", Data: []byte(`{}`), Metadata: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			code := add(e.create(t, "bulk-"+string(rune('a'+i)), ptr("Bulk"), ""))
			if i%2 == 0 {
				e.clock.Advance(time.Second)
				e.complete(t, code, "bulk-referee-"+string(rune('a'+i)))
			}
		}
		e.project(t)
		e.checkRows(t, codes)

		e.clock.Advance(31 * 24 * time.Hour)
		if v := e.get(t, a2); v.Status != domain.StatusExpired {
			t.Fatalf("a2 is %s after its expiry", v.Status)
		}
		c2 := add(e.create(t, "carol", ptr("Carol"), "")) // records c1's expiry first
		e.clock.Advance(time.Hour)
		e.complete(t, c2, "erin")
		e.project(t)
		e.checkRows(t, codes)
		e.checkCounts(t)

		var alice, carol struct {
			Name                               *string `db:"referrer_name"`
			Total, Completed, Pending, Expired int
		}
		for _, x := range []struct {
			id  string
			dst any
		}{{"alice", &alice}, {"carol", &carol}} {
			if err := e.read.Get(x.dst, e.read.Rebind(`SELECT referrer_name, total, completed, pending, expired
				FROM rm_referrers WHERE appspace_id = ? AND referrer_id = ?`), e.appspace, x.id); err != nil {
				t.Fatal(err)
			}
		}
		if alice.Name == nil || *alice.Name != "Alice" || alice.Total != 2 || alice.Completed != 1 || alice.Expired != 1 {
			t.Errorf("alice: %+v (name %v), want Alice, 2 total, 1 completed, 1 expired", alice, alice.Name)
		}
		if carol.Name == nil || *carol.Name != "Carol" || carol.Total != 2 || carol.Completed != 1 || carol.Expired != 1 {
			t.Errorf("carol: %+v (name %v), want Carol, 2 total, 1 completed, 1 expired", carol, carol.Name)
		}
	})
}
