package webhooks

import (
	"math"
	"sync"
	"time"
)

// endpoints is this replica's view of each endpoint's traffic: requests in
// flight (capped by max_in_flight) and a token bucket for rate_limit. Both
// are per replica: N replicas may send N times max_in_flight and N times
// rate_limit to one endpoint (documented in the README and the decisions).
type endpoints struct {
	mu    sync.Mutex
	m     map[string]*endpoint
	total int // requests in flight, every endpoint
}

type endpoint struct {
	inFlight int
	cap      int
	// rate is requests per second (0: unlimited); tokens refill at rate up
	// to one second's worth.
	rate   float64
	tokens float64
	filled time.Time
}

func newEndpoints() *endpoints { return &endpoints{m: map[string]*endpoint{}} }

// slots is how many requests endpoint id may start now, given its cap and
// rate limit (refreshed from the claim's reading of the webhook), and when
// the next token comes if the rate limit is what holds it back.
func (e *endpoints) slots(id string, maxInFlight int, rate float64, now time.Time) (int, time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	ep.cap = maxInFlight
	if rate != ep.rate {
		ep.rate, ep.tokens, ep.filled = rate, max(1, rate), now
	}
	free := maxInFlight - ep.inFlight
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

// start counts n requests to id as in flight and spends their tokens.
func (e *endpoints) start(id string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	ep.inFlight += n
	e.total += n
	if ep.rate > 0 {
		ep.tokens -= float64(n)
	}
}

// done counts a request to id as finished.
func (e *endpoints) done(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.get(id)
	ep.inFlight--
	e.total--
	if ep.inFlight == 0 && ep.rate <= 0 {
		delete(e.m, id) // idle: forget it, so the map holds only busy endpoints
	}
}

// busy is the number of requests in flight, every endpoint.
func (e *endpoints) busy() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total
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
