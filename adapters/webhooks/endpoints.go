package webhooks

import (
	"math"
	"sync"
	"time"
)

// endpoints is this replica's view of each endpoint's traffic: deliveries
// held (claimed and not yet finished: queued here or in flight), requests
// in flight (capped by max_in_flight) and a token bucket for rate_limit.
// All are per replica: N replicas may send N times max_in_flight and N
// times rate_limit to one endpoint (documented in the README and the
// decisions).
type endpoints struct {
	mu      sync.Mutex
	m       map[string]*endpoint
	held    int // deliveries held, every endpoint
	sending int // requests in flight, every endpoint
}

type endpoint struct {
	held, inFlight int
	cap            int
	// failing counts attempts that failed and are not recorded yet: the
	// endpoint's breaker has not seen them, so nothing more starts.
	// failures counts every failed attempt: a delivery held (or claimed)
	// before a failure is given back, not started (see begin).
	failing, failures int
	// rate is requests per second (0: unlimited); tokens refill at rate up
	// to one second's worth.
	rate   float64
	tokens float64
	filled time.Time
}

func newEndpoints() *endpoints { return &endpoints{m: map[string]*endpoint{}} }

// slots is how many more deliveries of endpoint id this replica may claim
// now, given its cap and rate limit (refreshed from the claim's reading of
// the webhook), and when the next token comes if the rate limit is what
// holds it back. An endpoint that may be claimed ahead (healthy, not rate
// limited) is held up to aheadFactor times its cap: the cap is in flight
// and the rest waits here, in rounds of the cap, so its requests follow
// each other without waiting for a claim.
func (e *endpoints) slots(id string, maxInFlight int, rate float64, ahead bool, now time.Time) (int, time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	ep.cap = maxInFlight
	if rate != ep.rate {
		ep.rate, ep.tokens, ep.filled = rate, max(1, rate), now
	}
	if ep.failing > 0 {
		// A claim that begins before the breaker has seen a failure could
		// read the endpoint as active after the breaker opened: wait.
		return 0, time.Time{}
	}
	limit := maxInFlight
	if ahead && rate <= 0 {
		limit *= aheadFactor
	}
	free := limit - ep.held
	if ep.rate <= 0 || free <= 0 {
		return max(free, 0), time.Time{}
	}
	ep.refill(now)
	if ep.tokens < 1 {
		wait := time.Duration((1 - ep.tokens) / ep.rate * float64(time.Second))
		return 0, now.Add(wait)
	}
	return min(free, int(math.Floor(ep.tokens))), time.Time{}
}

func (ep *endpoint) refill(now time.Time) {
	if d := now.Sub(ep.filled); d > 0 {
		ep.tokens = min(max(1, ep.rate), ep.tokens+d.Seconds()*ep.rate)
	}
	ep.filled = now
}

// hold counts n claimed deliveries of id, whose cap is maxInFlight, as
// held and spends their tokens. (The cap is set again: an endpoint whose
// requests all finished during the claim was forgotten.)
func (e *endpoints) hold(id string, maxInFlight, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	ep.cap = maxInFlight
	ep.held += n
	e.held += n
	if ep.rate > 0 {
		ep.tokens -= float64(n)
	}
}

// What begin says about a held delivery.
const (
	beginWait = iota // its endpoint is at its cap
	beginNow         // counted in flight: send it
	beginDrop        // an attempt to its endpoint failed: release it
	beginFull        // every sender is busy: nothing more starts now
)

// epoch is endpoint id's count of failed attempts, to give begin.
func (e *endpoints) epoch(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.get(id).failures
}

// begin starts a held delivery of id if its endpoint is under its cap and
// fewer than senders requests are in flight. A delivery whose claim began
// (epoch) before an attempt to its endpoint failed is let go instead: the
// breaker may have opened since, and its claim did not see it.
func (e *endpoints) begin(id string, epoch, senders int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	switch {
	case ep.failing > 0 || ep.failures != epoch:
		return beginDrop
	case e.sending >= senders:
		return beginFull
	case ep.inFlight >= ep.cap:
		return beginWait
	}
	ep.inFlight++
	e.sending++
	return beginNow
}

// fail counts a failed attempt to id, not recorded yet.
func (e *endpoints) fail(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	ep.failing++
	ep.failures++
}

// done counts a request to id as finished; failed: its failure is
// recorded now.
func (e *endpoints) done(id string, failed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	ep.inFlight--
	e.sending--
	if failed {
		ep.failing--
	}
	e.release(id, ep)
}

// drop counts a held delivery of id that was never started as let go.
func (e *endpoints) drop(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.release(id, e.get(id))
}

func (e *endpoints) release(id string, ep *endpoint) {
	ep.held--
	e.held--
	if ep.held == 0 && ep.failures == 0 && ep.rate <= 0 {
		// Idle and never failed: forget it, so the map holds only busy
		// endpoints and those whose failure count an epoch may hold.
		delete(e.m, id)
	}
}

// busy is the number of deliveries held, every endpoint.
func (e *endpoints) busy() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.held
}

// waiting reports why this replica holds back endpoint id's due
// deliveries: "in_flight_cap", "rate_limited" or "".
func (e *endpoints) waiting(id string, now time.Time) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep, ok := e.m[id]
	switch {
	case !ok:
		return ""
	case ep.cap > 0 && ep.inFlight >= ep.cap:
		return waitInFlightCap
	case ep.rate > 0 && ep.tokens+now.Sub(ep.filled).Seconds()*ep.rate < 1:
		return waitRateLimited
	}
	return ""
}

// inFlight returns the requests in flight per endpoint.
func (e *endpoints) inFlight() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.m))
	for id, ep := range e.m {
		out[id] = ep.inFlight
	}
	return out
}

func (e *endpoints) get(id string) *endpoint {
	ep, ok := e.m[id]
	if !ok {
		ep = &endpoint{}
		e.m[id] = ep
	}
	return ep
}
