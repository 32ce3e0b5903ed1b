// Command webhookbench measures the webhook pipeline against a local
// receiver, per store, and prints each figure beside its target:
//
//   - baseline: the receiver's raw rate, the same number of signed POSTs
//     (a delivery's body and headers) sent straight to it by as many
//     senders as the worker has;
//
//   - throughput: the ledger's successful deliveries per second for a
//     backlog of events written straight into the log (forwarder, topic,
//     dispatcher, worker: everything but the commands), and its ratio to the
//     baseline (target >= 20%);
//
//   - latency: creates through the domain service at a steady rate, and the
//     delay from each append's return to its webhook's arrival (target p99
//     < 100 ms at 200 creates/s);
//
//   - isolation: the same, with a second endpoint that answers after
//     -slow-delay taking every event beside the fast one; the figures are
//     the fast endpoint's (target p99 < 1 s);
//
// and at the end the process's peak RSS (target < 256 MiB).
//
//	go run ./scripts/webhookbench -events 20000 -rate 200 -duration 10s
//
// -slow makes only the isolation run.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

// Targets (issue 17 and issue 15).
const (
	targetRatio       = 0.20
	targetLatencyP99  = 100 * time.Millisecond
	targetIsolatedP99 = time.Second
	targetRSS         = 256 // MiB
)

// figures are one store's results.
type figures struct {
	store            string
	baseline, perSec float64
	cpuPerDelivery   time.Duration
	// pgPerDelivery is the PostgreSQL backends' CPU per delivery.
	pgPerDelivery time.Duration
	// claims and records are the worker's commits during the backlog.
	claims, records   float64
	delivered, events int
	lat, slow         latency
	slowOnly          bool
}

type latency struct {
	lags []time.Duration
	sent int
	// queued and delivered split lags at the delivery row (see stages).
	queued, delivered []time.Duration
}

func main() {
	events := flag.Int("events", 20000, "backlog of events for the throughput run (and signed POSTs for the baseline)")
	rate := flag.Int("rate", 200, "creates per second for the latency runs")
	duration := flag.Duration("duration", 10*time.Second, "length of each latency run")
	concurrency := flag.Int("concurrency", 32, "requests the worker keeps in flight")
	// 32: before endpoints had their own cap, one endpoint could take all
	// 32 senders; the healthy figures compare like with like.
	maxInFlight := flag.Int("max-in-flight", 32, "the fast endpoint's max_in_flight")
	slowOnly := flag.Bool("slow", false, "make only the isolation run (a slow endpoint beside the fast one)")
	slowDelay := flag.Duration("slow-delay", 5*time.Second, "how long the slow endpoint takes to answer")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the runs here")
	only := flag.String("store", "", "sqlite or postgres (empty: both)")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	flag.Parse()
	ctx := context.Background()
	defer benchkit.StartProfile(*cpuProfile)()

	recv := startReceiver(0)
	var all []figures
	benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) {
		f := figures{store: st.Name, slowOnly: *slowOnly, events: *events}
		b := newBench(ctx, st, recv, *concurrency, *maxInFlight)
		if !*slowOnly {
			f.baseline = recv.signedRate(*events, *concurrency)
			f.throughput(b, *events)
			f.lat = b.latency("lat", *rate, *duration)
		} else {
			b.start()
		}
		b.addSlow(startReceiver(*slowDelay))
		f.slow = b.latency("iso", *rate, *duration)
		b.stop()
		all = append(all, f)
	})
	report(all, *rate, *duration, *slowDelay)
}

// throughput times the backlog run and keeps its figures.
func (f *figures) throughput(b *bench, n int) {
	cpu0, pg0 := benchkit.Self(), benchkit.Postgres()
	claims0, records0 := b.commits()
	start := time.Now()
	f.delivered = b.throughput(n)
	f.perSec = float64(n) / time.Since(start).Seconds()
	f.cpuPerDelivery = (benchkit.Self() - cpu0) / time.Duration(n)
	claims, records := b.commits()
	f.claims, f.records = claims-claims0, records-records0
	if f.store == "postgres" {
		f.pgPerDelivery = (benchkit.Postgres() - pg0) / time.Duration(n)
	}
}

// report prints every store's figures beside their targets.
func report(all []figures, rate int, d, slowDelay time.Duration) {
	if len(all) > 0 && !all[0].slowOnly {
		fmt.Printf("throughput: a backlog of %d created events; baseline: as many signed POSTs straight to the receiver\n", all[0].events)
		fmt.Printf("%-9s %10s %10s %12s %8s %8s %14s %13s %15s\n", "store", "delivered", "per s", "baseline/s", "ratio", "(>=20%)",
			"ledger CPU/dl", "server CPU/dl", "commits/1k dl")
		for _, f := range all {
			r := f.perSec / f.baseline
			server := "-"
			if f.pgPerDelivery > 0 {
				server = f.pgPerDelivery.Round(time.Microsecond).String()
			}
			k := float64(f.events) / 1000
			fmt.Printf("%-9s %10d %10.0f %12.0f %7.0f%% %8s %14s %13s %6.1f+%-6.1f\n", f.store, f.delivered, f.perSec, f.baseline, 100*r,
				verdict(r >= targetRatio), f.cpuPerDelivery.Round(time.Microsecond), server, f.claims/k, f.records/k)
		}
		fmt.Println("(commits: the worker's claims + recorded batches; server CPU: this run's PostgreSQL backends)")
		fmt.Printf("\nappend returned -> webhook received, %d creates/s for %s (each run after 1 s of creates not counted)\n", rate, d)
		printLatency(all, func(f figures) latency { return f.lat }, targetLatencyP99)
	}
	fmt.Printf("\nthe same, fast endpoint beside one answering after %s\n", slowDelay)
	printLatency(all, func(f figures) latency { return f.slow }, targetIsolatedP99)
	rss := peakRSS()
	fmt.Printf("\npeak RSS (VmHWM) of this process, every run: %.0f MiB (< %d MiB: %s)\n", rss, targetRSS, verdict(rss < targetRSS))
}

func printLatency(all []figures, pick func(figures) latency, target time.Duration) {
	fmt.Printf("%-9s %9s %8s %8s %8s %8s %10s %10s   p99 < %s\n", "store", "received", "p50", "p90", "p99", "max",
		"to row p99", "row to rx", target)
	for _, f := range all {
		l := pick(f)
		slices.Sort(l.lags)
		if len(l.lags) == 0 {
			fmt.Printf("%-9s nothing received\n", f.store)
			continue
		}
		q := func(p float64) time.Duration { return l.lags[min(len(l.lags)-1, int(p*float64(len(l.lags))))] }
		fmt.Printf("%-9s %4d/%-4d %8s %8s %8s %8s %10s %10s   %s\n", f.store, len(l.lags), l.sent, ms(q(0.5)), ms(q(0.9)),
			ms(q(0.99)), ms(l.lags[len(l.lags)-1]), ms(quantile(l.queued, 0.99)), ms(quantile(l.delivered, 0.99)),
			verdict(len(l.lags) == l.sent && q(0.99) < target))
	}
}

type bench struct {
	reg    *prometheus.Registry
	ctx    context.Context
	st     benchkit.Store
	recv   *receiver
	wh     *webhooks.Webhooks
	as     string
	fastID string // the fast endpoint's webhook id
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newBench starts the pipeline on st with one webhook to the receiver.
func newBench(ctx context.Context, st benchkit.Store, recv *receiver, concurrency, maxInFlight int) *bench {
	sealer, err := webhooks.NewSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	wh, err := webhooks.New(webhooks.Config{DB: st.Write, ReadDB: st.Read, Events: st.Events, Sealer: sealer,
		Guard: ssrf.Guard{AllowPrivate: true}, Concurrency: concurrency, Metrics: reg})
	if err != nil {
		log.Fatal(err)
	}
	b := &bench{ctx: ctx, st: st, recv: recv, wh: wh, as: domain.NewPrefixedID("as"), reg: reg}
	fast, _, err := wh.Create(ctx, b.as, webhooks.WebhookInput{Name: "bench", URL: recv.url, Events: webhooks.EventTypes,
		Limits: webhooks.Limits{MaxInFlight: &maxInFlight}})
	if err != nil {
		log.Fatal(err)
	}
	b.fastID = fast.ID
	return b
}

// addSlow adds an endpoint at recv (default limits) for every event.
func (b *bench) addSlow(recv *receiver) {
	if _, _, err := b.wh.Create(b.ctx, b.as, webhooks.WebhookInput{Name: "slow", URL: recv.url, Events: webhooks.EventTypes}); err != nil {
		log.Fatal(err)
	}
}

func (b *bench) start() {
	runner, err := projections.NewRunner(b.st.Events, b.st.Write, b.wh.Forwarder(), projections.RunnerConfig{Name: "webhooks"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.ctx)
	b.cancel = cancel
	for _, run := range []func(context.Context) error{runner.Run, b.wh.Run} {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := run(ctx); err != nil {
				log.Fatal(err)
			}
		}()
	}
}

func (b *bench) stop() { b.cancel(); b.wg.Wait() }

// throughput writes a backlog of created events into the log, then starts
// the pipeline and waits until every one is delivered and recorded
// succeeded; it returns how many deliveries are recorded so.
func (b *bench) throughput(n int) int {
	w := benchkit.NewEventWriter(b.ctx, b.st.Write)
	for i := range n {
		code := fmt.Sprintf("T%09d", i)
		w.Add(domain.ReferralStream(b.as, code), 1, domain.ReferralCreated{ReferralID: domain.NewID(),
			ReferralCode: code, ReferrerID: fmt.Sprintf("u%d", i), CreatedAt: time.Now()})
	}
	w.Flush()
	base := b.recv.count.Load()
	start := time.Now()
	b.start()
	for b.recv.count.Load()-base < int64(n) {
		if time.Since(start) > 5*time.Minute {
			log.Fatalf("%s: %d of %d delivered after 5 minutes", b.st.Name, b.recv.count.Load()-base, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Every delivery is recorded succeeded, once.
	var succeeded int
	for deadline := time.Now().Add(10 * time.Second); succeeded < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := b.st.Read.Get(&succeeded, `SELECT count(*) FROM webhook_deliveries WHERE state = 'succeeded'`); err != nil {
			log.Fatal(err)
		}
	}
	return succeeded
}
