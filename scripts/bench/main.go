// Command bench measures the command path against each store's raw write
// rate in the same run, and prints every figure beside its baseline and
// target.
//
//	go run ./scripts/bench -duration 5s -runs 3
//	go run ./scripts/bench -growth -growth-max 100000   # the growth mode, quick
//
// Each run measures, per store and with the same number of concurrent
// callers: single-row insert transactions (the store's raw rate), the
// create and milestone commands through the domain service, the same
// commands end to end over HTTP on loopback, an HTTP call that reaches no
// store (a refused milestone: what HTTP alone costs, printed only), the
// commands again and the raw rate again. Baselines are the means of the
// two runs around them, to cancel drift on a shared machine:
//
//   - commands vs raw: commands/s over raw tx/s (targets: PostgreSQL 60%,
//     SQLite 80%);
//   - HTTP vs direct: HTTP commands/s over direct commands/s (target 85%).
//
// The growth mode (-growth) prints commands/s with 1k, 100k and 1M events
// in the log, each beside the 1k figure, and the sequential commands/s of a
// referrer with 10k referrals beside a new referrer's, measured side by
// side in several rounds and printed as the median round (targets: within
// 10%, so 90% or more).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"time"

	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

type options struct {
	duration  time.Duration
	conc      int
	runs      int
	growthMax int
	referrals int
	// phaseProfiles, if set, is a directory that receives a CPU profile
	// of each throughput measurement alone (<store>-<phase>-r<run>.pprof).
	phaseProfiles string
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "how long each measurement runs")
	flag.IntVar(&o.conc, "concurrency", 16, "concurrent callers")
	flag.IntVar(&o.runs, "runs", 1, "consecutive runs of the throughput figures (each target is checked in each)")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	only := flag.String("only", "", "run one store only: sqlite or postgres")
	growth := flag.Bool("growth", false, "measure commands/s as the log grows instead of the throughput ratios")
	flag.IntVar(&o.growthMax, "growth-max", 1_000_000, "growth mode: the largest log measured (100000 for a quick run)")
	flag.IntVar(&o.referrals, "referrals", 10_000, "growth mode: referrals of the big referrer")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.StringVar(&o.phaseProfiles, "phaseprofiles", "", "write a CPU profile and allocation profiles of each throughput measurement into this directory (not with -cpuprofile)")
	flag.Parse()
	if *cpuprofile != "" && o.phaseProfiles != "" {
		log.Fatal("-cpuprofile and -phaseprofiles cannot be used together: one CPU profile runs at a time")
	}
	if o.phaseProfiles != "" {
		runtime.MemProfileRate = 64 << 10 // enough samples of a few seconds' allocations (it costs CPU: the CPU per call printed is a few us higher)
	}
	defer benchkit.StartProfile(*cpuprofile)()
	ctx := context.Background()

	if *growth {
		fmt.Printf("growth: %d concurrent callers, %s per measurement\n\n", o.conc, o.duration)
		benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) { runGrowth(ctx, st, o) })
		return
	}
	fmt.Printf("%d concurrent callers, %s per measurement, %d run(s)\n\n", o.conc, o.duration, o.runs)
	var rows []result
	benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) {
		rows = append(rows, runThroughput(ctx, st, o)...)
	})
	printSummary(rows)
}

// result is one run's figures for one store.
type result struct {
	store                          string
	run                            int
	raw1, cmds1, http, cmds2, raw2 float64
}

// cmdTarget is the commands-vs-raw target per store; httpTarget is HTTP vs
// direct on both.
var cmdTarget = map[string]float64{"postgres": 60, "sqlite": 80}

const httpTarget = 85.0

func printSummary(rows []result) {
	fmt.Printf("\n%-9s %3s %9s %9s %14s %9s %14s\n", "store", "run", "raw tx/s", "cmds/s", "cmds/raw", "http/s", "http/direct")
	pass := map[string]bool{}
	for _, r := range rows {
		raw, cmds := (r.raw1+r.raw2)/2, (r.cmds1+r.cmds2)/2
		cr, hr := 100*cmds/raw, 100*r.http/cmds
		okC, okH := cr >= cmdTarget[r.store], hr >= httpTarget
		if _, seen := pass[r.store+"c"]; !seen {
			pass[r.store+"c"], pass[r.store+"h"] = true, true
		}
		pass[r.store+"c"] = pass[r.store+"c"] && okC
		pass[r.store+"h"] = pass[r.store+"h"] && okH
		fmt.Printf("%-9s %3d %9.0f %9.0f %5.0f%% (≥%2.0f%%) %-4s %6.0f %5.0f%% (≥%2.0f%%) %s\n", r.store, r.run,
			raw, cmds, cr, cmdTarget[r.store], verdict(okC), r.http, hr, httpTarget, verdict(okH))
	}
	fmt.Println("\ncmds/raw = commands/s (mean of both command runs) over raw tx/s (mean of both raw runs);")
	fmt.Println("http/direct = HTTP commands/s over direct commands/s, from the same run.")
	for _, s := range []string{"sqlite", "postgres"} {
		if c, ok := pass[s+"c"]; ok {
			fmt.Printf("%-9s every run: cmds/raw %s, http/direct %s\n", s, verdict(c), verdict(pass[s+"h"]))
		}
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
