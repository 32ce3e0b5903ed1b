package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// stack is the API over a real store, with a clock the test moves.
type stack struct {
	url    string
	key    string // server key of appspace "default"
	space  string // its ID
	access *sqlstore.Access
	store  domain.EventStore
	runner *projections.Runner
	// webhooks serves the webhook endpoints (private targets allowed, for
	// local receivers); its pipeline runs only where a test starts it.
	webhooks *webhooks.Webhooks
	write    *sqlx.DB
	api      *httpapi.Server

	mu     sync.Mutex
	offset time.Duration
}

func (s *stack) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Add(s.offset)
}

// advance moves the service's clock forward.
func (s *stack) advance(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
}

// sequential hides a store's MultiAppender, so the service appends stream
// by stream as it must on EventStoreDB: the invariants must hold without a
// multi-stream transaction too.
type sequential struct{ domain.EventStore }

// forEachStore runs f as a parallel subtest on SQLite, on PostgreSQL, and on
// SQLite without multi-stream appends.
func forEachStore(t *testing.T, f func(t *testing.T, s *stack)) {
	t.Helper()
	storetest.ForKinds(t, append(storetest.Kinds, "sqlite-sequential"), func(t *testing.T, kind string) {
		f(t, newStack(t, kind))
	})
}

func newStack(tb testing.TB, kind string, cfg ...httpapi.Config) *stack {
	tb.Helper()
	return newWrappedStack(tb, kind, nil, cfg...)
}

// newWrappedStack is newStack whose service appends and reads through
// wrap(store) (when wrap is not nil); the projections and the test's own
// reads use the store itself.
func newWrappedStack(tb testing.TB, kind string, wrap func(domain.EventStore) domain.EventStore, cfg ...httpapi.Config) *stack {
	tb.Helper()
	s := &stack{}
	var write, read *sqlx.DB
	s.store, write, read = storetest.Open(tb, strings.TrimSuffix(kind, "-sequential"))
	if kind == "sqlite-sequential" {
		s.store = sequential{s.store}
	}
	s.access = sqlstore.NewAccess(write, read)
	svcStore := s.store
	if wrap != nil {
		svcStore = wrap(s.store)
	}
	svc := domain.NewService(svcStore, domain.ServiceConfig{Now: s.now})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	readModels := projections.NewReferrals(read)
	runner, err := projections.NewRunner(s.store, write, readModels, projections.RunnerConfig{Name: projections.ReferralsName})
	if err != nil {
		tb.Fatal(err)
	}
	s.runner = runner
	c := append(cfg, httpapi.Config{})[0]
	c.ReadModels = readModels
	sealer, err := webhooks.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	s.webhooks, err = webhooks.New(webhooks.Config{DB: write, ReadDB: read, Events: s.store, Sealer: sealer,
		Guard: ssrf.Guard{AllowPrivate: true}, PollInterval: 20 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	s.write, c.Webhooks = write, s.webhooks
	// The server the binary runs: the API's own http.Server, timeouts included.
	srv := httptest.NewUnstartedServer(nil)
	s.api = httpapi.New(svc, s.access, log, c)
	srv.Config = s.api.HTTPServer()
	srv.Start()
	tb.Cleanup(srv.Close)
	s.url = srv.URL
	validateTraffic(tb, s.url) // every request and response against the OpenAPI document
	s.space, s.key = s.newAppspace(tb, "default", domain.RoleServer)
	return s
}

// newAppspace creates an appspace and a key of role for it.
func (s *stack) newAppspace(tb testing.TB, name, role string) (id, key string) {
	tb.Helper()
	as, err := s.access.CreateAppspace(context.Background(), name)
	if err != nil {
		tb.Fatal(err)
	}
	return as.ID, s.newKey(tb, as.ID, role)
}

func (s *stack) newKey(tb testing.TB, appspace, role string) string {
	tb.Helper()
	_, key, err := s.access.CreateKey(context.Background(), appspace, role, "test")
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// call sends a request with key and returns the status and decoded body.
func (s *stack) call(tb testing.TB, key, method, path string, body any) (int, map[string]any) {
	tb.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			tb.Errorf("%s %s: body %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, out
}

// get sends a GET with key and an Accept header (if not empty) and returns
// the response, body unread, closed when the test ends.
func (s *stack) get(tb testing.TB, ctx context.Context, key, path, accept string) *http.Response {
	tb.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", s.url+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("X-API-Key", key)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { resp.Body.Close() })
	return resp
}

// must sends a request with the stack's server key and fails unless it
// returns want.
func (s *stack) must(tb testing.TB, want int, method, path string, body any) map[string]any {
	tb.Helper()
	status, out := s.call(tb, s.key, method, path, body)
	if status != want {
		tb.Fatalf("%s %s: status %d %v, want %d", method, path, status, out, want)
	}
	return out
}

// wantError checks an error response's status and code.
func wantError(tb testing.TB, status int, out map[string]any, wantStatus int, wantCode string) {
	tb.Helper()
	if status != wantStatus || out["code"] != wantCode {
		tb.Errorf("got %d %v, want %d with code %q", status, out, wantStatus, wantCode)
	}
}

// events reads the whole global log of appspace. It first appends a
// sentinel event outside the appspace and reads until it sees it: a store
// may hold back events of transactions that commit out of order (the
// PostgreSQL log does, while any transaction is open), and everything this
// test wrote committed before the sentinel.
func (s *stack) events(tb testing.TB, appspace string) []domain.RecordedEvent {
	tb.Helper()
	return s.eventsAfter(tb, appspace, 0)
}

// eventsAfter is events from a position on: a caller that keeps its place
// reads only what is new.
func (s *stack) eventsAfter(tb testing.TB, appspace string, after domain.Position) []domain.RecordedEvent {
	tb.Helper()
	ctx := context.Background()
	sentinel := domain.NewID()
	_, err := s.store.Append(ctx, "sentinel:"+sentinel, domain.NoStream(), domain.EventData{ID: sentinel, Type: "Sentinel", Data: []byte("{}"), Metadata: []byte("{}")})
	if err != nil {
		tb.Fatal(err)
	}
	var all []domain.RecordedEvent
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		batch, err := s.store.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: 500})
		if err != nil {
			tb.Fatal(err)
		}
		if len(batch) == 0 {
			waitCtx, cancel := context.WithTimeout(ctx, time.Second)
			_ = s.store.WaitForEvents(waitCtx, domain.ReadAllOptions{After: after})
			cancel()
			continue
		}
		for _, e := range batch {
			if e.ID == sentinel {
				return all
			}
			if strings.HasPrefix(e.Stream, domain.StreamPrefix(appspace)) {
				all = append(all, e)
			}
		}
		after = batch[len(batch)-1].Position
	}
	tb.Fatal("the sentinel event never showed in the global log")
	return nil
}

// project brings the read models up to date with everything written so far.
func (s *stack) project(tb testing.TB) {
	tb.Helper()
	s.events(tb, s.space) // every event written so far is readable in the log
	for {
		n, err := s.runner.Step(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

// countEvents counts the log's events of type typ whose data matches (nil
// matches all).
func (s *stack) countEvents(tb testing.TB, appspace, typ string, match func(data map[string]any) bool) int {
	tb.Helper()
	n := 0
	for _, e := range s.events(tb, appspace) {
		if e.Type != typ {
			continue
		}
		var data map[string]any
		if err := json.Unmarshal(e.Data, &data); err != nil {
			tb.Fatal(err)
		}
		if match == nil || match(data) {
			n++
		}
	}
	return n
}

// setSettings replaces settings fields.
func (s *stack) setSettings(tb testing.TB, fields map[string]any) {
	tb.Helper()
	s.must(tb, http.StatusOK, "PUT", "/v1/api/referral/settings", fields)
}

// create issues a code for referrer and returns it.
func (s *stack) create(tb testing.TB, referrer string) string {
	tb.Helper()
	out := s.must(tb, http.StatusOK, "POST", "/v1/api/referral/create", map[string]any{"user_id": referrer})
	return out["referral_code"].(string)
}

// parallel runs f(i) for i in [0,n) at once and waits.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// equalJSON compares two decoded JSON values.
func equalJSON(a, b any) bool {
	ra, errA := json.Marshal(a)
	rb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ra, rb)
}
