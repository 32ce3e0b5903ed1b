package main

import (
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// latency creates referrals at rate through the service for d (referrers
// named with prefix, new to the run) and returns each one's delay from
// append to arrival at the fast receiver. A second of creates at rate goes
// first and is not counted: the throughput run wrote its backlog without
// the command path, whose pool connections (and the statements prepared on
// each) are then opened by the first creates of the run, a cost a serve
// under steady load does not pay per request.
func (b *bench) latency(prefix string, rate int, d time.Duration) latency {
	b.arrivals(b.send(prefix+"-warm", rate, rate))
	total := int(float64(rate) * d.Seconds())
	sent := b.send(prefix, rate, total)
	lags := b.arrivals(sent)
	queued, delivered := b.stages(sent)
	return latency{lags: lags, sent: total, queued: queued, delivered: delivered}
}

// send creates total referrals at rate from 16 senders and returns when
// each create returned, by referral code.
func (b *bench) send(prefix string, rate, total int) map[string]time.Time {
	svc := domain.NewService(b.st.Events, domain.ServiceConfig{})
	var mu sync.Mutex
	sent := map[string]time.Time{}
	jobs := make(chan int)
	var senders sync.WaitGroup
	for range 16 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := range jobs {
				res, err := svc.CreateReferral(b.ctx, domain.Origin{AppspaceID: b.as, RequestID: domain.NewID()},
					domain.CreateInput{ReferrerID: fmt.Sprintf("%s-%d", prefix, i)})
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
	return sent
}

// arrivals waits up to 30 s for every referral of sent to reach the fast
// receiver and returns the delays of those that did.
func (b *bench) arrivals(sent map[string]time.Time) []time.Duration {
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
		if len(lags) == len(sent) {
			break
		}
	}
	return lags
}
