package webhooks_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
	"github.com/referral-ledger/referral-ledger/domain"
)

// readCounter is the real store, counting the events ReadAll returns that
// were recorded before old.
type readCounter struct {
	domain.EventStore
	old  time.Time
	read atomic.Int64
}

func (c *readCounter) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	evs, err := c.EventStore.ReadAll(ctx, opts)
	for _, e := range evs {
		if e.RecordedAt.Before(c.old) {
			c.read.Add(1)
		}
	}
	return evs, err
}

// PositionBefore passes the store's own through, where it has one.
func (c *readCounter) PositionBefore(ctx context.Context, t time.Time) (domain.Position, error) {
	seeker, ok := c.EventStore.(interface {
		PositionBefore(context.Context, time.Time) (domain.Position, error)
	})
	if !ok {
		return 0, nil
	}
	return seeker.PositionBefore(ctx, t)
}

// TestReplayReadsFromItsSince: replaying the last minutes does not read the
// log from its start.
func TestReplayReadsFromItsSince(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, kind string) {
		s := newStack(t, kind, webhooks.Config{})
		ctx := context.Background()
		for range 20 {
			if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: domain.NewID()}); err != nil {
				t.Fatal(err)
			}
		}
		// Age them by an hour: the store stamps events with its own clock.
		age := `UPDATE events SET recorded_at = recorded_at - interval '1 hour'`
		args := []any{}
		if kind == "sqlite" {
			age = `UPDATE events SET recorded_at = ?`
			args = append(args, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano))
		}
		if _, err := s.db.ExecContext(ctx, age, args...); err != nil {
			t.Fatal(err)
		}
		since := time.Now()
		for range 2 {
			if _, err := s.svc.CreateReferral(ctx, s.origin(), domain.CreateInput{ReferrerID: domain.NewID()}); err != nil {
				t.Fatal(err)
			}
		}
		// PostgreSQL shows an event to readers once older transactions end.
		eventually(t, "the recent events are readable", 10*time.Second, func() bool {
			evs, err := s.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix(s.appspaceID)})
			return err == nil && len(evs) == 2*22
		})
		recv := newReceiver(t, func(int) int { return 200 })
		wh, _ := s.addWebhook(t, recv.url, webhooks.EventReferralCreated)

		counter := &readCounter{EventStore: s.store, old: since.Add(-30 * time.Minute)}
		cfg := s.cfg
		cfg.Events = counter
		replayer, err := webhooks.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n, err := replayer.Replay(ctx, s.appspaceID, wh.ID, webhooks.ReplayInput{Since: since.Add(-time.Second), Until: time.Now().Add(time.Second)})
		if err != nil || n != 2 {
			t.Fatalf("replay queued %d, %v; want the 2 recent referrals", n, err)
		}
		if got := counter.read.Load(); got != 0 {
			t.Errorf("replay read %d events recorded an hour before its since, want 0", got)
		}
	})
}
