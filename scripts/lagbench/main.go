// Command lagbench measures the read models' live lag: with commands
// streaming in at a steady rate, the delay from a command's append to its
// referral being visible in the referrals read model (the commit of the
// projection batch that applied it). It prints percentiles per store.
//
//	go run ./scripts/lagbench -rate 1000 -duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/referral-ledger/referral-ledger/scripts/benchkit"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

func main() {
	rate := flag.Int("rate", 1000, "create commands per second")
	duration := flag.Duration("duration", 10*time.Second, "how long commands stream in")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("%d creates/s for %s; lag = append returned -> projection batch committed\n\n", *rate, *duration)
	fmt.Printf("%-9s %8s %8s %8s %8s %8s %10s\n", "store", "sent", "p50", "p90", "p99", "max", "achieved/s")

	benchkit.ForEachStore(ctx, *pgURL, "", func(st benchkit.Store) {
		measure(ctx, st.Name, st.Events, st.Write, st.Read, *rate, *duration)
	})
}

// tracker remembers when each code's create returned and, once its batch
// commits, how long it took to become visible.
type tracker struct {
	mu      sync.Mutex
	sent    map[string]time.Time
	pending []string // codes of the batch being applied
	lags    []time.Duration
}

// capture wraps the projection so the tracker learns which referrals a
// batch holds.
type capture struct {
	projections.Handler
	t *tracker
}

func (c capture) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
	c.t.mu.Lock()
	c.t.pending = c.t.pending[:0]
	for _, e := range events {
		if _, cat, code := domain.ParseStream(e.Stream); cat == "referral" && e.Type == domain.TypeReferralCreated {
			c.t.pending = append(c.t.pending, code)
		}
	}
	c.t.mu.Unlock()
	return c.Handler.Apply(ctx, tx, events)
}

// committed records the lag of the batch that just committed.
func (t *tracker) committed(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, code := range t.pending {
		lag := time.Duration(0) // applied before its sender noted the time
		if sent, ok := t.sent[code]; ok {
			lag = max(0, at.Sub(sent))
		}
		t.lags = append(t.lags, lag)
	}
	t.pending = t.pending[:0]
}

// follow runs the runner's loop until ctx ends, timing each commit.
func follow(runCtx context.Context, wg *sync.WaitGroup, st domain.EventStore, runner *projections.Runner, tr *tracker) {
	defer wg.Done()
	for runCtx.Err() == nil {
		n, err := runner.Step(runCtx)
		if err != nil {
			if runCtx.Err() == nil {
				log.Fatal(err)
			}
			return
		}
		if n > 0 {
			tr.committed(time.Now())
			continue
		}
		c, err := runner.Checkpoint(runCtx)
		if err == nil {
			waitCtx, cancel := context.WithTimeout(runCtx, time.Second)
			_ = st.WaitForEvents(waitCtx, domain.ReadAllOptions{After: domain.Position(c.Position)})
			cancel()
		}
	}
}

func measure(ctx context.Context, name string, st domain.EventStore, write, read *sqlx.DB, rate int, d time.Duration) {
	as := domain.NewPrefixedID("as")
	svc := domain.NewService(st, domain.ServiceConfig{})
	tr := &tracker{sent: map[string]time.Time{}}
	runner, err := projections.NewRunner(st, write, capture{projections.NewReferrals(read), tr},
		projections.RunnerConfig{Name: projections.ReferralsName})
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go follow(runCtx, &wg, st, runner, tr)

	// Commands at a steady rate from a pool of workers.
	start := time.Now()
	total := int(float64(rate) * d.Seconds())
	jobs := make(chan int, total)
	var senders sync.WaitGroup
	for range 32 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := range jobs {
				o := domain.Origin{AppspaceID: as, RequestID: domain.NewID()}
				res, err := svc.CreateReferral(ctx, o, domain.CreateInput{ReferrerID: fmt.Sprintf("lag-%d", i)})
				if err != nil {
					log.Fatal(err)
				}
				tr.mu.Lock()
				tr.sent[res.Referral.ReferralCode] = time.Now()
				tr.mu.Unlock()
			}
		}()
	}
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		jobs <- i
	}
	close(jobs)
	senders.Wait()
	achieved := float64(total) / time.Since(start).Seconds()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tr.mu.Lock()
		done := len(tr.lags) >= total
		tr.mu.Unlock()
		if done {
			break
		}
	}
	stop()
	wg.Wait()
	lags := slices.Clone(tr.lags)
	slices.Sort(lags)
	if len(lags) == 0 {
		fmt.Printf("%-9s no referral became visible\n", name)
		return
	}
	q := func(p float64) time.Duration {
		return lags[min(len(lags)-1, int(p*float64(len(lags))))].Round(time.Millisecond)
	}
	fmt.Printf("%-9s %8d %8s %8s %8s %8s %10.0f\n", name, len(lags), q(0.5), q(0.9), q(0.99), lags[len(lags)-1].Round(time.Millisecond), achieved)
}
