package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/domain/eventstoretest"
)

// Clients that retry on 429 and 503 (Tolinku's SDKs) wait as Retry-After
// says: a failing /readyz sends it. (The rate limiter's 429 is checked by
// TestRateLimitPerKey.)
func TestUnavailableCarriesRetryAfter(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite", httpapi.Config{Ready: []httpapi.Check{{Name: "store",
		Check: func(context.Context) error { return errors.New("down") }}}})
	resp, err := http.Get(s.url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("failing /readyz: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// faultSwitch is an event store whose appends and reads go through a
// FaultStore the test arms per step.
type faultSwitch struct {
	mu    sync.Mutex
	inner domain.EventStore
	cur   *eventstoretest.FaultStore
}

// arm makes the next append to a stream of category (the first whose
// stream name has ":category:" or ends in ":category") commit and then
// answer an error: a lost acknowledgement.
func (f *faultSwitch) arm(category string) *eventstoretest.FaultStore {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur = eventstoretest.NewFaultStore(f.inner, eventstoretest.LoseAck, func(stream string) bool {
		_, c, _ := domain.ParseStream(stream)
		return c == category
	})
	return f.cur
}

func (f *faultSwitch) store() domain.EventStore {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur == nil {
		return f.inner
	}
	return f.cur
}

func (f *faultSwitch) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	return f.store().Append(ctx, stream, expected, events...)
}

func (f *faultSwitch) ReadStream(ctx context.Context, stream string, from domain.Revision, limit int) ([]domain.RecordedEvent, error) {
	return f.store().ReadStream(ctx, stream, from, limit)
}

func (f *faultSwitch) ReadLast(ctx context.Context, stream string) (domain.RecordedEvent, error) {
	return f.store().ReadLast(ctx, stream)
}

func (f *faultSwitch) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	return f.store().ReadAll(ctx, opts)
}

func (f *faultSwitch) WaitForEvents(ctx context.Context, opts domain.ReadAllOptions) error {
	return f.store().WaitForEvents(ctx, opts)
}

// A command whose append committed is never answered 5xx, even when the
// store loses the acknowledgement: the service finds its events in the
// stream and answers 200, and a retry of the command appends nothing.
func TestLostAcknowledgementAnswers200(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		sw := &faultSwitch{}
		s := newWrappedStack(t, kind, func(inner domain.EventStore) domain.EventStore {
			sw.inner = inner
			return sw
		})
		code := ""
		steps := []struct {
			name, method, path, category string
			body                         func() map[string]any
		}{
			{"settings", "PUT", "/v1/api/referral/settings", "settings", func() map[string]any {
				return map[string]any{"reward_type": "credit", "reward_value": "$5",
					"referral_milestones": []string{"signed_up", "paid"}, "referral_reward_milestone": "paid"}
			}},
			{"create, referrer stream", "POST", "/v1/api/referral/create", "referrer", func() map[string]any {
				return map[string]any{"user_id": "rita"}
			}},
			{"milestone, referee guard", "POST", "/v1/api/referral/milestone", "referee", func() map[string]any {
				return map[string]any{"referral_code": code, "milestone": "signed_up", "referred_user_id": "sam"}
			}},
			{"complete", "POST", "/v1/api/referral/complete", "referral", func() map[string]any {
				return map[string]any{"referral_code": code, "milestone": "paid"}
			}},
			{"claim", "POST", "/v1/api/referral/claim-reward", "referral", func() map[string]any {
				return map[string]any{"referral_code": code}
			}},
			{"create, referral stream", "POST", "/v1/api/referral/create", "referral", func() map[string]any {
				return map[string]any{"user_id": "tess"}
			}},
		}
		for _, st := range steps {
			fault := sw.arm(st.category)
			status, first := s.call(t, s.key, st.method, st.path, st.body())
			if !fault.Fired() {
				t.Fatalf("%s: no append to a %s stream", st.name, st.category)
			}
			if status != http.StatusOK {
				t.Fatalf("%s with its acknowledgement lost: %d %v, want 200", st.name, status, first)
			}
			if strings.HasPrefix(st.name, "create") {
				if first["created"] != true {
					t.Errorf("%s: created = %v, want true", st.name, first["created"])
				}
				code = first["referral_code"].(string)
			}
			before := len(s.events(t, s.space))
			again := s.must(t, http.StatusOK, st.method, st.path, st.body())
			if after := len(s.events(t, s.space)); after != before {
				t.Errorf("%s: the retry appended %d events", st.name, after-before)
			}
			delete(first, "created")
			delete(again, "created")
			if !equalJSON(first, again) {
				t.Errorf("%s: retry answered %v, first call %v", st.name, again, first)
			}
		}
		got := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		if got["status"] != "pending" || got["referrer_id"] != "tess" {
			t.Errorf("the last referral: %v", got)
		}
	})
}
