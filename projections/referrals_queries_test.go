package projections_test

import (
	"cmp"
	"context"
	"encoding/base64"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

func wantInvalid(tb testing.TB, what string, err error) {
	tb.Helper()
	if got := domain.ErrorCode(err); got != domain.EInvalid {
		tb.Errorf("%s: error %v (code %s), want %s", what, err, got, domain.EInvalid)
	}
}

// newestFirst orders views as List does.
func newestFirst(a, b domain.ReferralView) int {
	return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ReferralCode, a.ReferralCode))
}

func TestReferralsList(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		var all []domain.ReferralView
		// Every referrer has at most one pending referral: so "P" comes last.
		for i, r := range []struct{ who, fate string }{
			{"ann", "C"}, {"bo", "C"}, {"cy", "P"}, {"ann", "C"}, {"bo", "P"}, {"dee", "C"},
			{"eve", "P"}, {"ann", "P"}, {"fay", "C"}, {"gus", "P"}, {"hal", "C"},
		} {
			if i%3 != 0 {
				e.clock.Advance(time.Minute) // the others share a created_at: the code breaks the tie
			}
			code := e.create(t, r.who, nil, "")
			if r.fate == "C" {
				e.complete(t, code, "referee-"+code)
			}
			all = append(all, domain.ReferralView{ReferralCode: code})
		}
		e.clock.Advance(31 * 24 * time.Hour)
		e.get(t, all[2].ReferralCode) // cy's expires
		e.project(t)
		for i := range all {
			all[i] = e.load(t, all[i].ReferralCode)
		}
		slices.SortFunc(all, newestFirst)

		for _, tc := range []struct {
			name     string
			status   string
			referrer string
		}{
			{name: "all"},
			{name: "completed", status: "completed"},
			{name: "pending", status: "pending"},
			{name: "expired", status: "expired"},
			{name: "referrer", referrer: "ann"},
			{name: "referrer and status", referrer: "ann", status: "completed"},
			{name: "unknown referrer", referrer: "nobody"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var want []domain.ReferralView
				for _, v := range all {
					if (tc.status == "" || string(v.Status) == tc.status) && (tc.referrer == "" || v.ReferrerID == tc.referrer) {
						want = append(want, v)
					}
				}
				f := projections.ListFilter{AppspaceID: e.appspace, Status: tc.status, ReferrerID: tc.referrer, Limit: 3}
				var got []domain.ReferralView
				for pages := 0; ; pages++ {
					page, err := e.rm.List(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					if pages > len(all) || len(page.Referrals) > 3 {
						t.Fatalf("page %d has %d referrals", pages, len(page.Referrals))
					}
					got = append(got, page.Referrals...)
					if page.NextCursor == "" {
						break
					}
					f.Cursor = page.NextCursor
				}
				if diff := gocmp.Diff(got, want); diff != "" {
					t.Errorf("pages (-got +want):\n%s", diff)
				}
			})
		}

		page, err := e.rm.List(ctx, projections.ListFilter{AppspaceID: e.appspace})
		if err != nil || len(page.Referrals) != len(all) || page.NextCursor != "" {
			t.Errorf("default limit: %d referrals, cursor %q, %v; want %d, no cursor", len(page.Referrals), page.NextCursor, err, len(all))
		}
		page, err = e.rm.List(ctx, projections.ListFilter{AppspaceID: e.appspace, Limit: len(all)})
		if err != nil || len(page.Referrals) != len(all) || page.NextCursor != "" {
			t.Errorf("limit = count: %d referrals, cursor %q, %v; want %d, no cursor", len(page.Referrals), page.NextCursor, err, len(all))
		}

		for _, tc := range []struct {
			name string
			f    projections.ListFilter
		}{
			{"bad status", projections.ListFilter{Status: "done"}},
			{"limit over 1000", projections.ListFilter{Limit: 1001}},
			{"negative limit", projections.ListFilter{Limit: -1}},
			{"cursor not base64", projections.ListFilter{Cursor: "!!!"}},
			{"cursor without code", projections.ListFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("123."))}},
			{"cursor without time", projections.ListFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("x.ABC"))}},
			{"no appspace", projections.ListFilter{}},
		} {
			if tc.name != "no appspace" {
				tc.f.AppspaceID = e.appspace
			}
			_, err := e.rm.List(ctx, tc.f)
			wantInvalid(t, tc.name, err)
		}
	})
}

func TestReferralsLeaderboard(t *testing.T) {
	t.Parallel()
	now := testStart.Add(100 * 24 * time.Hour)
	forEachReadStore(t, now.Add(-40*24*time.Hour), func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		e.settings(t, func(s *domain.Settings) { s.ReferralExpirationDays = ptr(5) })
		at := func(ago time.Duration) { e.clock.Set(now.Add(-ago)) }
		// completed creates a referral at the clock and completes it a
		// second later.
		completed := func(who string, name *string) {
			code := e.create(t, who, name, "")
			e.clock.Advance(time.Second)
			e.complete(t, code, "referee-"+code)
		}
		day := 24 * time.Hour
		// A period of n days holds the n UTC days before now's day, and
		// now's day.
		today := now.Truncate(day)
		e.clock.Set(today.Add(-90*day - time.Millisecond)) // the last moment outside every period but all
		completed("zed", nil)
		at(40 * day)
		completed("old", ptr("Old"))
		e.clock.Set(today.Add(-30*day - time.Millisecond)) // the last moment outside 30d
		completed("early", nil)
		e.clock.Set(today.Add(-30 * day)) // the first inside 30d
		completed("edge", nil)
		at(10 * day)
		completed("mid", nil)
		at(6 * day)
		completed("ben", ptr("Ben"))
		completed("ben", nil)
		late := e.create(t, "ben", ptr("Benjamin"), "")
		at(5 * day)
		completed("amy", ptr("Amy"))
		completed("amy", nil)
		at(3 * day)
		completed("cat", nil)
		completed("cat", nil)
		at(2 * day)
		e.create(t, "dan", nil, "")
		at(day)
		e.create(t, "amy", nil, "")
		at(0)
		if v := e.get(t, late); v.Status != domain.StatusExpired {
			t.Fatalf("ben's last referral is %s, want expired", v.Status)
		}
		e.project(t)
		e.checkCounts(t)

		entry := func(id string, name *string, total, completed, pending, expired int) projections.LeaderboardEntry {
			return projections.LeaderboardEntry{ReferrerID: id, ReferrerName: name, Total: total, Completed: completed, Pending: pending, Expired: expired}
		}
		amy := entry("amy", ptr("Amy"), 3, 2, 1, 0)
		ben := entry("ben", ptr("Benjamin"), 3, 2, 0, 1)
		cat := entry("cat", nil, 2, 2, 0, 0)
		dan := entry("dan", nil, 1, 0, 1, 0)
		one := func(id string, name *string) projections.LeaderboardEntry { return entry(id, name, 1, 1, 0, 0) }
		ranked := func(es ...projections.LeaderboardEntry) []projections.LeaderboardEntry {
			for i := range es {
				es[i].Rank = i + 1
			}
			return es
		}
		for _, tc := range []struct {
			period string
			limit  int
			want   []projections.LeaderboardEntry
		}{
			{"all", 0, ranked(amy, ben, cat, one("early", nil), one("edge", nil), one("mid", nil), one("old", ptr("Old")), one("zed", nil), dan)},
			{"", 0, ranked(amy, ben, cat, one("early", nil), one("edge", nil), one("mid", nil), one("old", ptr("Old")), one("zed", nil), dan)},
			{"all", 2, ranked(amy, ben)},
			{"7d", 0, ranked(amy, ben, cat, dan)},
			{"30d", 0, ranked(amy, ben, cat, one("edge", nil), one("mid", nil), dan)},
			{"90d", 0, ranked(amy, ben, cat, one("early", nil), one("edge", nil), one("mid", nil), one("old", ptr("Old")), dan)},
			{"90d", 5, ranked(amy, ben, cat, one("early", nil), one("edge", nil))},
		} {
			got, err := e.rm.Leaderboard(ctx, projections.LeaderboardQuery{AppspaceID: e.appspace, Period: tc.period, Limit: tc.limit, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(got, tc.want); diff != "" {
				t.Errorf("period %q limit %d (-got +want):\n%s", tc.period, tc.limit, diff)
			}
		}

		for _, tc := range []struct {
			name string
			q    projections.LeaderboardQuery
		}{
			{"bad period", projections.LeaderboardQuery{Period: "1y"}},
			{"limit over 100", projections.LeaderboardQuery{Limit: 101}},
			{"negative limit", projections.LeaderboardQuery{Limit: -1}},
		} {
			tc.q.AppspaceID, tc.q.Now = e.appspace, now
			_, err := e.rm.Leaderboard(ctx, tc.q)
			wantInvalid(t, tc.name, err)
		}
	})
}
