package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// live measures commands/s with the sealer off and on, alternating
// (rounds times off then on, then off once more), and the seal lag while
// it is on. Each on run starts in the steady state serve reaches: the
// sealer caught up and the notary's start-up whole-tree check done.
func live(ctx context.Context, st store, conc int, d time.Duration, rounds int) {
	svc := domain.NewService(st.events, domain.ServiceConfig{})
	as := domain.NewPrefixedID("as")
	fmt.Printf("\n== %s: live, %d concurrent callers, %s per run, %d rounds\n", st.name, conc, d, rounds)
	tr := &tracker{sent: map[string]time.Time{}}
	var offs, ons []float64
	var cpu [2]struct {
		self, pg time.Duration
		calls    int64
	} // sealer off, on
	run := func(tag string, tr *tracker) float64 {
		defer benchkit.StartProfile(windowProfile(st.name, tag))()
		self, pg := benchkit.Self(), benchkit.Postgres()
		perSecond, calls := benchkit.Measure(conc, d, func(w, i int) error { return commandPair(ctx, svc, as, tag, w, i, tr) })
		c := &cpu[0]
		if strings.HasPrefix(tag, "on") {
			c = &cpu[1]
		}
		c.self, c.pg, c.calls = c.self+benchkit.Self()-self, c.pg+benchkit.Postgres()-pg, c.calls+calls
		return perSecond
	}
	for r := range rounds {
		offs = append(offs, run(fmt.Sprint("off", r), nil))
		fmt.Printf("%-9s sealer off    %8.0f commands/s\n", st.name, offs[r])
		seal(ctx, st) // the off run's events: the sealer starts caught up
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		startSealing(runCtx, &wg, st, tr)
		ons = append(ons, run(fmt.Sprint("on", r), tr))
		fmt.Printf("%-9s sealer on     %8.0f commands/s\n", st.name, ons[r])
		sent := tr.count()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && tr.sealed() < sent; {
			time.Sleep(20 * time.Millisecond)
		}
		stop()
		wg.Wait()
	}
	offs = append(offs, run("offlast", nil))
	fmt.Printf("%-9s sealer off    %8.0f commands/s\n", st.name, offs[len(offs)-1])
	if tr.batches > 0 {
		fmt.Printf("%-9s sealer: %d batches, %.1f events and %s a batch in its write transaction (%.1f µs an event), %s of it committing\n", st.name, tr.batches,
			float64(tr.events)/float64(tr.batches), ms(tr.busy/time.Duration(tr.batches)), float64(tr.busy.Nanoseconds())/1e3/float64(max(1, tr.events)),
			ms(tr.committing/time.Duration(tr.batches)))
	}
	perCall := func(d time.Duration, calls int64) float64 { return float64(d.Microseconds()) / float64(max(1, calls)) }
	fmt.Printf("%-9s CPU a command: this process off %.0f µs, on %.0f µs (%+.1f%%); postgres (all of the machine's) off %.0f µs, on %.0f µs\n",
		st.name, perCall(cpu[0].self, cpu[0].calls), perCall(cpu[1].self, cpu[1].calls),
		100*perCall(cpu[1].self, cpu[1].calls)/perCall(cpu[0].self, cpu[0].calls)-100,
		perCall(cpu[0].pg, cpu[0].calls), perCall(cpu[1].pg, cpu[1].calls))
	base, on := mean(offs), mean(ons)
	fmt.Printf("%-9s commands/s with the sealer on: %.1f%% of off (drop %.1f%%; target: drop ≤ 5%%)\n",
		st.name, 100*on/base, 100-100*on/base)
	lags := tr.lagsSorted()
	if len(lags) == 0 {
		fmt.Printf("%-9s no create was sealed\n", st.name)
		return
	}
	fmt.Printf("%-9s seal lag over %d creates: p50 %s, p90 %s, p99 %s, max %s (target: p99 < 1 s)\n", st.name, len(lags),
		ms(percentile(lags, 0.5)), ms(percentile(lags, 0.9)), ms(percentile(lags, 0.99)), ms(lags[len(lags)-1]))
}

// liveProfile, if set, is where each live measurement writes a CPU
// profile of its window alone: liveProfile.<store>.<run> (off0, on0, ...),
// so that pprof -diff_base can set the on runs against the off runs.
var liveProfile string

// sealerPace and sealerBatch, if set, replace audit.RunnerConfig's Pace
// and BatchSize in the live part (experiments).
var (
	sealerPace  time.Duration
	sealerBatch int
)

func windowProfile(store, tag string) string {
	if liveProfile == "" {
		return ""
	}
	return fmt.Sprintf("%s.%s.%s", liveProfile, store, tag)
}

func sealerConfig(st store) projections.RunnerConfig {
	cfg := audit.RunnerConfig(st.write, nil)
	if sealerPace > 0 {
		cfg.Pace = sealerPace
	}
	if sealerBatch > 0 {
		cfg.BatchSize = sealerBatch
	}
	return cfg
}

func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// startSealing runs the sealer (timing each commit) and a notary, as serve
// does, until ctx ends; it returns once the notary's start-up check is
// done.
func startSealing(ctx context.Context, wg *sync.WaitGroup, st store, tr *tracker) {
	key := newKey()
	notary, err := audit.NewNotary(audit.NotaryConfig{DB: st.write, Read: st.read, Events: st.events, Key: key})
	if err != nil {
		log.Fatal(err)
	}
	runner, err := projections.NewRunner(st.events, st.write, capture{audit.NewSealer(st.read), tr}, sealerConfig(st))
	if err != nil {
		log.Fatal(err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = notary.Run(ctx)
	}()
	for checking, _, _ := notary.Checking(); checking && ctx.Err() == nil; checking, _, _ = notary.Checking() {
		time.Sleep(10 * time.Millisecond) // serve's start-up check, before the measurement
	}
	go func() {
		defer wg.Done()
		_ = runner.Run(ctx)
	}()
}

// tracker remembers when each create returned and, once the sealer's batch
// holding it commits, how long that took.
type tracker struct {
	mu      sync.Mutex
	sent    map[string]time.Time
	pending []string // codes of the batch being sealed
	lags    []time.Duration
	n       int
	// batches, events and busy add up the sealer's batches (busy: from
	// Apply to commit, the write transaction less its first reads); applied and started are the current batch's.
	batches, events, applied int
	busy, committing         time.Duration // committing: from Apply's return to commit
	started, wrote           time.Time
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *tracker) sealed() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lags)
}

func (t *tracker) lagsSorted() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := slices.Clone(t.lags)
	slices.Sort(out)
	return out
}

// capture wraps the sealer so the tracker learns which creates a batch
// holds.
type capture struct {
	*audit.Sealer
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
	c.t.applied, c.t.started = len(events), time.Now()
	c.t.mu.Unlock()
	err := c.Sealer.Apply(ctx, tx, events)
	c.t.mu.Lock()
	c.t.wrote = time.Now()
	c.t.mu.Unlock()
	return err
}

// Committed implements projections.Committer: the batch committed.
func (c capture) Committed() { c.t.committed(time.Now()) }

// committed records the lag of the batch that just committed.
func (t *tracker) committed(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, code := range t.pending {
		lag := time.Duration(0) // sealed before its sender noted the time
		if sent, ok := t.sent[code]; ok {
			lag = max(0, at.Sub(sent))
		}
		t.lags = append(t.lags, lag)
	}
	t.pending = t.pending[:0]
	t.batches, t.events, t.busy = t.batches+1, t.events+t.applied, t.busy+at.Sub(t.started)
	t.committing += at.Sub(t.wrote)
}

var runID = time.Now().UnixNano()

// lastCode holds each worker's last created code for its next milestone.
var lastCode sync.Map

// commandPair is scripts/bench's command mix: even calls create a referral
// for a new referrer, odd calls report its referred user's first
// milestone. tr, if set, learns when each create returned.
func commandPair(ctx context.Context, svc *domain.Service, appspace, tag string, w, i int, tr *tracker) error {
	o := domain.Origin{AppspaceID: appspace, RequestID: domain.NewID()}
	referrer := fmt.Sprintf("%s-%d-%d-%d", tag, runID, w, i/2)
	if i%2 == 0 {
		res, err := svc.CreateReferral(ctx, o, domain.CreateInput{ReferrerID: referrer})
		if err != nil {
			return err
		}
		if tr != nil {
			tr.mu.Lock()
			tr.sent[res.Referral.ReferralCode] = time.Now()
			tr.n++
			tr.mu.Unlock()
		}
		lastCode.Store(fmt.Sprint(tag, w), res.Referral.ReferralCode)
		return nil
	}
	code, _ := lastCode.Load(fmt.Sprint(tag, w))
	_, err := svc.ReachMilestone(ctx, o, code.(string), domain.MilestoneInput{Milestone: "signed_up", ReferredUserID: "friend-of-" + referrer})
	return err
}
