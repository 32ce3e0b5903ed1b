package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/referral-ledger/referral-ledger/domain"
)

// limiter keeps one token bucket per API key. Each replica keeps its own
// buckets, so across n replicas a key may get up to n times the rate.
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	keys  map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Ceil(2 * perSecond))
	}
	return &limiter{rate: rate.Limit(perSecond), burst: burst, keys: map[string]*rate.Limiter{}}
}

// allow takes a token of keyID's bucket, sets the RateLimit headers, and
// returns a rate_limited error (with Retry-After set) when the bucket is
// empty. A nil limiter allows everything.
func (l *limiter) allow(w http.ResponseWriter, keyID string) error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	b, ok := l.keys[keyID]
	if !ok {
		b = rate.NewLimiter(l.rate, l.burst)
		l.keys[keyID] = b
	}
	l.mu.Unlock()
	now := time.Now()
	allowed := b.AllowN(now, 1)
	tokens := b.TokensAt(now)
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(l.burst))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(0, int(tokens))))
	full := (float64(l.burst) - tokens) / float64(l.rate)
	h.Set("RateLimit-Reset", strconv.Itoa(int(math.Ceil(full))))
	if allowed {
		return nil
	}
	wait := int(math.Ceil((1 - tokens) / float64(l.rate)))
	h.Set("Retry-After", strconv.Itoa(max(1, wait)))
	return domain.Errorf(domain.ERateLimited, "rate limit of %g requests per second for this API key exceeded", float64(l.rate))
}
