// Command webhookbench measures the webhook pipeline against a local
// receiver, per store:
//
//   - throughput: the receiver's raw rate under a plain Go HTTP load loop,
//     then the ledger's sustained successful deliveries per second for a
//     backlog of events written straight into the log (forwarder, topic,
//     dispatcher, worker: everything but the commands);
//
//   - latency: creates through the domain service at a steady rate, and the
//     delay from each append's return to its webhook's arrival.
//
//     go run ./scripts/webhookbench -events 20000 -rate 200 -duration 10s
//
// With -slow, a second endpoint that answers after -slow-delay takes every
// event beside the fast one, and only the latency run is made: the figures
// are the fast endpoint's, which the slow one must not delay.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
	"github.com/referral-ledger/referral-ledger/scripts/benchkit"
)

func main() {
	events := flag.Int("events", 20000, "backlog of events for the throughput run")
	rate := flag.Int("rate", 200, "creates per second for the latency run")
	duration := flag.Duration("duration", 10*time.Second, "length of the latency run")
	concurrency := flag.Int("concurrency", 32, "requests the worker keeps in flight")
	// 32: before endpoints had their own cap, one endpoint could take all
	// 32 senders; the healthy figures compare like with like.
	maxInFlight := flag.Int("max-in-flight", 32, "the fast endpoint's max_in_flight")
	slow := flag.Bool("slow", false, "add a slow endpoint beside the fast one; latency run only")
	slowDelay := flag.Duration("slow-delay", 5*time.Second, "how long the slow endpoint takes to answer")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the runs here")
	only := flag.String("store", "", "sqlite or postgres (empty: both)")
	pgURL := flag.String("pg", os.Getenv("LEDGER_TEST_DATABASE_URL"), "PostgreSQL URL (empty: SQLite only)")
	flag.Parse()
	ctx := context.Background()
	defer benchkit.StartProfile(*cpuProfile)()

	recv := startReceiver(0)
	raw := recv.rawRate(*concurrency, 3*time.Second)
	fmt.Printf("receiver raw rate (plain Go HTTP loop, %d in flight, 3s): %.0f requests/s\n\n", *concurrency, raw)
	fmt.Printf("%-9s %8s %10s %8s %10s %10s   %s\n", "store", "events", "delivered", "secs", "per s", "vs raw", "CPU (ledger + postgres)")
	type latency struct {
		name string
		lags []time.Duration
		sent int
	}
	var lat []latency
	benchkit.ForEachStore(ctx, *pgURL, *only, func(st benchkit.Store) {
		b := newBench(ctx, st, recv, *concurrency, *maxInFlight)
		if *slow {
			b.addSlow(startReceiver(*slowDelay))
			b.start()
		} else {
			b.throughput(*events, raw)
		}
		lags, sent := b.latency(*rate, *duration)
		lat = append(lat, latency{st.Name, lags, sent})
		b.stop()
	})
	what := "webhook"
	if *slow {
		what = fmt.Sprintf("fast webhook (beside one answering after %s)", *slowDelay)
	}
	fmt.Printf("\nappend returned -> %s received, %d creates/s for %s\n", what, *rate, *duration)
	fmt.Printf("%-9s %8s %8s %8s %8s %8s\n", "store", "received", "p50", "p90", "p99", "max")
	for _, l := range lat {
		slices.Sort(l.lags)
		if len(l.lags) == 0 {
			fmt.Printf("%-9s nothing received\n", l.name)
			continue
		}
		q := func(p float64) time.Duration {
			return l.lags[min(len(l.lags)-1, int(p*float64(len(l.lags))))].Round(time.Millisecond)
		}
		fmt.Printf("%-9s %4d/%-4d %8s %8s %8s %8s\n", l.name, len(l.lags), l.sent, q(0.5), q(0.9), q(0.99), l.lags[len(l.lags)-1].Round(time.Millisecond))
	}
}

type bench struct {
	ctx    context.Context
	st     benchkit.Store
	recv   *receiver
	wh     *webhooks.Webhooks
	as     string
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newBench starts the pipeline on st with one webhook to the receiver.
func newBench(ctx context.Context, st benchkit.Store, recv *receiver, concurrency, maxInFlight int) *bench {
	sealer, err := webhooks.NewSealer(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		log.Fatal(err)
	}
	wh, err := webhooks.New(webhooks.Config{DB: st.Write, ReadDB: st.Read, Events: st.Events, Sealer: sealer,
		Guard: ssrf.Guard{AllowPrivate: true}, Concurrency: concurrency})
	if err != nil {
		log.Fatal(err)
	}
	b := &bench{ctx: ctx, st: st, recv: recv, wh: wh, as: domain.NewPrefixedID("as")}
	if _, _, err := wh.Create(ctx, b.as, webhooks.WebhookInput{Name: "bench", URL: recv.url, Events: webhooks.EventTypes,
		Limits: webhooks.Limits{MaxInFlight: &maxInFlight}}); err != nil {
		log.Fatal(err)
	}
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
// the pipeline and times it until every one is delivered.
func (b *bench) throughput(n int, raw float64) {
	w := benchkit.NewEventWriter(b.ctx, b.st.Write)
	for i := range n {
		code := fmt.Sprintf("T%09d", i)
		w.Add(domain.ReferralStream(b.as, code), 1, domain.ReferralCreated{ReferralID: domain.NewID(),
			ReferralCode: code, ReferrerID: fmt.Sprintf("u%d", i), CreatedAt: time.Now()})
	}
	w.Flush()
	base := b.recv.count.Load()
	cpu0, pg0 := benchkit.Self(), benchkit.Postgres()
	start := time.Now()
	b.start()
	for b.recv.count.Load()-base < int64(n) {
		if time.Since(start) > 5*time.Minute {
			log.Fatalf("%s: %d of %d delivered after 5 minutes", b.st.Name, b.recv.count.Load()-base, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	secs := time.Since(start).Seconds()
	// Every delivery is recorded succeeded, once.
	var succeeded int
	if err := b.st.Read.Get(&succeeded, `SELECT count(*) FROM webhook_deliveries WHERE state = 'succeeded'`); err != nil {
		log.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); succeeded < n && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_ = b.st.Read.Get(&succeeded, `SELECT count(*) FROM webhook_deliveries WHERE state = 'succeeded'`)
	}
	per := float64(n) / secs
	pg := (benchkit.Postgres() - pg0).Round(10 * time.Millisecond).String()
	if strings.HasPrefix(pg, "-") {
		pg = "n/a (postgres backends exited)"
	}
	fmt.Printf("%-9s %8d %10d %8.2f %10.0f %9.0f%%   %s + %s\n", b.st.Name, n, succeeded, secs, per, 100*per/raw,
		(benchkit.Self() - cpu0).Round(10*time.Millisecond), pg)
}

// latency creates referrals at rate through the service for d and returns
// each one's delay from append to arrival.
func (b *bench) latency(rate int, d time.Duration) ([]time.Duration, int) {
	svc := domain.NewService(b.st.Events, domain.ServiceConfig{})
	var mu sync.Mutex
	sent := map[string]time.Time{}
	total := int(float64(rate) * d.Seconds())
	jobs := make(chan int)
	var senders sync.WaitGroup
	for range 16 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := range jobs {
				res, err := svc.CreateReferral(b.ctx, domain.Origin{AppspaceID: b.as, RequestID: domain.NewID()},
					domain.CreateInput{ReferrerID: fmt.Sprintf("lat-%d", i)})
				if err != nil {
					log.Fatal(err)
				}
				mu.Lock()
				sent[res.Referral.ReferralCode] = time.Now()
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := range total {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
		jobs <- i
	}
	close(jobs)
	senders.Wait()
	var lags []time.Duration
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		lags = lags[:0]
		b.recv.mu.Lock()
		for code, at := range sent {
			if got, ok := b.recv.arrived[code]; ok {
				lags = append(lags, max(0, got.Sub(at)))
			}
		}
		b.recv.mu.Unlock()
		if len(lags) == total {
			break
		}
	}
	return lags, total
}
