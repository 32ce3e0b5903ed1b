package webhooks

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
)

// A chain of claimed deliveries goes out one after the other on its slot
// while the endpoint answers 2xx; the first failure ends it: the rest is
// handed back unattempted (released when recorded) and the slot stays
// taken until the failure is recorded, so the breaker sees it first.
func TestChainStopsAtTheFirstFailure(t *testing.T) {
	t.Parallel()
	got, requests, w := runChain(t, 2) // the second request and later fail
	if len(got) != 2 || requests != 2 {
		t.Fatalf("%d outcomes, %d requests; want 2 and 2 (a success, then a failure that ends the chain)", len(got), requests)
	}
	if o := got[0]; !o.at.Success || !o.freed || len(o.release) != 0 {
		t.Errorf("first: success %v, freed %v, release %d; want a success whose slot passed on, nothing released",
			o.at.Success, o.freed, len(o.release))
	}
	if o := got[1]; o.at.Success || o.freed || len(o.release) != 1 || o.release[0].ID != "c" {
		t.Errorf("second: success %v, freed %v, release %v; want a failure keeping its slot, releasing c",
			o.at.Success, o.freed, o.release)
	}
	if busy := w.ends.busy(); busy != 1 {
		t.Errorf("%d in flight after the chain, want 1 (the failure's slot frees when it is recorded)", busy)
	}
}

// A chain that succeeds throughout frees its slot when its last request ends.
func TestChainOfSuccessesFreesItsSlot(t *testing.T) {
	t.Parallel()
	got, requests, w := runChain(t, 100)
	if len(got) != 3 || requests != 3 {
		t.Fatalf("%d outcomes, %d requests; want 3 and 3", len(got), requests)
	}
	for i, o := range got {
		if !o.at.Success || !o.freed || len(o.release) != 0 {
			t.Errorf("%d: success %v, freed %v, release %d; want a success, nothing released", i, o.at.Success, o.freed, len(o.release))
		}
	}
	if busy := w.ends.busy(); busy != 0 {
		t.Errorf("%d in flight after the chain, want 0", busy)
	}
}

// runChain sends a chain of three deliveries of one endpoint that answers
// 500 from its failFrom-th request on, and returns the outcomes in order
// and the requests the endpoint received.
func runChain(t *testing.T, failFrom int32) ([]outcome, int32, *worker) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1) >= failFrom {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	c := &core{log: slog.New(slog.DiscardHandler), now: time.Now, ends: newEndpoints(), freed: make(chan struct{}, 1)}
	c.deliver = &deliverer{w: c, client: ssrf.Guard{AllowPrivate: true}.Client(5 * time.Second)}
	w := &worker{core: c}
	chain := make([]due, 3)
	for i := range chain {
		chain[i] = due{ID: string(rune('a' + i)), WebhookID: "wh", url: srv.URL, secrets: []string{SecretPrefix + "c2VjcmV0"},
			EventType: "referral.created", EventID: "evt", Body: "{}", MaxAttempts: 4}
	}
	w.ends.start("wh", 1)
	results := make(chan outcome, len(chain))
	w.send(context.Background(), chain, results)
	close(results)
	var got []outcome
	for o := range results {
		got = append(got, o)
	}
	return got, n.Load(), w
}
