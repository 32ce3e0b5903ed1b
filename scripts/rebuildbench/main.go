// Command rebuildbench measures how fast the referrals read model is
// rebuilt from the log, beside a plain server-side batched insert of the
// same rows in the same run, and the peak RSS of the rebuild.
//
//	go run ./scripts/rebuildbench -events 1000000 -runs 3
//
// Targets: rebuild events/s at least 30% (SQLite) or 20% (PostgreSQL) of
// the plain insert's rows/s measured just before it; peak RSS (VmHWM,
// reset before each rebuild) under 256 MB.
//
// It fills a scratch store with synthetic referral streams (created; half
// of them also reach a milestone and complete), written straight into the
// events table in large batches, then times `projections rebuild`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

func main() {
	events := flag.Int("events", 1_000_000, "events in the log")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	only := flag.String("only", "", "sqlite or postgres")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of each rebuild (not the fill or the plain insert) to this file with .<store>.<run> appended")
	runs := flag.Int("runs", 1, "rebuilds per store, each beside its own plain insert")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("%d events; targets: rebuild/plain ≥ 30%% SQLite, ≥ 20%% PostgreSQL; peak RSS < %d MB\n\n", *events, rssTarget)
	fmt.Printf("%-9s %3s %8s %13s %13s %16s %16s\n", "store", "run", "fill s", "plain rows/s", "rebuild ev/s", "rebuild/plain", "peak RSS")
	benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) {
		start := time.Now()
		benchkit.FillReferrals(ctx, st.Write, domain.NewPrefixedID("as"), *events)
		fillTime := time.Since(start)
		fmt.Printf("%-9s     %s\n", st.Name, settle(ctx, st))
		for i := 1; i <= *runs; i++ {
			run(ctx, st, i, fillTime, *events, *cpuprofile)
		}
	})
}

const rssTarget = 256

var ratioTarget = map[string]float64{"sqlite": 30, "postgres": 20}

func run(ctx context.Context, s benchkit.Store, i int, fillTime time.Duration, n int, profile string) {
	name, st, write, read := s.Name, s.Events, s.Write, s.Read
	// The ceiling: the same rows copied by one server-side batched insert.
	write.MustExecContext(ctx, `DROP TABLE IF EXISTS bench_copy`)
	write.MustExecContext(ctx, `CREATE TABLE bench_copy AS SELECT * FROM events WHERE 1 = 0`)
	start := time.Now()
	write.MustExecContext(ctx, `INSERT INTO bench_copy SELECT * FROM events`)
	plain := float64(n) / time.Since(start).Seconds()
	write.MustExecContext(ctx, `DROP TABLE bench_copy`)

	runtime.GC()
	if !resetPeakRSS() {
		log.Print("cannot reset the peak RSS: the figure covers the whole process")
	}
	if profile != "" {
		profile = fmt.Sprintf("%s.%s.%d", profile, name, i)
	}
	stopProfile := benchkit.StartProfile(profile)
	start = time.Now()
	pg0, self0 := benchkit.Postgres(), benchkit.Self()
	defer func() {
		fmt.Printf("  %s rebuild CPU: postgres %.1f s, this process %.1f s\n", name, (benchkit.Postgres() - pg0).Seconds(), (benchkit.Self() - self0).Seconds())
	}()
	cp, err := projections.RebuildReferrals(ctx, st, write, projections.NewReferrals(read), nil)
	if err != nil {
		log.Fatal(err)
	}
	rate := float64(cp.Applied) / time.Since(start).Seconds()
	stopProfile()
	ratio, rss := 100*rate/plain, peakRSS()
	fmt.Printf("%-9s %3d %8.1f %13.0f %13.0f %5.0f%% (≥%2.0f%%) %-6s %5.0f MB %s\n", name, i, fillTime.Seconds(), plain, rate,
		ratio, ratioTarget[name], verdict(ratio >= ratioTarget[name]), rss, verdict(rss < rssTarget))
}

// settle brings a freshly filled log to the state a log written over
// months is in before anything is timed. On PostgreSQL, VACUUM sets the
// rows' hint bits and the visibility map (otherwise the first full read,
// the first run's plain insert, sets them, writes every page again, and
// runs beside insert-triggered autovacuum: 360k rows/s against 850k for
// the same copy in the third run), then benchkit.Settle checkpoints.
func settle(ctx context.Context, st benchkit.Store) string {
	if st.Name == "postgres" {
		if _, err := st.Write.ExecContext(ctx, `VACUUM (ANALYZE) events`); err != nil {
			return "VACUUM after the fill failed: " + err.Error()
		}
		return "VACUUM (ANALYZE) and " + benchkit.Settle(ctx, st)
	}
	return benchkit.Settle(ctx, st)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
