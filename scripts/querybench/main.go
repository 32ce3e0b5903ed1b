// Command querybench measures the read-model queries (stats, leaderboards,
// list) over a large synthetic appspace, warm, on SQLite and PostgreSQL.
//
//	go run ./scripts/querybench -referrals 1000000 -referrers 50000
//
// It writes the referral streams straight into a scratch store's events
// table, builds the read models with `projections rebuild`, runs each
// query once to warm the caches, then times it -runs times and prints the
// median, 90th percentile and worst, in milliseconds.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

func main() {
	referrals := flag.Int("referrals", 1_000_000, "referrals in the appspace")
	referrers := flag.Int("referrers", 50_000, "referrers among them")
	days := flag.Int("days", 365, "the referrals are created over this many days, up to now")
	runs := flag.Int("runs", 50, "timed runs of each query")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	only := flag.String("only", "", "sqlite or postgres")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("%d referrals, %d referrers, over %d days; %d runs a query, warm\n", *referrals, *referrers, *days, *runs)
	benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) {
		now := time.Now()
		as := fill(ctx, st, now, *referrals, *referrers, *days)
		start := time.Now()
		cp, err := projections.RebuildReferrals(ctx, st.Events, st.Write, projections.NewReferrals(st.Read), nil)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("\n%s: read models built from %d events in %.1f s\n", st.Name, cp.Applied, time.Since(start).Seconds())
		fmt.Printf("%-26s %9s %9s %9s\n", "query", "p50 ms", "p90 ms", "max ms")
		measure(ctx, projections.NewReferrals(st.Read), as, now, *runs)
	})
}

// measure times each query.
func measure(ctx context.Context, rm *projections.Referrals, as string, now time.Time, runs int) {
	monthAgo := now.AddDate(0, -1, 0)
	lb := func(period string, at time.Time) func() error {
		return func() error {
			_, err := rm.Leaderboard(ctx, projections.LeaderboardQuery{AppspaceID: as, Period: period, Now: at})
			return err
		}
	}
	for _, q := range []struct {
		name string
		run  func() error
	}{
		{"stats", func() error { _, err := rm.Stats(ctx, projections.StatsQuery{AppspaceID: as}); return err }},
		{"stats last 30 days", func() error {
			_, err := rm.Stats(ctx, projections.StatsQuery{AppspaceID: as, From: &monthAgo})
			return err
		}},
		{"leaderboard all", lb("all", now)},
		{"leaderboard 7d", lb("7d", now)},
		{"leaderboard 30d", lb("30d", now)},
		{"leaderboard 90d", lb("90d", now)},
		{"leaderboard 30d tomorrow", lb("30d", now.Add(24*time.Hour))}, // the stored windows, corrected by a day
		{"list", func() error { _, err := rm.List(ctx, projections.ListFilter{AppspaceID: as}); return err }},
		{"list completed", func() error {
			_, err := rm.List(ctx, projections.ListFilter{AppspaceID: as, Status: "completed"})
			return err
		}},
		{"list one referrer", func() error {
			_, err := rm.List(ctx, projections.ListFilter{AppspaceID: as, ReferrerID: "user-7"})
			return err
		}},
	} {
		if err := q.run(); err != nil { // warm
			log.Fatalf("%s: %v", q.name, err)
		}
		times := make([]time.Duration, runs)
		for i := range times {
			start := time.Now()
			if err := q.run(); err != nil {
				log.Fatalf("%s: %v", q.name, err)
			}
			times[i] = time.Since(start)
		}
		slices.Sort(times)
		ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		fmt.Printf("%-26s %9.2f %9.2f %9.2f\n", q.name, ms(times[len(times)/2]), ms(times[len(times)*9/10]), ms(times[len(times)-1]))
	}
}

// fill writes the streams of n referrals of k referrers, created evenly
// over the days before now: half of the referrers are as busy as each
// other, the rest of the referrals go to a few busy referrers (Zipf). Half
// the referrals complete, a fifth expire once 30 days old, the rest are
// pending. It returns the appspace.
func fill(ctx context.Context, st benchkit.Store, now time.Time, n, k, days int) string {
	as := domain.NewPrefixedID("as")
	w := benchkit.NewEventWriter(ctx, st.Write)
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.2, 1, uint64(k-1))
	span := time.Duration(days) * 24 * time.Hour
	for i := range n {
		code := fmt.Sprintf("Q%09d", i)
		stream := domain.ReferralStream(as, code)
		at := now.Add(-span + time.Duration(i)*(span/time.Duration(n))).UTC()
		exp := at.AddDate(0, 0, 30)
		referrer := i % k
		if i%2 == 1 {
			referrer = int(zipf.Uint64())
		}
		w.Add(stream, 1, &domain.ReferralCreated{ReferralID: domain.NewID(), ReferralCode: code,
			ReferrerID: fmt.Sprintf("user-%d", referrer), CreatedAt: at, ExpiresAt: &exp})
		switch fate := i % 10; {
		case fate < 5:
			w.Add(stream, 2, &domain.ReferralCompleted{Milestone: "completed", CompletedAt: at.Add(time.Hour)})
		case fate < 7 && exp.Before(now):
			w.Add(stream, 2, &domain.ReferralExpired{ExpiredAt: exp})
		}
	}
	w.Flush()
	return as
}
