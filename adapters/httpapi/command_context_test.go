package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// cancelAtEOF is a request body that cancels the request's context once it
// has been read to the end: a client that sent its command and left.
type cancelAtEOF struct {
	io.Reader
	cancel context.CancelFunc
}

func (b cancelAtEOF) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		b.cancel()
	}
	return n, err
}

func (b cancelAtEOF) Close() error { return nil }

// A command whose client leaves after sending it runs to its end: the
// referral is created and the answer written, however the client's
// context ends.
func TestCommandOutlivesItsClient(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *stack) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		body := `{"user_id":"leaver"}`
		req := httptest.NewRequestWithContext(ctx, "POST", "/v1/api/referral/create", nil)
		req.Body = cancelAtEOF{Reader: strings.NewReader(body), cancel: cancel}
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", s.key)
		rec := httptest.NewRecorder()
		s.api.ServeHTTP(rec, req)
		if ctx.Err() == nil {
			t.Fatal("the body was not read to its end")
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var out struct {
			ReferralCode string `json:"referral_code"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.ReferralCode == "" {
			t.Fatalf("body %s: %v", rec.Body, err)
		}
		created := s.countEvents(t, s.space, domain.TypeReferralCreated, func(data map[string]any) bool {
			return data["referrer_id"] == "leaver"
		})
		if created != 1 {
			t.Fatalf("%d ReferralCreated events for the leaver, want 1", created)
		}
	})
}

// A command whose client left before it started is not started.
func TestCommandNotStartedForAGoneClient(t *testing.T) {
	s := newStack(t, "sqlite")
	s.access.CacheKeys() // so that the key is authenticated from memory, whatever the context
	s.must(t, http.StatusOK, "GET", "/v1/api/referral/settings", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/v1/api/referral/create", strings.NewReader(`{"user_id":"gone"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", s.key)
	s.api.ServeHTTP(httptest.NewRecorder(), req)
	if n := s.countEvents(t, s.space, domain.TypeReferralCreated, nil); n != 0 {
		t.Fatalf("%d ReferralCreated events, want none", n)
	}
}
