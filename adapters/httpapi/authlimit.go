package httpapi

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/referral-ledger/referral-ledger/domain"
)

// maxTrackedClients bounds the failed-authentication buckets kept in
// memory. Buckets that have refilled are dropped first; past the bound, new
// clients share one bucket, so an attacker spread over many addresses is
// still held to one budget instead of growing the map.
const maxTrackedClients = 10000

// authLimiter limits failed authentications per client address: every
// failure takes a token, and a client with no token left is refused before
// its key is looked up, so guessing keys costs the database nothing past
// the budget. Valid keys from that address are refused too until tokens
// come back: telling a valid key apart would take the lookup the limit
// exists to spare.
type authLimiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	ips   map[string]*rate.Limiter
	// pruned is when pruneLocked last dropped refilled buckets.
	pruned time.Time
}

func newAuthLimiter(perMinute float64, burst int) *authLimiter {
	if perMinute < 0 {
		return nil
	}
	if perMinute == 0 {
		perMinute = 10
	}
	if burst <= 0 {
		burst = 20
	}
	return &authLimiter{rate: rate.Limit(perMinute / 60), burst: burst, ips: map[string]*rate.Limiter{}}
}

// clientKey is the address a request's failures are counted against: the
// connection's peer (r.RemoteAddr), never a header a client can forge.
// Behind a reverse proxy every client shares the proxy's address. An IPv6
// client is counted by its /64, which one host usually owns entirely.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// pruneInterval is how often check drops the buckets that have refilled.
const pruneInterval = time.Minute

// pruneLocked drops, at most once per pruneInterval, the buckets that
// have refilled: a full bucket refuses nothing, so dropping it changes no
// answer. Callers hold l.mu.
func (l *authLimiter) pruneLocked(now time.Time) {
	if len(l.ips) == 0 || now.Sub(l.pruned) < pruneInterval {
		return
	}
	l.pruned = now
	for k, b := range l.ips {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.ips, k)
		}
	}
}

// bucket returns client's bucket, creating it. Callers hold l.mu.
func (l *authLimiter) bucket(client string, now time.Time) *rate.Limiter {
	if b, ok := l.ips[client]; ok {
		return b
	}
	if len(l.ips) >= maxTrackedClients {
		for k, b := range l.ips {
			if b.TokensAt(now) >= float64(l.burst) {
				delete(l.ips, k)
			}
		}
	}
	if len(l.ips) >= maxTrackedClients {
		client = "overflow"
		if b, ok := l.ips[client]; ok {
			return b
		}
	}
	b := rate.NewLimiter(l.rate, l.burst)
	l.ips[client] = b
	return b
}

// check refuses r's client if it has used up its failures, with
// Retry-After set to when its next attempt may be made. A nil limiter
// allows all. A client without a bucket has every token: while no bucket
// exists (no recent failures from anyone), its address is not parsed.
func (l *authLimiter) check(w http.ResponseWriter, r *http.Request) error {
	if l == nil {
		return nil
	}
	now := time.Now()
	l.mu.Lock()
	l.pruneLocked(now)
	tokens := float64(l.burst)
	if len(l.ips) > 0 {
		tokens = l.bucket(clientKey(r), now).TokensAt(now)
	}
	l.mu.Unlock()
	if tokens >= 1 {
		return nil
	}
	wait := math.Ceil((1 - tokens) / float64(l.rate))
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait))))
	return domain.Errorf(domain.ERateLimited, "too many failed authentications from this address; retry later")
}

// failed takes a token of client's bucket.
func (l *authLimiter) failed(client string) {
	if l == nil {
		return
	}
	now := time.Now()
	l.mu.Lock()
	l.bucket(client, now).AllowN(now, 1)
	l.mu.Unlock()
}
