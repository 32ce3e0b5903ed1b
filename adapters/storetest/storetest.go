// Package storetest opens the SQL stores for tests: a fresh SQLite file in
// the test's temp dir, or a fresh schema of the PostgreSQL server named by
// LEDGER_TEST_DATABASE_URL (the test skips without it; see pgtest).
package storetest

import (
	"context"
	"path/filepath"
	"strings"
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

// Kinds are the store kinds Open knows, in the order ForEach runs them.
var Kinds = []string{"sqlite", "postgres"}

// ForEach runs f as a parallel subtest, named for the kind, on each of
// Kinds. f opens what it needs (Open, or a package's own stack on top of
// it). On PostgreSQL the subtest skips with a one-line reason when
// LEDGER_TEST_DATABASE_URL is unset, before f runs.
func ForEach(t *testing.T, f func(t *testing.T, kind string)) {
	t.Helper()
	ForKinds(t, Kinds, f)
}

// ForKinds is ForEach over kinds: Kinds plus a package's own variants
// ("sqlite-sequential", ...). A kind whose name starts with "postgres"
// needs the PostgreSQL server.
func ForKinds(t *testing.T, kinds []string, f func(t *testing.T, kind string)) {
	t.Helper()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			if strings.HasPrefix(kind, "postgres") {
				pgtest.BaseURL(t) // skips when the variable is unset
			}
			f(t, kind)
		})
	}
}
