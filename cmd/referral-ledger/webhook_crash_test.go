package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestWebhookScheduleSurvivesSIGKILL kills serve (SIGKILL) twice while
// deliveries are in the middle of their retry schedule (a receiver that
// fails each event's first two requests). After the restarts every event
// is delivered, no delivery is lost, and each event's requests all carry
// the same webhook-id.
func TestWebhookScheduleSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	for _, profile := range serveProfiles {
		t.Run(profile.name, func(t *testing.T) {
			t.Parallel()
			// The receiver fails 40 requests in a row (two per event) on
			// purpose: this test is about the retry schedule, so the circuit
			// breaker (which would pause the endpoint after 5 failures and
			// let one probe through per cooling) is set above that streak.
			env := append(profile.env(t), "LEDGER_RATE_LIMIT=0", "LEDGER_WEBHOOK_ALLOW_PRIVATE=true",
				"LEDGER_WEBHOOK_RETRY_SCHEDULE=700ms,700ms,700ms", "LEDGER_WEBHOOK_TIMEOUT=2s",
				"LEDGER_WEBHOOK_BREAKER_THRESHOLD=100")
			recv := newFlakyReceiver(t, 2)
			addr := freeAddr(t)
			srv, key := startServeEnv(t, bin, env, addr)
			if err := postWant(addr, key, "/v1/api/webhooks", map[string]any{"name": "crash", "url": recv.url,
				"events": []string{"referral.created"}}, nil, http.StatusCreated); err != nil {
				t.Fatal(err)
			}
			const n = 20
			for i := range n {
				if err := post(addr, key, "/v1/api/referral/create", map[string]any{"user_id": fmt.Sprintf("u%02d", i)}, nil); err != nil {
					t.Fatal(err)
				}
			}
			for kill := range 2 {
				// Kill once the receiver has refused some requests: their
				// retries are scheduled, not yet made.
				want := (kill + 1) * n / 2
				deadline := time.Now().Add(30 * time.Second)
				for recv.total() < want && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				if err := srv.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				_ = srv.Wait()
				srv = restartServe(t, bin, env, addr)
			}
			deadline := time.Now().Add(60 * time.Second)
			for recv.succeeded() < n {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d events delivered; requests per webhook-id: %v", recv.succeeded(), n, recv.counts())
				}
				time.Sleep(20 * time.Millisecond)
			}
			for id, c := range recv.counts() {
				if c < 3 {
					t.Errorf("event %s: %d requests; a success needs 3 against this receiver", id, c)
				}
			}
			if len(recv.counts()) != n {
				t.Errorf("%d distinct webhook-ids, want %d (one per event)", len(recv.counts()), n)
			}
			if !recv.idsMatchBodies() {
				t.Error("a request's webhook-id differs from its body's id")
			}
		})
	}
}

// flakyReceiver fails each webhook-id's first fails requests.
type flakyReceiver struct {
	mu      sync.Mutex
	fails   int
	byID    map[string]int
	ok      map[string]bool
	badID   bool
	url     string
	allSeen int
}

func newFlakyReceiver(tb testing.TB, fails int) *flakyReceiver {
	r := &flakyReceiver{fails: fails, byID: map[string]int{}, ok: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			ID string `json:"id"`
		}
		raw, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(raw, &body)
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.allSeen++
		r.byID[id]++
		if body.ID != id {
			r.badID = true
		}
		if r.byID[id] <= r.fails {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.ok[id] = true
	}))
	tb.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks"
	return r
}

func (r *flakyReceiver) total() int { r.mu.Lock(); defer r.mu.Unlock(); return r.allSeen }

func (r *flakyReceiver) succeeded() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.ok) }

func (r *flakyReceiver) idsMatchBodies() bool { r.mu.Lock(); defer r.mu.Unlock(); return !r.badID }

func (r *flakyReceiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byID))
	for k, v := range r.byID {
		out[k] = v
	}
	return out
}
