// Command lagbench measures the read models' live lag: with commands
// streaming in at a steady rate, the delay from a command's append to its
// referral being visible in the referrals read model (the commit of the
// projection batch that applied it), with the projection run as serve runs
// it (Runner.Run). It prints percentiles per store beside the target.
//
//	go run ./scripts/lagbench -duration 10s -runs 3
//
// The rate is 1000 creates/s or half the rate the store reaches on bench's
// command load (16 callers, measured first in the same run), whichever is
// lower; -rate sets it instead.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// lagTarget is the target for p50 and p99.
const lagTarget = 250 * time.Millisecond

func main() {
	rate := flag.Int("rate", 0, "create commands per second (0: min(1000, half of the measured command rate))")
	duration := flag.Duration("duration", 10*time.Second, "how long commands stream in")
	runs := flag.Int("runs", 1, "consecutive runs per store")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	only := flag.String("only", "", "run one store only: sqlite or postgres")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	defer benchkit.StartProfile(*cpuprofile)()
	ctx := context.Background()
	fmt.Printf("lag = append returned -> projection batch committed; %s of commands per run; target p50 and p99 < %s\n\n", *duration, lagTarget)
	fmt.Printf("%-9s %3s %10s %7s %8s %8s %8s %8s %8s %10s  %s\n", "store", "run", "cmds/s", "rate", "sent", "p50", "p90", "p99", "max", "achieved/s", "verdict")
	benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) {
		r := *rate
		var cmdRate float64
		if r == 0 {
			cmdRate = commandRate(ctx, st.Events, 3*time.Second)
			r = min(1000, int(cmdRate/2))
		}
		for run := 1; run <= *runs; run++ {
			measure(ctx, st, run, cmdRate, r, *duration)
		}
	})
}

// commandRate is bench's direct command load on store for d: 16 callers,
// each creating a referral for a new referrer and then reporting its
// referred user's milestone; it returns commands per second.
func commandRate(ctx context.Context, store domain.EventStore, d time.Duration) float64 {
	svc := domain.NewService(store, domain.ServiceConfig{})
	as := domain.NewPrefixedID("as")
	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Since(start) < d; i++ {
				o := domain.Origin{AppspaceID: as, RequestID: domain.NewID()}
				res, err := svc.CreateReferral(ctx, o, domain.CreateInput{ReferrerID: fmt.Sprintf("rate-%d-%d", w, i)})
				if err == nil {
					_, err = svc.ReachMilestone(ctx, o, res.Referral.ReferralCode, domain.MilestoneInput{Milestone: "signed_up", ReferredUserID: fmt.Sprintf("rate-friend-%d-%d", w, i)})
				}
				if err != nil {
					log.Fatal(err)
				}
				done.Add(2)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}
