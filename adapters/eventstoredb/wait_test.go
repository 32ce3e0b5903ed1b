package eventstoredb

import (
	"context"
	"errors"
	"testing"
	"time"

	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"

	"github.com/referral-ledger/referral-ledger/domain"
)

func TestWaitForEventsResubscribes(t *testing.T) {
	t.Parallel()
	f := &fakeServer{drops: 2, log: []*api.ReadResp_ReadEvent_RecordedEvent{
		event("as_1:referral:A", 0, 100, uuid.New(), "E"),
		event("as_1:referral:A", 1, 200, uuid.New(), "E"),
	}}
	s := startFake(t, f)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The first two subscriptions drop; the third delivers the event at
	// 100 (the cursor itself, not new) and then the one at 200.
	if err := s.WaitForEvents(ctx, domain.ReadAllOptions{After: 100, StreamPrefix: "as_1:"}); err != nil {
		t.Fatalf("WaitForEvents: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got, want := f.subscriptions, 3; got != want {
		t.Errorf("subscriptions: got %d, want %d (two dropped, then one that delivered)", got, want)
	}
}

func TestWaitForEventsEnds(t *testing.T) {
	t.Parallel()
	f := &fakeServer{log: []*api.ReadResp_ReadEvent_RecordedEvent{event("as_1:referral:A", 0, 100, uuid.New(), "E")}}
	s := startFake(t, f)
	// Nothing after the cursor: the wait ends with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.WaitForEvents(ctx, domain.ReadAllOptions{After: 100}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForEvents with nothing new: got %v, want context.DeadlineExceeded", err)
	}
	// A server's own event wakes nobody.
	f.mu.Lock()
	f.log = append(f.log, event("$stats-node", 0, 200, uuid.New(), "$statsCollected"))
	f.mu.Unlock()
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.WaitForEvents(ctx, domain.ReadAllOptions{After: 100}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForEvents with a system event only: got %v, want context.DeadlineExceeded", err)
	}
}
