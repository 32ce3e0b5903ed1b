package benchkit

import (
	"context"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/postgres"
	"github.com/referral-ledger/referral-ledger/adapters/postgres/pgtest"
	"github.com/referral-ledger/referral-ledger/adapters/sqlite"
	"github.com/referral-ledger/referral-ledger/domain"
)

// Store is a scratch event store and the pools that write and read its
// database.
type Store struct {
	Name   string // "sqlite" or "postgres"
	Events domain.EventStore
	Write  *sqlx.DB
	Read   *sqlx.DB
	URL    string // PostgreSQL's, with the scratch schema; "" on SQLite
	Dir    string // SQLite's data directory (its file is ledger.db, as serve's); "" on PostgreSQL
}

// ForEachStore runs f on a fresh SQLite file, then on a fresh schema of
// the PostgreSQL server at pgURL (skipped, with a line saying so, when
// pgURL is empty), and removes both afterwards. only, if set, names the
// one store to run. Failures are fatal: these are benchmark programs.
func ForEachStore(ctx context.Context, pgURL, only string, f func(Store)) {
	if only != "postgres" {
		dir, err := os.MkdirTemp("", "ledger-bench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "ledger.db")})
		if err != nil {
			log.Fatal(err)
		}
		f(Store{Name: "sqlite", Events: st, Write: st.WriteDB(), Read: st.DB(), Dir: dir})
		st.Close()
	}
	if only == "sqlite" {
		return
	}
	if pgURL == "" {
		log.Print("postgres: skipped (no -pg and no LEDGER_TEST_DATABASE_URL)")
		return
	}
	u, drop, err := pgtest.Scratch(pgURL, "bench_")
	if err != nil {
		log.Fatal(err)
	}
	if u, err = withAppName(u); err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := drop(); err != nil {
			log.Print(err)
		}
	}()
	pg, err := postgres.Open(ctx, postgres.Config{URL: u, MaxConns: 24})
	if err != nil {
		log.Fatal(err)
	}
	backends.watch(pg.DB().DB)
	f(Store{Name: "postgres", Events: pg, Write: pg.DB(), Read: pg.DB(), URL: u})
	backends.watch(nil)
	pg.Close()
}

// StartProfile writes a CPU profile to path until the returned function is
// called; an empty path profiles nothing.
func StartProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Print(err)
		}
	}
}
