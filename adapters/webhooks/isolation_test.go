package webhooks_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// createIn creates n referrals in appspace as, for referrers not used
// before (a referrer's second create returns its first referral and records
// nothing), and returns when each create returned, by referral code.
func (s *stack) createIn(tb testing.TB, as string, n int) map[string]time.Time {
	tb.Helper()
	out := map[string]time.Time{}
	batch := domain.NewID()
	for i := range n {
		v, err := s.svc.CreateReferral(context.Background(), domain.Origin{AppspaceID: as, RequestID: domain.NewID()},
			domain.CreateInput{ReferrerID: fmt.Sprintf("u%d-%s", i, batch)})
		if err != nil {
			tb.Fatal(err)
		}
		out[v.Referral.ReferralCode] = time.Now()
	}
	return out
}

// addIn saves a webhook in appspace as with limits.
func (s *stack) addIn(tb testing.TB, as, url string, l webhooks.Limits, events ...string) webhooks.Webhook {
	tb.Helper()
	wh, _, err := s.wh.Create(context.Background(), as, webhooks.WebhookInput{Name: "t", URL: url, Events: events, Limits: l})
	if err != nil {
		tb.Fatal(err)
	}
	return wh
}

// lags logs the p50 and p99 of the delay from each create to its arrival.
func lags(tb testing.TB, created map[string]time.Time, got []request) {
	tb.Helper()
	var ds []time.Duration
	for _, q := range got {
		code, _ := body(tb, q)["data"].(map[string]any)["referral_code"].(string)
		if at, ok := created[code]; ok {
			ds = append(ds, q.At.Sub(at))
		}
	}
	slices.Sort(ds)
	if len(ds) > 0 {
		tb.Logf("fast endpoint: %d arrived, p50 %s, p99 %s", len(ds), ds[len(ds)/2], ds[len(ds)*99/100])
	}
}

// hangingURL accepts connections and never answers.
func hangingURL(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return "http://" + l.Addr().String() + "/hooks"
}

// refusingURL is a closed listener's port: connections are refused.
func refusingURL(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr + "/hooks"
}

// TestSlowEndpointDoesNotDelayOthers: beside an endpoint that is slow
// (answers after the timeout), hangs or refuses connections, in the same
// appspace or another, a fast endpoint gets all its deliveries while the
// bad one has not yet had its first attempts.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	slowURL := func(tb testing.TB) (string, func() int) {
		r := newReceiver(tb, func(int) int { time.Sleep(3 * time.Second); return http.StatusOK })
		return r.url, func() int { return len(r.requests()) }
	}
	cases := []struct {
		name       string
		bad        func(tb testing.TB) (string, func() int)
		otherSpace bool
	}{
		{"slow", slowURL, false},
		{"slow in another appspace", slowURL, true},
		{"never answers", func(tb testing.TB) (string, func() int) { return hangingURL(tb), nil }, false},
		{"refuses connections", func(tb testing.TB) (string, func() int) { return refusingURL(tb), nil }, false},
	}
	const n = 100
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.ForEach(t, func(t *testing.T, kind string) {
				s := newStack(t, kind, webhooks.Config{Concurrency: 8})
				badSpace := s.appspaceID
				if tc.otherSpace {
					badSpace = domain.NewPrefixedID("as")
				}
				badURL, badCount := tc.bad(t)
				bad := s.addIn(t, badSpace, badURL, webhooks.Limits{}, webhooks.EventReferralCreated)
				fast := newReceiver(t, nil)
				s.addIn(t, s.appspaceID, fast.url, webhooks.Limits{}, webhooks.EventReferralCreated)
				created := map[string]time.Time{}
				var wg sync.WaitGroup
				wg.Add(1)
				go func() { defer wg.Done(); s.createIn(t, badSpace, n) }() // the bad endpoint's events, interleaved
				for c, at := range s.createIn(t, s.appspaceID, n) {
					created[c] = at
				}
				wg.Wait()
				eventually(t, "every fast delivery", 60*time.Second, func() bool { return len(fast.requests()) >= n })
				attempted := s.count(t, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND attempt_count > 0`, bad.ID)
				if attempted >= n {
					t.Errorf("the bad endpoint had all %d first attempts before the fast one got its deliveries", attempted)
				}
				if badCount != nil && badCount() >= n {
					t.Errorf("the slow endpoint received %d requests before the fast one got its deliveries", badCount())
				}
				t.Logf("bad endpoint: %d deliveries attempted when the fast one had all %d", attempted, n)
				lags(t, created, fast.requests())
			})
		})
	}
}

// TestBacklogDoesNotDelayFreshEvent: with thousands of deliveries due for
// one endpoint (which holds every request until the other endpoint has its
// event), a fresh event for another endpoint is delivered before the
// backlog drains.
func TestBacklogDoesNotDelayFreshEvent(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{Concurrency: 8})
		fresh := make(chan struct{})
		var once sync.Once
		fastRecv := newReceiver(t, func(int) int { once.Do(func() { close(fresh) }); return http.StatusOK })
		backlogRecv := newReceiver(t, func(int) int {
			select {
			case <-fresh:
			case <-time.After(20 * time.Second): // without fairness: the backlog never lets the fresh event out
			}
			return http.StatusOK
		})
		backlog := s.addIn(t, s.appspaceID, backlogRecv.url, webhooks.Limits{}, webhooks.EventReferralCompleted)
		s.addIn(t, s.appspaceID, fastRecv.url, webhooks.Limits{}, webhooks.EventReferralCreated)
		const n = 2000
		s.seedBacklog(t, backlog.ID, "b", n)
		eventually(t, "the backlog is being sent", 10*time.Second, func() bool { return len(backlogRecv.requests()) > 0 })
		s.createIn(t, s.appspaceID, 1)
		eventually(t, "the fresh event delivered", 30*time.Second, func() bool { return len(fastRecv.requests()) == 1 })
		if got := len(backlogRecv.requests()); got >= n {
			t.Errorf("the backlog's %d requests all came before the fresh event", got)
		}
		// Attempts that started before the fresh event arrived: the
		// backlog's are held by its receiver, so at most its cap (the
		// worker's 8 senders at most), and the fresh event's own.
		arrived := fastRecv.requests()[0].At.UnixMilli()
		if got := s.count(t, `SELECT count(*) FROM webhook_attempts WHERE attempted_at < ?`, arrived+1); got > 8+1 {
			t.Errorf("%d attempts started before the fresh event arrived; the backlog holds at most its cap", got)
		}
	})
}

// seedBacklog writes n due deliveries of referral.completed for webhook
// id straight into the table (ids dlv_<tag>1..n), as a backlog.
func (s *stack) seedBacklog(tb testing.TB, id, tag string, n int) {
	tb.Helper()
	seed := `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?)
		INSERT INTO webhook_deliveries (id, appspace_id, webhook_id, event_id, event_type, body, state, attempt_count,
		schedule_from, max_attempts, next_attempt_at, created_at, updated_at)
		SELECT 'dlv_' || ? || i, ?, ?, 'evt_' || ? || i, 'referral.completed', '{}', 'pending', 0, 0, 4, 0, 0, 0 FROM g`
	if _, err := s.db.Exec(s.db.Rebind(seed), n, tag, s.appspaceID, id, tag); err != nil {
		tb.Fatal(err)
	}
}
