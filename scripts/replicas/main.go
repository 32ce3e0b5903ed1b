// Command replicas runs two `serve` replicas on one PostgreSQL database
// under bench's HTTP command load, split across both, with probes of the
// invariants that replicas could break, and checks afterwards:
//
//   - every command answered 2xx (conflicts are retried inside a replica;
//     any other answer is printed as an error);
//
//   - one code per referrer: concurrent creates for one referrer on both
//     replicas all return the same code, and the referrer's stream holds
//     one issued code;
//
//   - one claim per side: concurrent claims of one reward on both replicas
//     append one RewardClaimed per side;
//
//   - every event is delivered once to a webhook receiver on loopback (no
//     event missing, none delivered twice).
//
//     go run ./scripts/replicas -duration 20s
//
// It builds ./cmd/referral-ledger (or takes -bin), makes a scratch schema,
// and removes both afterwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/domain"
)

func main() {
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL")
	duration := flag.Duration("duration", 20*time.Second, "how long the load runs")
	conc := flag.Int("concurrency", 16, "concurrent callers of bench's command load, split across both replicas")
	bin := flag.String("bin", "", "referral-ledger binary (empty: go build ./cmd/referral-ledger)")
	drain := flag.Duration("drain", 3*time.Minute, "how long to wait for webhooks after the load")
	flag.Parse()
	if *pgURL == "" {
		log.Fatal("replicas needs PostgreSQL: -pg or LEDGER_TEST_DATABASE_URL")
	}
	ctx := context.Background()
	u, drop, err := pgtest.Scratch(*pgURL, "replicas_")
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := drop(); err != nil {
			log.Print(err)
		}
	}()
	if *bin == "" {
		b, cleanup := build()
		defer cleanup()
		*bin = b
	}
	store, err := postgres.Open(ctx, postgres.Config{URL: u, MaxConns: 4})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	access := sqlstore.NewAccess(store.DB(), store.DB())
	as, err := access.CreateAppspace(ctx, "replicas")
	if err != nil {
		log.Fatal(err)
	}
	_, key, err := access.CreateKey(ctx, as.ID, domain.RoleServer, "replicas")
	if err != nil {
		log.Fatal(err)
	}
	recv := startReceiver()
	a, b := startServe(*bin, u, "A"), startServe(*bin, u, "B")
	defer a.stop()
	defer b.stop()
	c := newClient(key, []string{a.base, b.base}, *conc)
	c.setup(recv.url)

	fmt.Printf("two replicas (%s, %s) on one PostgreSQL schema; %d callers for %s\n", a.base, b.base, *conc, *duration)
	res := c.run(*duration)
	res.print()
	ok := check(ctx, store, as.ID, res, recv, *drain)
	logErrors := 0
	for _, s := range []*serve{a, b} {
		s.stop()
		other, retried := s.errorLines()
		fmt.Printf("replica %s: %d ERROR lines in its log, and %d serialization failures or deadlocks it retried\n", s.name, other, retried)
		logErrors += other
	}
	if !ok || res.errors() > 0 || logErrors > 0 {
		fmt.Println("\nRESULT: FAILED")
		os.Exit(1)
	}
	fmt.Println("\nRESULT: every check held")
}
