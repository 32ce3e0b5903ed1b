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
	pending  []string  // codes of the batch being applied
	applyAt  time.Time // when the batch being applied reached Apply
	lags     []time.Duration
	toApply  []time.Duration // append returned -> its batch reached Apply (wait, read, begin)
	applies  []time.Duration // Apply called -> commit returned, per batch of this run
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
	c.t.applyAt = time.Now()
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
		lag, toApply := time.Duration(0), time.Duration(0) // applied before its sender noted the time
		if sent, ok := t.sent[code]; ok {
			lag, toApply = max(0, at.Sub(sent)), max(0, t.applyAt.Sub(sent))
		}
		t.lags = append(t.lags, lag)
		t.toApply = append(t.toApply, toApply)
	}
	if len(t.pending) > 0 {
		t.applies = append(t.applies, at.Sub(t.applyAt))
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
	caughtUp := catchUp(ctx, runner)
	ckpt := benchkit.ReadCheckpointer(ctx, s.Write)
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
	if c := benchkit.ReadCheckpointer(ctx, s.Write).Since(ckpt); c != "" {
		fmt.Printf("%-9s %3d   %s\n", s.Name, run, c)
	}
	if caughtUp.events > 0 {
		fmt.Printf("%-9s %3d (before sending: caught up with %d earlier events in %s)\n", s.Name, run, caughtUp.events, caughtUp.took.Round(time.Millisecond))
	}
}

// backlog is what catchUp applied.
type backlog struct {
	events int
	took   time.Duration
}

// catchUp applies the events the runner has not seen (the command rate's,
// measured first) before commands stream in, so that the run measures the
// steady state serve runs in, not the replay of a backlog.
func catchUp(ctx context.Context, runner *projections.Runner) backlog {
	start := time.Now()
	var b backlog
	for {
		n, err := runner.Step(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			b.took = time.Since(start)
			return b
		}
		b.events += n
	}
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
	if len(tr.lags) == 0 {
		fmt.Printf("%-9s %3d no referral became visible\n", name, run)
		return
	}
	q := quantiles(tr.lags)
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
	fmt.Printf("%-9s %3d %10s %7d %8d %8s %8s %8s %8s %10.0f  %s (batches %d, median %d events, max %d)\n", name, run, cmds, rate, len(tr.lags),
		q(0.5), q(0.9), q(0.99), q(1), achieved, v, len(b), b[len(b)/2], b[len(b)-1])
	read, apply := quantiles(tr.toApply), quantiles(tr.applies)
	fmt.Printf("%-9s %3d   stages: append -> batch read p50 %s p99 %s; batch apply+commit p50 %s p99 %s\n", name, run,
		read(0.5), read(0.99), apply(0.5), apply(0.99))
}

// quantiles returns the quantile function of ds (rounded to milliseconds).
func quantiles(ds []time.Duration) func(p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return func(p float64) time.Duration {
		if len(s) == 0 {
			return 0
		}
		return s[min(len(s)-1, int(p*float64(len(s))))].Round(time.Millisecond)
	}
}
