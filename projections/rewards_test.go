package projections_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// allTime is a window that holds every referral of these tests.
const allTime = 10000

// leaderboards returns the leaderboards of every period as of asOf.
func (e *rmEnv) leaderboards(tb testing.TB, asOf time.Time) map[string][]projections.LeaderboardEntry {
	tb.Helper()
	out := map[string][]projections.LeaderboardEntry{}
	for _, period := range []string{"all", "7d", "30d", "90d"} {
		got, err := e.rm.Leaderboard(context.Background(), projections.LeaderboardQuery{AppspaceID: e.appspace, Period: period, Limit: 100, Now: asOf})
		if err != nil {
			tb.Fatal(err)
		}
		out[period] = got
	}
	return out
}

// checkLeaderboards compares every period's leaderboard as of asOf with
// the definition, reward totals included.
func (e *rmEnv) checkLeaderboards(tb testing.TB, asOf time.Time, what string) {
	tb.Helper()
	got := e.leaderboards(tb, asOf)
	for period, n := range map[string]int{"all": allTime, "7d": 7, "30d": 30, "90d": 90} {
		at := asOf
		if period == "all" {
			at = asOf.Add(allTime / 2 * day) // all time: every referral, whenever
		}
		want := e.windowCounts(tb, n, at)
		for i := range want {
			want[i].Rank = i + 1
		}
		if diff := gocmp.Diff(got[period], want); diff != "" {
			tb.Errorf("%s: %s leaderboard as of %s (-got +want):\n%s", what, period, asOf.Format(time.DateOnly), diff)
		}
	}
}

// Leaderboard rows carry total_reward_value in every period: referrers
// complete referrals over three months while the reward value changes
// ("$5", "$10.50", "5 EUR", "10% off", "Free month", none), the
// projection catches up now and then (rolling the windows), and every
// period's totals equal the definition as of the anchor day and other
// days; a rebuild then gives the same leaderboards (invariant 7).
func TestLeaderboardRewardTotals(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	forEachReadStore(t, start, func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		reward := func(v *string) {
			e.settings(t, func(s *domain.Settings) {
				s.RewardType, s.RewardValue = ptr("credit"), v
				if v == nil {
					s.RewardType = nil
				}
			})
		}
		plans := map[string][]*string{ // what each referrer's completions earn, in turn
			"dollars": {ptr("$5"), ptr("$10.50"), ptr("$0.25")},
			"points":  {ptr("500")},
			"mixed":   {ptr("$5"), ptr("5 EUR")},
			"percent": {ptr("10% off")},
			"nothing": {nil},
			"late":    {ptr("$5")}, // and "Free month" first, which leaves the short windows
		}
		referrers := []string{"dollars", "points", "mixed", "percent", "nothing", "late"}
		for d := 0; d < 100; d += 4 {
			e.clock.Set(start.Add(time.Duration(d) * day))
			for _, who := range referrers {
				if who == "late" && d < 60 {
					continue
				}
				plan := plans[who]
				if value := plan[(d/4)%len(plan)]; who == "late" && d == 60 {
					reward(ptr("Free month"))
				} else {
					reward(value)
				}
				e.complete(t, e.create(t, who, nil, ""), fmt.Sprintf("friend-%s-%d", who, d))
			}
			e.create(t, fmt.Sprintf("pending-%d", d), nil, "")
			if d%12 == 0 {
				e.project(t)
				e.checkLeaderboards(t, e.clock.Now(), fmt.Sprintf("live, day %d", d))
			}
		}
		e.project(t)
		anchor := e.anchor(t)
		offsets := []int{-60, -20, -5, 0, 3, 10, 40, 95}
		live := map[int]map[string][]projections.LeaderboardEntry{}
		for _, off := range offsets {
			asOf := anchor.Add(time.Duration(off)*day + 5*time.Hour)
			e.checkLeaderboards(t, asOf, fmt.Sprintf("live, anchor %+d days", off))
			live[off] = e.leaderboards(t, asOf)
		}
		got := e.leaderboards(t, anchor)
		// 25 completions each, days 0, 4, .. 96; late's from day 60.
		if v := got["all"]; total(v, "points") != "12500" || total(v, "mixed") != "null" || total(v, "percent") != "null" ||
			total(v, "nothing") != "null" || total(v, "dollars") != "$131.00" || total(v, "pending-0") != "null" {
			t.Errorf("all-time totals: %+v", v)
		}
		if got, want := []string{total(got["7d"], "late"), total(got["30d"], "late"), total(got["90d"], "late")},
			[]string{"$10", "$40", "null"}; !slices.Equal(got, want) {
			t.Errorf("late's totals over 7, 30, 90 days: %q, want %q", got, want)
		}

		if _, err := projections.RebuildReferrals(ctx, e.store, e.write, e.rm, nil); err != nil {
			t.Fatal(err)
		}
		for _, off := range offsets {
			asOf := anchor.Add(time.Duration(off)*day + 5*time.Hour)
			if diff := gocmp.Diff(e.leaderboards(t, asOf), live[off]); diff != "" {
				t.Errorf("anchor %+d days: leaderboards after a rebuild differ from the live ones (-rebuilt +live):\n%s", off, diff)
			}
		}
	})
}

// total is a referrer's total_reward_value in rows, "null" for nil and
// "absent" when the referrer has no row.
func total(rows []projections.LeaderboardEntry, referrer string) string {
	for _, r := range rows {
		if r.ReferrerID == referrer {
			if r.TotalRewardValue == nil {
				return "null"
			}
			return *r.TotalRewardValue
		}
	}
	return "absent"
}
