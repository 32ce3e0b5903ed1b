package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// bruteStats counts views as Stats is specified to.
func bruteStats(views []domain.ReferralView, q projections.StatsQuery) projections.Stats {
	var s projections.Stats
	atOrBefore := func(t *time.Time) bool { return t != nil && (q.AsOf == nil || !t.After(*q.AsOf)) }
	for _, v := range views {
		c := v.CreatedAt
		if (q.From != nil && c.Before(*q.From)) || (q.To != nil && !c.Before(*q.To)) || !atOrBefore(&c) {
			continue
		}
		s.Total++
		switch {
		case atOrBefore(v.CompletedAt):
			s.Completed++
		case atOrBefore(v.ExpiredAt):
			s.Expired++
		default:
			s.Pending++
		}
	}
	if s.Total > 0 {
		s.ConversionRate = float64(s.Completed) / float64(s.Total)
	}
	return s
}

func describe(q projections.StatsQuery) string {
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("from %s to %s as of %s", f(q.From), f(q.To), f(q.AsOf))
}

func TestReferralsStatsWindowsAndAsOf(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		stats := func(from, to, asOf *time.Time) projections.Stats {
			t.Helper()
			s, err := e.rm.Stats(ctx, projections.StatsQuery{AppspaceID: e.appspace, From: from, To: to, AsOf: asOf})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if got := stats(nil, nil, nil); got != (projections.Stats{}) {
			t.Errorf("empty appspace: %+v", got)
		}
		e.settings(t, func(s *domain.Settings) { s.ReferralExpirationDays = ptr(2) })
		t0 := e.clock.Now()
		r1 := e.create(t, "one", nil, "")
		e.clock.Advance(time.Hour)
		r2 := e.create(t, "two", nil, "")
		e.clock.Advance(time.Hour)
		e.create(t, "three", nil, "")
		e.clock.Advance(time.Hour)
		e.complete(t, r1, "referee-one")
		completedAt := e.clock.Now()
		e.clock.Advance(3 * 24 * time.Hour)
		e.get(t, r2) // records the expiry, dated at expires_at
		expiredAt := t0.Add(time.Hour + 2*24*time.Hour)
		e.project(t)

		ms := time.Millisecond
		for _, tc := range []struct {
			name           string
			from, to, asOf *time.Time
			want           projections.Stats
		}{
			{"now", nil, nil, nil, projections.Stats{Total: 3, Completed: 1, Expired: 1, Pending: 1, ConversionRate: 1.0 / 3}},
			{"from is inclusive", ptr(t0.Add(time.Hour)), nil, nil, projections.Stats{Total: 2, Expired: 1, Pending: 1}},
			{"to is exclusive", nil, ptr(t0.Add(time.Hour)), nil, projections.Stats{Total: 1, Completed: 1, ConversionRate: 1}},
			{"sub-millisecond from", ptr(t0.Add(time.Hour - time.Microsecond)), nil, nil, projections.Stats{Total: 2, Expired: 1, Pending: 1}},
			{"empty window", ptr(t0), ptr(t0), nil, projections.Stats{}},
			{"before any referral", nil, nil, ptr(t0.Add(-ms)), projections.Stats{}},
			{"as of the first create", nil, nil, ptr(t0), projections.Stats{Total: 1, Pending: 1}},
			{"just before the completion", nil, nil, ptr(completedAt.Add(-ms)), projections.Stats{Total: 3, Pending: 3}},
			{"at the completion", nil, nil, ptr(completedAt), projections.Stats{Total: 3, Completed: 1, Pending: 2, ConversionRate: 1.0 / 3}},
			{"just before the expiry", nil, nil, ptr(expiredAt.Add(-ms)), projections.Stats{Total: 3, Completed: 1, Pending: 2, ConversionRate: 1.0 / 3}},
			{"at the expiry", nil, nil, ptr(expiredAt), projections.Stats{Total: 3, Completed: 1, Expired: 1, Pending: 1, ConversionRate: 1.0 / 3}},
			{"window and as of", ptr(t0.Add(time.Hour)), ptr(t0.Add(90 * 24 * time.Hour)), ptr(expiredAt), projections.Stats{Total: 2, Expired: 1, Pending: 1}},
		} {
			if got := stats(tc.from, tc.to, tc.asOf); got != tc.want {
				t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
			}
		}
		_, err := e.rm.Stats(ctx, projections.StatsQuery{AppspaceID: e.appspace, From: ptr(t0), To: ptr(t0.Add(-ms))})
		wantInvalid(t, "to before from", err)
		_, err = e.rm.Stats(ctx, projections.StatsQuery{})
		wantInvalid(t, "no appspace", err)
	})
}

// Stats, which sums whole days from rm_referral_days and counts only the
// edges, agrees with a count over every referral for windows and as-of
// moments on and around day boundaries, creations and settlements.
func TestReferralsStatsAgreeWithACount(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	forEachReadStore(t, start, func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(7, 11))
		e.settings(t, func(s *domain.Settings) { s.ReferralExpirationDays = ptr(5) })
		day := 24 * time.Hour
		randTime := func(span time.Duration) time.Duration {
			switch rng.IntN(4) {
			case 0:
				return time.Duration(rng.Int64N(int64(span/day))) * day // a midnight
			case 1:
				return time.Duration(rng.Int64N(int64(span/time.Hour))) * time.Hour
			}
			return time.Duration(rng.Int64N(int64(span/time.Millisecond))) * time.Millisecond
		}
		type action struct {
			at time.Time
			do func()
		}
		var actions []action
		var codes []string
		for i := range 120 {
			created := start.Add(randTime(40 * day))
			who := fmt.Sprintf("r%03d", i)
			actions = append(actions, action{created, func() {
				code := e.create(t, who, nil, "")
				codes = append(codes, code)
				switch n := rng.IntN(10); {
				case n < 5: // completes within the expiry
					lag := randTime(4*day) + time.Millisecond
					actions = append(actions, action{created.Add(lag), func() { e.complete(t, code, "referee-"+code) }})
				case n < 8: // its expiry is recorded a while after it is due
					actions = append(actions, action{created.Add(5*day + randTime(2*day)), func() { e.get(t, code) }})
				}
			}})
		}
		for len(actions) > 0 {
			slices.SortStableFunc(actions, func(a, b action) int { return a.at.Compare(b.at) })
			a := actions[0]
			actions = actions[1:]
			e.clock.Set(a.at)
			a.do()
		}
		e.project(t)
		e.checkCounts(t)
		views := make([]domain.ReferralView, len(codes))
		var moments []time.Time
		for i, code := range codes {
			views[i] = e.load(t, code)
			moments = append(moments, views[i].CreatedAt)
			for _, at := range []*time.Time{views[i].CompletedAt, views[i].ExpiredAt} {
				if at != nil {
					moments = append(moments, *at)
				}
			}
		}
		pick := func() *time.Time {
			var at time.Time
			switch rng.IntN(6) {
			case 0:
				return nil
			case 1:
				at = start.Add(time.Duration(rng.IntN(50)-3) * day)
			case 2:
				at = start.Add(randTime(50 * day))
			default:
				at = moments[rng.IntN(len(moments))]
			}
			return ptr(at.Add(time.Duration(rng.IntN(3)-1) * time.Duration([]int64{1e6, 5e5}[rng.IntN(2)])))
		}
		for range 400 {
			q := projections.StatsQuery{AppspaceID: e.appspace, From: pick(), To: pick(), AsOf: pick()}
			if q.From != nil && q.To != nil && q.To.Before(*q.From) {
				q.From, q.To = q.To, q.From
			}
			got, err := e.rm.Stats(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if want := bruteStats(views, q); got != want {
				t.Errorf("%s: %+v, want %+v", describe(q), got, want)
			}
		}
	})
}
