package projections_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

const day = 24 * time.Hour

// windowCounts counts the read model's referrals by referrer over the
// n-day window as of the UTC day of asOf, by the definition: created on
// the days D-n .. D. A referrer's name is the one its last referral gave;
// its reward total sums the reward values of its completed referrals.
func (e *rmEnv) windowCounts(tb testing.TB, n int, asOf time.Time) []projections.LeaderboardEntry {
	tb.Helper()
	d := asOf.UTC().Truncate(day)
	lo, hi := d.Add(-time.Duration(n)*day), d.Add(day)
	counts := map[string]*projections.LeaderboardEntry{}
	values := map[string][]string{}
	for _, v := range e.rows(tb) {
		if v.CreatedAt.Before(lo) || !v.CreatedAt.Before(hi) {
			continue
		}
		c := counts[v.ReferrerID]
		if c == nil {
			c = &projections.LeaderboardEntry{ReferrerID: v.ReferrerID}
			counts[v.ReferrerID] = c
		}
		c.ReferrerName = v.ReferrerName // the same on all its referrals here
		c.Total++
		switch v.Status {
		case domain.StatusCompleted:
			c.Completed++
			if v.RewardValue != nil {
				values[v.ReferrerID] = append(values[v.ReferrerID], *v.RewardValue)
			}
		case domain.StatusExpired:
			c.Expired++
		case domain.StatusVoided: // in the total only
		default:
			c.Pending++
		}
	}
	var out []projections.LeaderboardEntry
	for _, c := range counts {
		c.TotalRewardValue = projections.RewardTotal(values[c.ReferrerID])
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b projections.LeaderboardEntry) int {
		return cmp.Or(cmp.Compare(b.Completed, a.Completed), cmp.Compare(b.Total, a.Total), cmp.Compare(a.ReferrerID, b.ReferrerID))
	})
	return out
}

// anchor is the UTC day the appspace's latest referral was created on.
func (e *rmEnv) anchor(tb testing.TB) time.Time {
	tb.Helper()
	var latest time.Time
	for _, v := range e.rows(tb) {
		if d := v.CreatedAt.UTC().Truncate(day); d.After(latest) {
			latest = d
		}
	}
	return latest
}

// checkWindows checks that rm_referrer_windows holds the windows as of the
// anchor, by the definition.
func (e *rmEnv) checkWindows(tb testing.TB) {
	tb.Helper()
	anchor := e.anchor(tb)
	for _, n := range []int{7, 30, 90} {
		var got []countRow
		if err := e.read.Select(&got, e.read.Rebind(`SELECT referrer_id AS k, total, completed, pending, expired
			FROM rm_referrer_windows WHERE appspace_id = ? AND days = ? ORDER BY referrer_id`), e.appspace, n); err != nil {
			tb.Fatal(err)
		}
		var want []countRow
		for _, c := range e.windowCounts(tb, n, anchor) {
			want = append(want, countRow{Key: c.ReferrerID, Total: int64(c.Total), Completed: int64(c.Completed), Pending: int64(c.Pending), Expired: int64(c.Expired)})
		}
		slices.SortFunc(want, func(a, b countRow) int { return cmp.Compare(a.Key, b.Key) })
		if diff := gocmp.Diff(got, want); diff != "" {
			tb.Errorf("rm_referrer_windows, %d days as of %s, differs from rm_referrals (-got +want):\n%s", n, anchor.Format(time.DateOnly), diff)
		}
	}
}

// The windows follow the days: referrals are created, completed and
// expired over four months, the projection catches up now and then (its
// batches move the anchor and roll days out of the windows), and the
// windowed leaderboards equal the definition as of the anchor day and as of
// days before and after it, where the query corrects the stored windows.
func TestLeaderboardWindowsFollowTheDays(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	forEachReadStore(t, start, func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		e.settings(t, func(s *domain.Settings) { s.ReferralExpirationDays = ptr(3) })
		var pending []string
		for d := range 120 {
			if d%9 == 5 {
				continue // days without referrals
			}
			e.clock.Set(start.Add(time.Duration(d)*day + time.Duration(d%24)*time.Hour))
			for _, code := range pending {
				e.get(t, code) // records the expiries that are due
			}
			for i := range 1 + d%4 {
				if i%2 == 0 {
					who := fmt.Sprintf("r%d", (d+3*i)%7)
					code := e.create(t, who, ptr("Name of "+who), "")
					e.complete(t, code, fmt.Sprintf("friend-%d-%d", d, i))
				} else {
					pending = append(pending, e.create(t, fmt.Sprintf("p%d-%d", d, i), nil, ""))
				}
			}
			if d%10 == 0 || d%10 == 3 {
				e.project(t)
				e.checkWindows(t)
			}
		}
		e.project(t)
		e.checkCounts(t)
		anchor := e.anchor(t)
		for _, offset := range []int{-200, -95, -40, -8, -1, 0, 1, 2, 8, 29, 31, 60, 89, 90, 91, 200} {
			asOf := anchor.Add(time.Duration(offset)*day + 13*time.Hour)
			for _, n := range []int{7, 30, 90} {
				for _, limit := range []int{3, 100} {
					want := e.windowCounts(t, n, asOf)
					want = want[:min(limit, len(want))]
					for i := range want {
						want[i].Rank = i + 1
					}
					got, err := e.rm.Leaderboard(ctx, projections.LeaderboardQuery{AppspaceID: e.appspace, Period: fmt.Sprintf("%dd", n), Limit: limit, Now: asOf})
					if err != nil {
						t.Fatal(err)
					}
					if diff := gocmp.Diff(got, want); diff != "" {
						t.Errorf("%dd as of anchor %+d days, limit %d (-got +want):\n%s", n, offset, limit, diff)
					}
				}
			}
		}
	})
}
