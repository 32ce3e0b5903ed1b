package webhooks_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// An event the forwarder cannot turn into a webhook, and messages the
// dispatcher cannot handle, are quarantined; the webhooks of the events
// around them are delivered.
func TestPoisonIsQuarantinedAndOthersDelivered(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		recv := newReceiver(t, nil)
		s.addWebhook(t, recv.url)
		if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "alice"}); err != nil {
			t.Fatal(err)
		}

		// The forwarder's poison: an event whose data does not decode.
		forwarderPoison := domain.NewID()
		if _, err := s.store.Append(ctx, domain.ReferralStream(s.appspaceID, "POISON"), domain.NoStream(),
			domain.EventData{ID: forwarderPoison, Type: domain.TypeReferralCreated, Data: []byte(`{"referrer_id": 7}`),
				Metadata: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		// The dispatcher's poison: messages it cannot write a delivery of.
		now := strconv.FormatInt(time.Now().UnixMilli(), 10)
		meta := map[string]string{"appspace_id": s.appspaceID, "event": "referral.created", "referral_code": "BAD1",
			"recorded_at_ms": "yesterday", "stream": "as:referral:BAD1", "position": "1"}
		bad := []string{"evt_bad_recorded_at"}
		if err := s.wh.PublishRaw(ctx, bad[0], []byte(`{}`), meta); err != nil {
			t.Fatal(err)
		}
		if kind == "postgres" { // a NUL its TEXT columns refuse: the statement fails
			meta["recorded_at_ms"], meta["referral_code"] = now, "BAD\x002"
			bad = append(bad, "evt_nul_code")
			if err := s.wh.PublishRaw(ctx, bad[1], []byte(`{}`), meta); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: "bob"}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "both good events delivered", 10*time.Second, func() bool {
			return len(recv.byEvent("referral.created")) >= 2
		})
		eventually(t, "the poison quarantined", 10*time.Second, func() bool {
			qs, err := projections.QuarantinedEvents(ctx, s.db, "")
			return err == nil && len(qs) == 1+len(bad)
		})
		qs, err := projections.QuarantinedEvents(ctx, s.db, "")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, q := range qs {
			got = append(got, q.Projection+" "+q.EventID)
		}
		want := []string{"webhooks " + forwarderPoison}
		for _, id := range bad {
			want = append(want, webhooks.DispatcherName+" "+id)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("quarantined %v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond) // nothing more should come
		if n := len(recv.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}

// lockedBuffer is a log sink for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A clean shutdown logs no ERROR (the dispatcher used to log its
// cancelled context as one).
func TestCleanShutdownLogsNoError(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		var logs lockedBuffer
		s := newStack(t, kind, webhooks.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		recv := newReceiver(t, nil)
		s.addWebhook(t, recv.url)
		for i := range 3 {
			if _, err := s.svc.CreateReferral(context.Background(), s.origin(), domain.CreateInput{ReferrerID: fmt.Sprint("u", i)}); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "delivered", 10*time.Second, func() bool { return len(recv.requests()) >= 3 })
		s.stop()
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("a clean shutdown logged an ERROR:\n%s", logs.String())
		}
	})
}
