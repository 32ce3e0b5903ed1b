package eventstoretest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

func testWaitForEvents(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix := newPrefix("wait")
	first := newEvents(2)
	mustAppend(t, s, prefix+"s", domain.NoStream(), first...)
	seen := readUntil(t, s, domain.ReadAllOptions{StreamPrefix: prefix}, len(first))

	t.Run("events already there", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := s.WaitForEvents(ctx, domain.ReadAllOptions{After: seen[0].Position}); err != nil {
			t.Errorf("WaitForEvents with an event after the cursor: %v", err)
		}
	})

	t.Run("wakes on append", func(t *testing.T) {
		cursor := seen[len(seen)-1].Position
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		woke := make(chan error, 1)
		start := time.Now()
		go func() { woke <- s.WaitForEvents(ctx, domain.ReadAllOptions{After: cursor}) }()
		time.Sleep(50 * time.Millisecond) // let the waiter block; correctness does not depend on it
		next := newEvents(1)
		mustAppend(t, s, prefix+"s", domain.Exact(2), next...)
		// A generous bound: the waiter must wake on the append, not merely
		// some day. How fast is for benchmarks to say.
		select {
		case err := <-woke:
			if err != nil {
				t.Fatalf("WaitForEvents: %v", err)
			}
			t.Logf("WaitForEvents returned %v after it was called", time.Since(start))
		case <-time.After(5 * time.Second):
			t.Fatal("WaitForEvents did not return within 5s of an append")
		}
		got := readUntil(t, s, domain.ReadAllOptions{After: cursor, StreamPrefix: prefix}, 1)
		if got[0].ID != next[0].ID {
			t.Errorf("event after the wait: got %s, want %s", got[0].ID, next[0].ID)
		}
	})
}

func testWaitForEventsCancel(t *testing.T, h func(tb testing.TB) Harness) {
	s := h(t).Store
	prefix := newPrefix("cancel")
	mustAppend(t, s, prefix+"s", domain.NoStream(), newEvents(1)...)
	seen := readUntil(t, s, domain.ReadAllOptions{StreamPrefix: prefix}, 1)
	cursor := seen[0].Position

	// waitLoop waits as a reader does: WaitForEvents may return early, so a
	// nil return only means "look again". A store that kept returning nil
	// after ctx ended would spin here until the test's timeout.
	waitLoop := func(ctx context.Context) error {
		for {
			if err := s.WaitForEvents(ctx, domain.ReadAllOptions{After: cursor}); err != nil {
				return err
			}
		}
	}
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- waitLoop(ctx) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("WaitForEvents after cancel: got %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WaitForEvents did not return within 5s of its context being cancelled")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- waitLoop(ctx) }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitForEvents past its deadline: got %v, want context.DeadlineExceeded", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WaitForEvents did not return within 5s of its deadline")
		}
	})
}
