package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// stack is a ledger with its webhook pipeline running: the forwarder under
// a projections runner, the dispatcher and the worker.
type stack struct {
	store      domain.EventStore
	db, read   *sqlx.DB
	svc        *domain.Service
	wh         *webhooks.Webhooks
	appspaceID string
	cfg        webhooks.Config
	stop       func()
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

// newStack opens a store of kind and starts the pipeline with cfg's
// schedule and timeout (private targets allowed: the receivers are local).
func newStack(tb testing.TB, kind string, cfg webhooks.Config) *stack {
	tb.Helper()
	store, db, read := storetest.Open(tb, kind)
	s := &stack{store: store, db: db, read: read, svc: domain.NewService(store, domain.ServiceConfig{}),
		appspaceID: domain.NewPrefixedID("as")}
	sealer, err := webhooks.NewSealer(testKey)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.DB, cfg.ReadDB, cfg.Events, cfg.Sealer = db, read, store, sealer
	cfg.Guard.AllowPrivate = true
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	s.cfg = cfg
	s.start(tb)
	return s
}

// start runs the forwarder, dispatcher and worker until stop (or cleanup).
func (s *stack) start(tb testing.TB) {
	tb.Helper()
	wh, err := webhooks.New(s.cfg)
	if err != nil {
		tb.Fatal(err)
	}
	s.wh = wh
	runner, err := projections.NewRunner(s.store, s.db, wh.Forwarder(), projections.RunnerConfig{Name: "webhooks"})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{runner.Run, wh.Run} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx); err != nil {
				tb.Error(err)
			}
		}()
	}
	var once sync.Once
	s.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	tb.Cleanup(s.stop)
}

func (s *stack) origin() domain.Origin {
	return domain.Origin{AppspaceID: s.appspaceID, RequestID: domain.NewID()}
}

// addWebhook saves a webhook for url and returns it and its secret.
func (s *stack) addWebhook(tb testing.TB, url string, events ...string) (webhooks.Webhook, string) {
	tb.Helper()
	if len(events) == 0 {
		events = webhooks.EventTypes
	}
	wh, secret, err := s.wh.Create(context.Background(), s.appspaceID, webhooks.WebhookInput{Name: "test", URL: url, Events: events})
	if err != nil {
		tb.Fatal(err)
	}
	return wh, secret
}

// deliveries returns a webhook's delivery log, oldest first.
func (s *stack) deliveries(tb testing.TB, webhookID string) []webhooks.Delivery {
	tb.Helper()
	ds, err := s.wh.Deliveries(context.Background(), s.appspaceID, webhookID, 500, "")
	if err != nil {
		tb.Fatal(err)
	}
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	return ds
}

// request is what a receiver got.
type request struct {
	Header http.Header
	Body   []byte
	At     time.Time
}

// receiver is a local webhook endpoint; status picks each answer (n counts
// the requests so far, from 1).
type receiver struct {
	mu     sync.Mutex
	got    []request
	status func(n int) int
	url    string
}

func newReceiver(tb testing.TB, status func(n int) int) *receiver {
	tb.Helper()
	return newReceiverWith(tb, status, nil)
}

// newReceiverWith is newReceiver whose answers also get header's headers.
func newReceiverWith(tb testing.TB, status func(n int) int, header func(http.Header)) *receiver {
	tb.Helper()
	r := &receiver{status: status}
	if r.status == nil {
		r.status = func(int) int { return http.StatusOK }
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, request{Header: req.Header.Clone(), Body: body, At: time.Now()})
		n := len(r.got)
		r.mu.Unlock()
		if header != nil {
			header(w.Header())
		}
		w.WriteHeader(r.status(n))
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	tb.Cleanup(srv.Close)
	r.url = srv.URL + "/hooks"
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// byEvent returns the requests of one event type.
func (r *receiver) byEvent(event string) []request {
	var out []request
	for _, q := range r.requests() {
		if q.Header.Get("X-Webhook-Event") == event {
			out = append(out, q)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, what string, within time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// body decodes a webhook request body.
func body(tb testing.TB, q request) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(q.Body, &m); err != nil {
		tb.Fatalf("body %s: %v", q.Body, err)
	}
	return m
}

func ptr[T any](v T) *T { return &v }
