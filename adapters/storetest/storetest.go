// Package storetest opens the SQL stores for tests: a fresh SQLite file in
// the test's temp dir, or a fresh schema of the PostgreSQL server named by
// LEDGER_TEST_DATABASE_URL (the test skips without it; see pgtest).
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/adapters/sqlite"
	"github.com/referral-ledger/referral-ledger/domain"
)

// Open opens a fresh store of kind ("sqlite" or "postgres"), closed when
// the test ends, and returns it with its writer and reader pools (one pool
// on PostgreSQL).
func Open(tb testing.TB, kind string) (domain.EventStore, *sqlx.DB, *sqlx.DB) {
	tb.Helper()
	ctx := context.Background()
	switch kind {
	case "sqlite":
		st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(tb.TempDir(), "ledger.db")})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st, st.WriteDB(), st.DB()
	case "postgres":
		st, err := postgres.Open(ctx, postgres.Config{URL: pgtest.SchemaURL(tb)})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { st.Close() })
		return st, st.DB(), st.DB()
	}
	tb.Fatalf("storetest: unknown store kind %q", kind)
	return nil, nil, nil
}
