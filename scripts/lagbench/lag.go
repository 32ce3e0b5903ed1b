package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// tracker remembers when each code's create returned and, once its batch
// commits, how long it took to become visible.
type tracker struct {
	appspace string // this run's: earlier runs' events replay through its runner
	mu       sync.Mutex
	sent     map[string]time.Time
	pending  []string // codes of the batch being applied
	lags     []time.Duration
	batches  []int
}

// capture wraps the projection so the tracker learns which referrals a
// batch holds and when it commits.
type capture struct {
	projections.Handler
	t *tracker
}

func (c capture) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
	c.t.mu.Lock()
	c.t.pending = c.t.pending[:0]
	for _, e := range events {
		if as, cat, code := domain.ParseStream(e.Stream); as == c.t.appspace && cat == "referral" && e.Type == domain.TypeReferralCreated {
			c.t.pending = append(c.t.pending, code)
		}
	}
	if len(c.t.pending) > 0 { // a batch of this run
		c.t.batches = append(c.t.batches, len(events))
	}
	c.t.mu.Unlock()
	return c.Handler.Apply(ctx, tx, events)
}

// Committed records the lag of the batch that just committed.
func (c capture) Committed() {
	if inner, ok := c.Handler.(projections.Committer); ok {
		inner.Committed()
	}
	t, at := c.t, time.Now()
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

func measure(ctx context.Context, s benchkit.Store, run int, cmdRate float64, rate int, d time.Duration) {
	as := domain.NewPrefixedID("as")
	svc := domain.NewService(s.Events, domain.ServiceConfig{})
	tr := &tracker{appspace: as, sent: map[string]time.Time{}}
	runner, err := projections.NewRunner(s.Events, s.Write, capture{projections.NewReferrals(s.Read), tr},
		projections.RunnerConfig{Name: projections.ReferralsName}) // each run resumes where the last stopped
	if err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := runner.Run(runCtx); err != nil {
			log.Fatal(err)
		}
	}()
	achieved, total := send(ctx, svc, as, tr, rate, d)
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
	report(s.Name, run, cmdRate, rate, achieved, tr)
}

// send runs creates at rate for d from a pool of workers and returns the
// rate achieved and how many were sent.
func send(ctx context.Context, svc *domain.Service, as string, tr *tracker, rate int, d time.Duration) (float64, int) {
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
	return float64(total) / time.Since(start).Seconds(), total
}

func report(name string, run int, cmdRate float64, rate int, achieved float64, tr *tracker) {
	lags := slices.Clone(tr.lags)
	slices.Sort(lags)
	if len(lags) == 0 {
		fmt.Printf("%-9s %3d no referral became visible\n", name, run)
		return
	}
	q := func(p float64) time.Duration {
		return lags[min(len(lags)-1, int(p*float64(len(lags))))].Round(time.Millisecond)
	}
	v := "met"
	if q(0.5) >= lagTarget || q(0.99) >= lagTarget {
		v = "MISSED"
	}
	cmds := "-"
	if cmdRate > 0 {
		cmds = fmt.Sprintf("%.0f", cmdRate)
	}
	b := slices.Clone(tr.batches)
	slices.Sort(b)
	fmt.Printf("%-9s %3d %10s %7d %8d %8s %8s %8s %8s %10.0f  %s (batches %d, median %d events, max %d)\n", name, run, cmds, rate, len(lags),
		q(0.5), q(0.9), q(0.99), lags[len(lags)-1].Round(time.Millisecond), achieved, v, len(b), b[len(b)/2], b[len(b)-1])
}
