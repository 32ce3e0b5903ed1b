package postgres

import (
	"context"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// BenchmarkAppspaceRead reads a small appspace's part of a log that holds
// 500k events of another appspace, with the events_appspace index and then
// without it (the plan before migration 00009). Run with
// -bench AppspaceRead -benchtime 20x.
func BenchmarkAppspaceRead(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Config{URL: pgtest.SchemaURL(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	_, err = s.db.ExecContext(ctx, `INSERT INTO events (stream, version, id, type)
		SELECT CASE WHEN g <= 500000 THEN 'big:s' ELSE 'small:s' END, g, 'e' || g, 'T'
		FROM generate_series(1, 500010) g`)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	read := func(b *testing.B) {
		for b.Loop() {
			evs, err := s.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: "small:"})
			if err != nil || len(evs) != 10 {
				b.Fatalf("got %d events, %v; want 10", len(evs), err)
			}
		}
	}
	b.Run("index", read)
	if _, err := s.db.ExecContext(ctx, `DROP INDEX events_appspace`); err != nil {
		b.Fatal(err)
	}
	b.Run("no-index", read)
}
