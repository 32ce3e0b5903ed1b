package webhooks_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
)

// TestRateLimitAcrossSenders: an endpoint with rate_limit 5 and 8 senders
// free never receives more than its burst (one second's worth) plus the
// rate over any stretch of time, and gets every delivery.
//
// Arrival times carry the scheduling jitter of a loaded machine (-race, two
// cores): a request sent at one moment may arrive some hundreds of
// milliseconds later than its neighbour. The checks below therefore use
// stretches long enough that 500 ms of such jitter cannot make a limiter
// that holds look broken, while 8 unlimited senders (all 20 in well under
// a second) fail both.
func TestRateLimitAcrossSenders(t *testing.T) {
	const rate, n = 5, 20
	const jitter = 500 * time.Millisecond
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{Concurrency: 8})
		recv := newReceiver(t, nil)
		s.addIn(t, s.appspaceID, recv.url, webhooks.Limits{MaxInFlight: ptr(8), RateLimit: ptr(float64(rate))},
			webhooks.EventReferralCreated)
		s.createIn(t, s.appspaceID, n)
		eventually(t, "every delivery", 30*time.Second, func() bool { return len(recv.requests()) >= n })
		var at []time.Time
		for _, q := range recv.requests() {
			at = append(at, q.At)
		}
		slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
		// The first rate requests go at once (the burst), then one every
		// 1/rate s: the last is sent (n-rate)/rate s after the first.
		span, least := at[len(at)-1].Sub(at[0]), time.Duration(n-rate)*time.Second/rate-jitter
		if span < least {
			t.Errorf("%d requests arrived within %v; rate_limit %d needs at least %v", len(at), span, rate, least)
		}
		// In any 2 s of arrivals: the burst plus what 2 s and the jitter
		// refill.
		const window = 2 * time.Second
		allowed := rate + int(float64(rate)*(window+jitter).Seconds())
		busiest := 0
		for i := range at { // the window starting at each arrival
			j := i
			for j < len(at) && at[j].Sub(at[i]) < window {
				j++
			}
			busiest = max(busiest, j-i)
		}
		if busiest > allowed {
			t.Errorf("%d requests within %v; rate_limit %d allows %d", busiest, window, rate, allowed)
		}
		t.Logf("%d requests over %v; busiest %v: %d", len(at), span, window, busiest)
	})
}

// TestRetryAfterSetsNextAttempt: a 429 or 503 with Retry-After (seconds or
// an HTTP date) makes that time the delivery's next attempt and holds the
// endpoint's other deliveries; a Retry-After on a 500 is not honoured.
func TestRetryAfterSetsNextAttempt(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter func() string
		wantWait   time.Duration // from the attempt to the stored next attempt
		held       bool
	}{
		{"429 with seconds", http.StatusTooManyRequests, func() string { return "120" }, 120 * time.Second, true},
		{"503 with a date", http.StatusServiceUnavailable,
			func() string { return time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat) }, 90 * time.Second, true},
		{"500 ignores it", http.StatusInternalServerError, func() string { return "120" }, time.Minute, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, kind string) {
				s := newStack(t, kind, webhooks.Config{RetrySchedule: []time.Duration{time.Minute}})
				recv := newHeaderReceiver(t, tc.status, tc.retryAfter)
				wh := s.addIn(t, s.appspaceID, recv.url, webhooks.Limits{MaxInFlight: ptr(1)}, webhooks.EventReferralCreated)
				s.createIn(t, s.appspaceID, 2)
				eventually(t, "the first attempt recorded", 10*time.Second, func() bool {
					return s.count(t, `SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
						WHERE d.webhook_id = ?`, wh.ID) >= 1
				})
				var got struct {
					At   int64 `db:"attempted_at"`
					Next int64 `db:"next_attempt_at"`
				}
				if err := s.db.Get(&got, s.db.Rebind(`SELECT a.attempted_at, d.next_attempt_at FROM webhook_attempts a
					JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.webhook_id = ? ORDER BY a.attempted_at LIMIT 1`),
					wh.ID); err != nil {
					t.Fatal(err)
				}
				// An HTTP date has whole seconds: allow one either side.
				if wait := time.Duration(got.Next-got.At) * time.Millisecond; wait < tc.wantWait-time.Second || wait > tc.wantWait+time.Second {
					t.Errorf("next attempt %s after the attempt, want %s", wait, tc.wantWait)
				}
				if !tc.held {
					return
				}
				eventually(t, "both deliveries dispatched", 10*time.Second, func() bool {
					return s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ?`, wh.ID) == 2
				})
				time.Sleep(300 * time.Millisecond) // the other delivery is due, and held
				if n := len(recv.requests()); n != 1 {
					t.Errorf("%d requests; the Retry-After holds the endpoint's other delivery", n)
				}
				reasons := map[string]int{}
				for _, d := range s.deliveries(t, wh.ID) {
					reasons[d.WaitingReason]++
				}
				if reasons["retry_after"] != 2 {
					t.Errorf("waiting reasons %v, want both deliveries retry_after", reasons)
				}
			})
		})
	}
}

// newHeaderReceiver answers every request with status and a Retry-After.
func newHeaderReceiver(tb testing.TB, status int, retryAfter func() string) *receiver {
	tb.Helper()
	return newReceiverWith(tb, func(int) int { return status }, func(h http.Header) { h.Set("Retry-After", retryAfter()) })
}
