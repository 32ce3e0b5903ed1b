package webhooks_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
)

// concurrencyReceiver counts the requests it holds at once per sender
// (the User-Agent names the replica) and the requests per webhook-id;
// hold decides how long each request is held.
type concurrencyReceiver struct {
	mu      sync.Mutex
	now     map[string]int // in flight per User-Agent
	peak    map[string]int
	peakAll int
	all     int
	perID   map[string]int
	hold    func()
	url     string
}

func newConcurrencyReceiver(tb testing.TB, hold func()) *concurrencyReceiver {
	tb.Helper()
	r := &concurrencyReceiver{now: map[string]int{}, peak: map[string]int{}, perID: map[string]int{}, hold: hold}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		ua := req.Header.Get("User-Agent")
		r.mu.Lock()
		r.now[ua]++
		r.all++
		r.peak[ua] = max(r.peak[ua], r.now[ua])
		r.peakAll = max(r.peakAll, r.all)
		r.perID[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		r.hold()
		r.mu.Lock()
		r.now[ua]--
		r.all--
		r.mu.Unlock()
	}))
	tb.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks"
	return r
}

// received returns the requests per webhook-id so far.
func (r *concurrencyReceiver) received() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.perID))
	for k, v := range r.perID {
		out[k] = v
	}
	return out
}

// TestReplicasIsolateSlowEndpoint runs two replicas on one PostgreSQL
// database beside an endpoint that holds every request until a fast
// endpoint has all its events: the fast one gets them all, the slow one
// never has more than its max_in_flight from each replica, and after the
// slow one is released every event reaches each endpoint exactly once.
func TestReplicasIsolateSlowEndpoint(t *testing.T) {
	t.Parallel()
	const n, maxInFlight = 60, 2
	a := newStack(t, "postgres", webhooks.Config{Concurrency: 8, Timeout: 40 * time.Second, Version: "replica-a"})
	b := &stack{store: a.store, db: a.db, read: a.read, svc: a.svc, appspaceID: a.appspaceID, cfg: a.cfg}
	b.cfg.Version = "replica-b"
	b.start(t)
	release := make(chan struct{})
	slow := newConcurrencyReceiver(t, func() {
		select {
		case <-release:
		case <-time.After(30 * time.Second): // without isolation the fast endpoint waits for this
		}
	})
	fast := newConcurrencyReceiver(t, func() {})
	a.addIn(t, a.appspaceID, slow.url, webhooks.Limits{MaxInFlight: ptr(maxInFlight)}, webhooks.EventReferralCreated)
	a.addIn(t, a.appspaceID, fast.url, webhooks.Limits{}, webhooks.EventReferralCreated)
	a.createIn(t, a.appspaceID, n/2)
	eventually(t, "the slow endpoint holds requests", 10*time.Second, func() bool { return len(slow.received()) > 0 })
	// Fresh events, dispatched and claimed while the slow requests are open.
	b.createIn(t, b.appspaceID, n-n/2)
	eventually(t, "every fast delivery while the slow endpoint holds its requests", 25*time.Second, func() bool {
		return len(fast.received()) >= n
	})
	slowSeen := len(slow.received())
	close(release)
	eventually(t, "every slow delivery after the release", 30*time.Second, func() bool { return len(slow.received()) >= n })
	time.Sleep(300 * time.Millisecond) // a duplicate would arrive now
	if slowSeen > 2*maxInFlight {
		t.Errorf("the slow endpoint received %d requests while it held them; two replicas allow %d", slowSeen, 2*maxInFlight)
	}
	slow.mu.Lock()
	for ua, p := range slow.peak {
		if p > maxInFlight {
			t.Errorf("%s had %d requests in flight to the slow endpoint, max_in_flight %d", ua, p, maxInFlight)
		}
	}
	if len(slow.peak) != 2 {
		t.Errorf("the slow endpoint heard from %d replicas, want 2: %v", len(slow.peak), slow.peak)
	}
	slow.mu.Unlock()
	for name, r := range map[string]*concurrencyReceiver{"slow": slow, "fast": fast} {
		got := r.received()
		if len(got) != n {
			t.Errorf("%s endpoint: %d distinct events, want %d", name, len(got), n)
		}
		for id, c := range got {
			if c != 1 {
				t.Errorf("%s endpoint: event %s received %d times", name, id, c)
			}
		}
	}
}
