package webhooks_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/referral-ledger/referral-ledger/adapters/ssrf"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// TestSecretsAtRest: the secret is shown on create and rotate only, and the
// database holds neither it nor anything it can be read from without the key.
func TestSecretsAtRest(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		wh, secret := s.addWebhook(t, "https://hooks.example.com/in")
		var sealed string
		if err := s.db.Get(&sealed, s.db.Rebind(`SELECT secret_sealed FROM webhooks WHERE id = ?`), wh.ID); err != nil {
			t.Fatal(err)
		}
		encoded := strings.TrimPrefix(secret, "whsec_")
		if strings.Contains(sealed, encoded) || strings.Contains(sealed, encoded[:16]) {
			t.Errorf("the stored secret %q contains the secret", sealed)
		}
		// Another webhook's row cannot lend its ciphertext: it is bound to the id.
		other, _ := s.addWebhook(t, "https://hooks.example.com/other")
		if _, err := s.db.Exec(s.db.Rebind(`UPDATE webhooks SET secret_sealed = ? WHERE id = ?`), sealed, other.ID); err != nil {
			t.Fatal(err)
		}
		if res, err := s.wh.Test(context.Background(), s.appspaceID, other.ID); err == nil {
			t.Errorf("a moved ciphertext signed a test event: %+v", res)
		}
	})
}

// TestRotationGracePeriod: during the grace period requests carry two
// signatures, and receivers holding either secret verify them; after a
// rotation without grace only the new secret verifies.
func TestRotationGracePeriod(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		recv := newReceiver(t, nil)
		wh, old := s.addWebhook(t, recv.url)
		fresh, err := s.wh.RotateSecret(ctx, s.appspaceID, wh.ID, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if fresh == old || !strings.HasPrefix(fresh, "whsec_") {
			t.Fatalf("rotated secret %q", fresh)
		}
		res, err := s.wh.Test(ctx, s.appspaceID, wh.ID)
		if err != nil || !res.Success {
			t.Fatalf("test event: %+v, %v", res, err)
		}
		q := recv.requests()[0]
		if n := len(strings.Fields(q.Header.Get("webhook-signature"))); n != 2 {
			t.Errorf("%d signatures during the grace period, want 2", n)
		}
		for _, secret := range []string{old, fresh} {
			v, _ := standardwebhooks.NewWebhook(secret)
			if err := v.Verify(q.Body, q.Header); err != nil {
				t.Errorf("verify with a secret of the grace period: %v", err)
			}
		}
		verify(t, q, fresh) // X-Webhook-Signature uses the current secret

		newest, err := s.wh.RotateSecret(ctx, s.appspaceID, wh.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.wh.Test(ctx, s.appspaceID, wh.ID); err != nil {
			t.Fatal(err)
		}
		q = recv.requests()[1]
		v, _ := standardwebhooks.NewWebhook(fresh)
		if err := v.Verify(q.Body, q.Header); err == nil {
			t.Error("the replaced secret still verifies after a rotation without grace")
		}
		verify(t, q, newest)
		if _, err := s.wh.RotateSecret(ctx, s.appspaceID, wh.ID, 8*24*time.Hour); domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("an 8-day grace period: %v, want invalid_request", err)
		}
	})
}

// TestValidation refuses bad webhooks with invalid_request and saves nothing.
func TestValidation(t *testing.T) {
	s := newStack(t, "sqlite", webhooks.Config{})
	strict, err := webhooks.New(webhooks.Config{DB: s.db, Events: s.store, Sealer: mustSealer(t)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   webhooks.WebhookInput
	}{
		{name: "no name", in: webhooks.WebhookInput{URL: "https://93.184.216.34/", Events: []string{"referral.created"}}},
		{name: "no events", in: webhooks.WebhookInput{Name: "n", URL: "https://93.184.216.34/"}},
		{name: "unknown event", in: webhooks.WebhookInput{Name: "n", URL: "https://93.184.216.34/", Events: []string{"referral.deleted"}}},
		{name: "test is not subscribable", in: webhooks.WebhookInput{Name: "n", URL: "https://93.184.216.34/", Events: []string{"test"}}},
		{name: "http", in: webhooks.WebhookInput{Name: "n", URL: "http://hooks.example.com/", Events: []string{"referral.created"}}},
		{name: "loopback", in: webhooks.WebhookInput{Name: "n", URL: "https://127.0.0.1/", Events: []string{"referral.created"}}},
		{name: "metadata address", in: webhooks.WebhookInput{Name: "n", URL: "https://169.254.169.254/latest", Events: []string{"referral.created"}}},
		{name: "NUL in name", in: webhooks.WebhookInput{Name: "a\x00b", URL: "https://93.184.216.34/", Events: []string{"referral.created"}}},
		{name: "bidi in name", in: webhooks.WebhookInput{Name: "a\u202eb", URL: "https://93.184.216.34/", Events: []string{"referral.created"}}},
		{name: "long name", in: webhooks.WebhookInput{Name: strings.Repeat("n", 201), URL: "https://93.184.216.34/", Events: []string{"referral.created"}}},
		{name: "long url", in: webhooks.WebhookInput{Name: "n", URL: "https://93.184.216.34/" + strings.Repeat("a", 2048), Events: []string{"referral.created"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := strict.Create(context.Background(), s.appspaceID, tt.in); domain.ErrorCode(err) != domain.EInvalid {
				t.Errorf("create: %v, want invalid_request", err)
			}
		})
	}
	if n := s.count(t, `SELECT count(*) FROM webhooks`); n != 0 {
		t.Errorf("%d webhooks saved", n)
	}
	// The control: a public https address is accepted by the same adapter.
	if _, _, err := strict.Create(context.Background(), s.appspaceID, webhooks.WebhookInput{Name: "n",
		URL: "https://93.184.216.34/hooks", Events: []string{"referral.created", "referral.created"}}); err != nil {
		t.Errorf("a valid webhook was refused: %v", err)
	}
}

func mustSealer(tb testing.TB) *webhooks.Sealer {
	tb.Helper()
	sealer, err := webhooks.NewSealer(testKey)
	if err != nil {
		tb.Fatal(err)
	}
	return sealer
}

// TestManualRetryAndReplay: a failed delivery retried by hand gets one
// more attempt with the same event id; a replay by time range rearms
// delivered events and queues the ones raised before the webhook existed.
func TestManualRetryAndReplay(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{RetrySchedule: []time.Duration{}})
		ctx := context.Background()
		start := time.Now().Add(-time.Second)
		if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "early"}); err != nil {
			t.Fatal(err)
		}
		var healthy atomic.Bool
		recv := newReceiver(t, func(int) int {
			if healthy.Load() {
				return http.StatusOK
			}
			return http.StatusInternalServerError
		})
		time.Sleep(5 * time.Millisecond)
		wh, _ := s.addWebhook(t, recv.url, webhooks.EventReferralCreated)
		if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "late"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the delivery failed (no retries configured)", 10*time.Second, func() bool {
			ds := s.deliveries(t, wh.ID)
			return len(ds) == 1 && ds[0].State == "failed"
		})
		d := s.deliveries(t, wh.ID)[0]
		if _, err := s.wh.Retry(ctx, s.appspaceID, wh.ID, d.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the manual retry's attempt", 10*time.Second, func() bool {
			ds := s.deliveries(t, wh.ID)
			return ds[0].AttemptCount == 2 && ds[0].State == "failed"
		})
		if _, err := s.wh.Retry(ctx, s.appspaceID, wh.ID, "dlv_nope"); domain.ErrorCode(err) != domain.ENotFound {
			t.Errorf("retry of an unknown delivery: %v", err)
		}
		healthy.Store(true)
		n, err := s.wh.Replay(ctx, s.appspaceID, wh.ID, webhooks.ReplayInput{Since: start, Until: time.Now().Add(time.Second)})
		if err != nil || n != 2 {
			t.Fatalf("replay queued %d, %v; want 2 (the early event and the failed one)", n, err)
		}
		eventually(t, "both replayed deliveries succeeded", 10*time.Second, func() bool {
			ds := s.deliveries(t, wh.ID)
			return len(ds) == 2 && ds[0].State == "succeeded" && ds[1].State == "succeeded"
		})
		reqs := recv.requests()
		ids := map[string]int{}
		for _, q := range reqs {
			ids[q.Header.Get("webhook-id")]++
		}
		if len(ids) != 2 || ids[d.EventID] != 3 {
			t.Errorf("requests per event id %v: want the failed event 3 times (attempt, retry, replay) and the early one once", ids)
		}
		if _, err := s.wh.Replay(ctx, s.appspaceID, wh.ID, webhooks.ReplayInput{Since: time.Now(), Until: start}); domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("replay with since after until: %v", err)
		}
	})
}

// TestCancelledLookupIsNotInvalid: a URL check cut short by the caller's
// context is the context's error, not a refusal of the URL.
func TestCancelledLookupIsNotInvalid(t *testing.T) {
	s := newStack(t, "sqlite", webhooks.Config{})
	// A resolver that sends nothing and waits for the context.
	blocked := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	strict, err := webhooks.New(webhooks.Config{DB: s.db, Events: s.store, Sealer: mustSealer(t), Guard: ssrf.Guard{Resolver: blocked}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err = strict.Create(ctx, s.appspaceID, webhooks.WebhookInput{Name: "n", URL: "https://hooks.example.com/",
		Events: []string{"referral.created"}})
	if !errors.Is(err, context.Canceled) || domain.ErrorCode(err) == domain.EInvalid {
		t.Errorf("create with a cancelled lookup: %v, want context.Canceled and no invalid_request", err)
	}
	// A refusal reads as one error, not a coded error wrapped in another.
	_, _, err = strict.Create(context.Background(), s.appspaceID, webhooks.WebhookInput{Name: "n", URL: "ftp://x/",
		Events: []string{"referral.created"}})
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.EInvalid || strings.Contains(de.Message, domain.EInvalid) {
		t.Errorf("refusal: %v", err)
	}
}
