package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// hookReceiver records the bodies and signatures it gets.
type hookReceiver struct {
	mu   sync.Mutex
	got  []hookRequest
	url  string
	code int
}

type hookRequest struct {
	body      []byte
	signature string
}

func newHookReceiver(tb testing.TB) *hookReceiver {
	r := &hookReceiver{code: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{body: b, signature: req.Header.Get("X-Webhook-Signature")})
		r.mu.Unlock()
		w.WriteHeader(r.code)
	}))
	tb.Cleanup(srv.Close)
	r.url = srv.URL + "/webhooks/referrals"
	return r
}

func (r *hookReceiver) requests() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.got...)
}

// TestWebhookEndpoints walks every webhook endpoint of the API.
func TestWebhookEndpoints(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *stack) {
		recv := newHookReceiver(t)
		created := s.must(t, http.StatusCreated, "POST", "/v1/api/webhooks", map[string]any{
			"name": "backend", "url": recv.url, "events": []string{"referral.created", "referral.completed"}, "active": true})
		id, secret := created["id"].(string), created["secret"].(string)
		if len(secret) < 40 || secret[:6] != "whsec_" || created["active"] != true {
			t.Fatalf("created %v", created)
		}
		list := s.must(t, http.StatusOK, "GET", "/v1/api/webhooks", nil)
		hooks := list["webhooks"].([]any)
		if len(hooks) != 1 || hooks[0].(map[string]any)["id"] != id {
			t.Fatalf("list %v", list)
		}
		for _, h := range []map[string]any{hooks[0].(map[string]any), s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id, nil)} {
			if _, ok := h["secret"]; ok {
				t.Errorf("a read shows the secret: %v", h)
			}
		}
		patched := s.must(t, http.StatusOK, "PATCH", "/v1/api/webhooks/"+id, map[string]any{"name": "renamed", "active": false})
		if patched["name"] != "renamed" || patched["active"] != false || patched["url"] != recv.url {
			t.Errorf("patched %v", patched)
		}
		// The test event goes even to an inactive webhook, signed with the unchanged secret.
		res := s.must(t, http.StatusOK, "POST", "/v1/api/webhooks/"+id+"/test", nil)
		if res["success"] != true || res["status_code"] != float64(200) || res["error"] != nil {
			t.Errorf("test event: %v", res)
		}
		got := recv.requests()
		if len(got) != 1 {
			t.Fatalf("%d requests after the test event", len(got))
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(got[0].body)
		if got[0].signature != hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("the test event is not signed with the secret shown at creation")
		}
		log := s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id+"/deliveries?limit=10", nil)["deliveries"].([]any)
		if len(log) != 1 {
			t.Fatalf("delivery log %v", log)
		}
		d := log[0].(map[string]any)
		if d["event"] != "test" || d["state"] != "succeeded" || len(d["attempts"].([]any)) != 1 {
			t.Errorf("delivery %v", d)
		}
		if n := len(s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id+"/deliveries?status=failed", nil)["deliveries"].([]any)); n != 0 {
			t.Errorf("%d failed deliveries", n)
		}
		retried := s.must(t, http.StatusAccepted, "POST", "/v1/api/webhooks/"+id+"/deliveries/"+d["id"].(string)+"/retry", nil)
		if retried["event_id"] != d["event_id"] || retried["state"] != "pending" {
			t.Errorf("retried %v", retried)
		}
		rotated := s.must(t, http.StatusOK, "POST", "/v1/api/webhooks/"+id+"/rotate-secret", nil)
		if rotated["secret"] == secret || rotated["secret"] == nil {
			t.Errorf("rotated %v", rotated)
		}
		status, out := s.call(t, s.key, "POST", "/v1/api/webhooks/"+id+"/rotate-secret", map[string]any{"grace_seconds": -1})
		wantError(t, status, out, http.StatusBadRequest, domain.EInvalid)
		status, out = s.call(t, s.key, "POST", "/v1/api/webhooks/"+id+"/replay", map[string]any{
			"since": time.Now().Add(-time.Hour), "until": time.Now()})
		wantError(t, status, out, http.StatusBadRequest, domain.EInvalid) // inactive
		s.must(t, http.StatusOK, "PATCH", "/v1/api/webhooks/"+id, map[string]any{"active": true})
		s.create(t, "replayed-user")
		s.events(t, s.space) // the PostgreSQL log shows an event once older transactions end
		replay := s.must(t, http.StatusAccepted, "POST", "/v1/api/webhooks/"+id+"/replay", map[string]any{
			"since": time.Now().Add(-time.Hour), "until": time.Now().Add(time.Minute)})
		if replay["queued"] != float64(1) {
			t.Errorf("replay %v, want one event queued", replay)
		}

		for _, bad := range []map[string]any{
			{"name": "x", "url": recv.url, "events": []string{"referral.created"}, "secret": "mine"},
			{"name": "x", "url": "ftp://example.com/", "events": []string{"referral.created"}},
			{"name": "x", "url": recv.url, "events": []string{}},
			{"url": recv.url, "events": []string{"referral.created"}},
		} {
			status, out := s.call(t, s.key, "POST", "/v1/api/webhooks", bad)
			wantError(t, status, out, http.StatusBadRequest, domain.EInvalid)
		}
		s.must(t, http.StatusNoContent, "DELETE", "/v1/api/webhooks/"+id, nil)
		status, out = s.call(t, s.key, "GET", "/v1/api/webhooks/"+id, nil)
		wantError(t, status, out, http.StatusNotFound, domain.ENotFound)
	})
}

// TestWebhooksStayInTheirAppspace: another appspace's key sees none of the
// webhooks and can change nothing (invariant 10); a key without
// webhooks:manage is refused.
func TestWebhooksStayInTheirAppspace(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *stack) {
		recv := newHookReceiver(t)
		id := s.must(t, http.StatusCreated, "POST", "/v1/api/webhooks", map[string]any{
			"name": "mine", "url": recv.url, "events": []string{"referral.created"}})["id"].(string)
		_, otherKey := s.newAppspace(t, "other", domain.RoleServer)
		if hooks := s.callOK(t, otherKey, "GET", "/v1/api/webhooks")["webhooks"].([]any); len(hooks) != 0 {
			t.Errorf("the other appspace lists %v", hooks)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/api/webhooks/" + id},
			{"PATCH", "/v1/api/webhooks/" + id},
			{"DELETE", "/v1/api/webhooks/" + id},
			{"POST", "/v1/api/webhooks/" + id + "/rotate-secret"},
			{"POST", "/v1/api/webhooks/" + id + "/test"},
			{"GET", "/v1/api/webhooks/" + id + "/deliveries"},
			{"POST", "/v1/api/webhooks/" + id + "/deliveries/dlv_x/retry"},
			{"POST", "/v1/api/webhooks/" + id + "/replay"},
		} {
			var body any
			switch c.path[len(c.path)-6:] {
			case "replay":
				body = map[string]any{"since": time.Now().Add(-time.Hour), "until": time.Now()}
			}
			if c.method == "PATCH" {
				body = map[string]any{"active": false}
			}
			status, out := s.call(t, otherKey, c.method, c.path, body)
			wantError(t, status, out, http.StatusNotFound, domain.ENotFound)
		}
		if len(recv.requests()) != 0 {
			t.Error("another appspace's key made the webhook send")
		}
		if got := s.must(t, http.StatusOK, "GET", "/v1/api/webhooks/"+id, nil); got["active"] != true {
			t.Errorf("the webhook changed: %v", got)
		}
		analyst := s.newKey(t, s.space, domain.RoleAnalyst)
		status, out := s.call(t, analyst, "GET", "/v1/api/webhooks", nil)
		wantError(t, status, out, http.StatusForbidden, domain.EForbidden)
	})
}

// callOK sends a request with key and fails unless it answers 200.
func (s *stack) callOK(tb testing.TB, key, method, path string) map[string]any {
	tb.Helper()
	status, out := s.call(tb, key, method, path, nil)
	if status != http.StatusOK {
		tb.Fatalf("%s %s: %d %v", method, path, status, out)
	}
	return out
}

// TestAuditShowsDeliveries: the audit trail of a referral lists its
// webhook deliveries once the pipeline has run.
func TestAuditShowsDeliveries(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *stack) {
		recv := newHookReceiver(t)
		s.must(t, http.StatusCreated, "POST", "/v1/api/webhooks", map[string]any{
			"name": "audit", "url": recv.url, "events": []string{"referral.created"}})
		forwarder, err := projections.NewRunner(s.store, s.write, s.webhooks.Forwarder(), projections.RunnerConfig{Name: "webhooks"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, run := range []func(context.Context) error{forwarder.Run, s.webhooks.Run} {
			wg.Add(1)
			go func() { defer wg.Done(); _ = run(ctx) }()
		}
		t.Cleanup(func() { cancel(); wg.Wait() })
		code := s.create(t, "audited")
		deadline := time.Now().Add(10 * time.Second)
		for {
			audit := s.must(t, http.StatusOK, "GET", "/v1/api/audit/referrals/"+code, nil)
			ds := audit["deliveries"].([]any)
			if len(ds) == 1 && ds[0].(map[string]any)["state"] == "succeeded" {
				if ds[0].(map[string]any)["event"] != "referral.created" {
					t.Errorf("audit delivery %v", ds[0])
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("audit deliveries %v", ds)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
