package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// BenchmarkAppspaceRead reads a small appspace's part of a log that holds
// 500k events of another appspace: the events endpoint's page, its follow
// mode's wait, and webhook replay all read this way. Run with
// -bench AppspaceRead -benchtime 20x; the figures of the index that makes
// these reads range scans are in that migration's commit.
func BenchmarkAppspaceRead(b *testing.B) {
	s := newStore(b)
	ctx := context.Background()
	batch := make([]domain.EventData, domain.MaxEventsPerAppend)
	for i := range 50 {
		for j := range batch {
			batch[j] = event(domain.NewID())
		}
		if _, err := s.Append(ctx, fmt.Sprintf("big:s%d", i), domain.Any(), batch...); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 10 {
		if _, err := s.Append(ctx, fmt.Sprintf("small:s%d", i), domain.Any(), event(domain.NewID())); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("ReadAll", func(b *testing.B) {
		for b.Loop() {
			evs, err := s.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: "small:"})
			if err != nil || len(evs) != 10 {
				b.Fatalf("got %d events, %v; want 10", len(evs), err)
			}
		}
	})
	b.Run("WaitForEvents", func(b *testing.B) {
		for b.Loop() {
			if err := s.WaitForEvents(ctx, domain.ReadAllOptions{StreamPrefix: "small:"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
