package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The Standard Webhooks test vector, from TestWebhookSign in
// github.com/standard-webhooks/standard-webhooks libraries/go/webhook_test.go
// (module .../libraries v0.0.1); the same values are in the C#, Java and
// Elixir library tests.
const (
	vectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorUnix   = 1614265330
	vectorBody   = `{"test": 2432232314}`
	vectorWant   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignStandardSpecVector(t *testing.T) {
	t.Parallel()
	got, err := SignStandard([]string{vectorSecret}, vectorID, time.Unix(vectorUnix, 0), []byte(vectorBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorWant {
		t.Errorf("SignStandard = %q, want %q", got, vectorWant)
	}
}

func TestSignHex(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"evt_1","event":"referral.completed","timestamp":"2026-01-02T03:04:05Z","data":{"referral_code":"ABC123"}}`)
	// Computed with Node: crypto.createHmac('sha256', secret).update(body).digest('hex'),
	// the seed's Express receiver, and with openssl dgst -sha256 -hmac.
	const node = "9ad107cd8d8e64767659f06cca7e433df83d44902671aafc279ce3b07d814c1c"
	if got := SignHex(vectorSecret, body); got != node {
		t.Errorf("SignHex = %s, want %s", got, node)
	}

	secret := mustSecret(t)
	mac := hmac.New(sha256.New, []byte(secret)) // the whole string, prefix included
	mac.Write(body)
	if got, want := SignHex(secret, body), hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("SignHex = %s, want %s", got, want)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := mustSecret(t), mustSecret(t)
	if a == b {
		t.Fatalf("two secrets are equal: %s", a)
	}
	for _, s := range []string{a, b} {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
		if !strings.HasPrefix(s, SecretPrefix) || err != nil || len(key) != 32 {
			t.Errorf("secret %q: want %s + base64 of 32 bytes (decode error %v, %d bytes)", s, SecretPrefix, err, len(key))
		}
	}
}

func TestSignVerifiedByStandardWebhooksLibrary(t *testing.T) {
	t.Parallel()
	current, previous, stranger := mustSecret(t), mustSecret(t), mustSecret(t)
	body := []byte(`{"id":"evt_2","event":"test","timestamp":"2026-01-02T03:04:05Z","data":{"message":"hi"}}`)
	ts := time.Unix(1767323045, 0)

	tests := []struct {
		name    string
		secrets []string
		verify  string
		wantOK  bool
	}{
		{name: "single secret", secrets: []string{current}, verify: current, wantOK: true},
		{name: "rotation, current secret", secrets: []string{current, previous}, verify: current, wantOK: true},
		{name: "rotation, previous secret", secrets: []string{current, previous}, verify: previous, wantOK: true},
		{name: "rotation, unrelated secret", secrets: []string{current, previous}, verify: stranger, wantOK: false},
		{name: "after the grace period, previous secret", secrets: []string{current}, verify: previous, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			if err := Sign(h, tt.secrets, "test", "evt_2", ts, body, "1.2.3"); err != nil {
				t.Fatal(err)
			}
			wh, err := standardwebhooks.NewWebhook(tt.verify)
			if err != nil {
				t.Fatal(err)
			}
			err = wh.VerifyIgnoringTimestamp(body, h)
			if got := err == nil; got != tt.wantOK {
				t.Errorf("verified = %v (%v), want %v", got, err, tt.wantOK)
			}
			if err := wh.VerifyIgnoringTimestamp(append(body, ' '), h); err == nil {
				t.Error("a changed body verified")
			}
		})
	}
}

func TestSignTimestampIsThisAttempt(t *testing.T) {
	t.Parallel()
	// Verify (not VerifyIgnoringTimestamp) checks webhook-timestamp against the
	// clock with five minutes' tolerance: our header must be unix seconds.
	secret, body := mustSecret(t), []byte(`{}`)
	h := http.Header{}
	if err := Sign(h, []string{secret}, "test", "evt_3", time.Now(), body, "dev"); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestSignHeaders(t *testing.T) {
	t.Parallel()
	body := []byte(vectorBody)
	h := http.Header{"X-Other": {"kept"}}
	if err := Sign(h, []string{vectorSecret, mustSecret(t)}, "referral.created", vectorID, time.Unix(vectorUnix, 0), body, "0.4.0"); err != nil {
		t.Fatal(err)
	}
	sig := h.Get("webhook-signature")
	first, _, rotated := strings.Cut(sig, " ")
	if !rotated || first != vectorWant {
		t.Errorf("webhook-signature = %q, want %q then a second signature", sig, vectorWant)
	}
	want := http.Header{
		"X-Other":             {"kept"},
		"Content-Type":        {"application/json"},
		"X-Webhook-Event":     {"referral.created"},
		"X-Webhook-Signature": {SignHex(vectorSecret, body)},
		"Webhook-Id":          {vectorID},
		"Webhook-Timestamp":   {"1614265330"},
		"Webhook-Signature":   {sig},
		"User-Agent":          {"ReferralLedger/0.4.0"},
	}
	if diff := cmp.Diff(h, want); diff != "" {
		t.Errorf("headers (-got +want):\n%s", diff)
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
	}{
		{name: "no secret", secrets: nil},
		{name: "not base64", secrets: []string{"whsec_not*base64"}},
		{name: "empty key", secrets: []string{SecretPrefix}},
		{name: "second secret broken", secrets: []string{vectorSecret, "whsec_%%%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := SignStandard(tt.secrets, "evt", time.Unix(0, 0), nil); err == nil {
				t.Error("SignStandard: no error")
			}
			h := http.Header{}
			if err := Sign(h, tt.secrets, "test", "evt", time.Unix(0, 0), nil, "dev"); err == nil {
				t.Error("Sign: no error")
			}
			if len(h) != 0 {
				t.Errorf("Sign set headers on failure: %v", h)
			}
		})
	}
}

func mustSecret(tb testing.TB) string {
	tb.Helper()
	s, err := NewSecret()
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
