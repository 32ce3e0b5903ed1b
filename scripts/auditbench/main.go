// Command auditbench measures the verifiable ledger, printing figures and
// ratios against baselines run in the same process (never timed asserts):
//
//	go run ./scripts/auditbench -n 1000000 -duration 5s
//
// For each store:
//
//  1. live: the create and milestone commands at the rate scripts/bench
//     reaches (the same concurrent callers), with the sealer and the
//     notary off and on, alternating (-rounds), then off once more; the
//     seal lag (a create's append returned -> the sealer's batch holding
//     it committed) and the mean commands/s on against the mean of the off
//     runs (targets: p99 < 1 s, drop ≤ 5%);
//  2. backlog: n events written straight into the log, then sealed, beside
//     the baseline of plain SHA-256 over the same leaf bytes plus tlog's
//     tree hashing in memory (target: sealing ≥ 50% of it); the start-up
//     whole-tree check of those n leaves;
//  3. audit verify of the n events, offline from an export and online over
//     HTTP, running the real binary (target: within 2× of the baseline);
//     with -old, another build of the binary too, alternately, -rounds
//     times, and the medians;
//  4. inclusion proofs at n leaves over HTTP on loopback, p50 and p99 of
//     three rounds (target: p99 < 5 ms), and the prover's alone;
//     -skip-verify runs it without part 3.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// store is a scratch store, and how the binary reaches it.
type store struct {
	name        string
	events      domain.EventStore
	write, read *sqlx.DB
	env         []string // LEDGER_DATA_DIR or LEDGER_DATABASE_URL, for the binary
	dataDir     string
	kit         benchkit.Store
}

func main() {
	n := flag.Int("n", 1_000_000, "events in the backlog")
	duration := flag.Duration("duration", 5*time.Second, "how long each live measurement runs")
	conc := flag.Int("concurrency", 16, "concurrent callers in the live part (scripts/bench's default)")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	only := flag.String("only", "", "run one store only: sqlite or postgres")
	rounds := flag.Int("rounds", 2, "live part: how many times to measure off then on (then off once more); audit verify: how many times to run each build")
	old := flag.String("old", "", "a referral-ledger binary built from another commit, whose audit verify to run alternately with this one's")
	skipLive := flag.Bool("skip-live", false, "skip the live part")
	skipBacklog := flag.Bool("skip-backlog", false, "skip the backlog, verify and proof parts")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	sealOnly := flag.Bool("seal-only", false, "backlog: stop after sealing it and the whole-tree check (no verify, no proofs)")
	skipVerify := flag.Bool("skip-verify", false, "backlog: skip audit verify (seal, check, then the proofs only)")
	keep := flag.String("keep", "", "keep the export, checkpoint and verifier key audit verify reads in this directory, one subdirectory a store (to run it again by hand)")
	sealProfile := flag.String("sealprofile", "", "write a CPU profile of sealing the backlog only to this file plus .<store>")
	flag.StringVar(&liveProfile, "liveprofile", "", "write a CPU profile of each live run's window alone to this file plus .<store>.<run> (cannot be combined with -cpuprofile)")
	flag.DurationVar(&sealerPace, "pace", 0, "live part: the sealer runner's Pace (0: audit.RunnerConfig's)")
	flag.IntVar(&sealerBatch, "seal-batch", 0, "live part: the sealer runner's BatchSize (0: audit.RunnerConfig's)")
	flag.Parse()
	defer benchkit.StartProfile(*cpuprofile)()
	ctx := context.Background()
	bin := buildBinary()
	defer os.RemoveAll(filepath.Dir(bin))
	bins := binaries{new: bin, old: *old, rounds: *rounds, keep: *keep}
	for _, name := range []string{"sqlite", "postgres"} {
		if *only != "" && *only != name {
			continue
		}
		if name == "postgres" && *pgURL == "" {
			log.Print("postgres: skipped (no -pg and no LEDGER_TEST_DATABASE_URL)")
			continue
		}
		if !*skipLive {
			withStore(ctx, name, *pgURL, func(st store) { live(ctx, st, *conc, *duration, max(1, *rounds)) })
		}
		if !*skipBacklog {
			opts := backlogOptions{n: *n, sealOnly: *sealOnly, skipVerify: *skipVerify, profile: *sealProfile}
			withStore(ctx, name, *pgURL, func(st store) { backlog(ctx, st, bins, opts) })
		}
	}
}

// binaries are the builds whose audit verify runs.
type binaries struct {
	new, old string
	rounds   int
	keep     string // where verify's inputs are kept (empty: removed)
}

// withStore runs f on a fresh store of kind name, and removes it after.
func withStore(ctx context.Context, name, pgURL string, f func(store)) {
	benchkit.ForEachStore(ctx, pgURL, name, func(s benchkit.Store) {
		env := "LEDGER_DATABASE_URL=" + s.URL
		if s.Dir != "" {
			env = "LEDGER_DATA_DIR=" + s.Dir
		}
		f(store{name: s.Name, events: s.Events, write: s.Write, read: s.Read, env: []string{env}, dataDir: s.Dir, kit: s})
	})
}

// buildBinary builds referral-ledger into a temporary directory.
func buildBinary() string {
	dir, err := os.MkdirTemp("", "auditbench-bin-")
	if err != nil {
		log.Fatal(err)
	}
	bin := filepath.Join(dir, "referral-ledger")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/referral-ledger")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("go build (run auditbench from the repository root): %v", err)
	}
	return bin
}

// percentile returns the p-th quantile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
