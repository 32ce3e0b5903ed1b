// Package pgtest gives each test its own PostgreSQL schema on the server
// that LEDGER_TEST_DATABASE_URL names.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/lib/pq" // registers the "postgres" driver
)

// EnvVar names the variable that points tests at a PostgreSQL server.
const EnvVar = "LEDGER_TEST_DATABASE_URL"

// admin is the one connection pool that creates and drops the schemas.
var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// BaseURL returns the server's URL, or skips the test when EnvVar is unset.
func BaseURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		tb.Skip(EnvVar + " is not set: skipping PostgreSQL test")
	}
	return base
}

// SchemaURL creates a fresh schema, drops it when the test ends, and
// returns a connection URL whose search_path is that schema. It skips the
// test when EnvVar is unset and fails it when the server is unreachable.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	base := BaseURL(tb)
	admin.once.Do(func() {
		admin.db, admin.err = sql.Open("postgres", base)
		if admin.err == nil {
			admin.err = admin.db.Ping()
		}
	})
	if admin.err != nil {
		tb.Fatalf("PostgreSQL at %s is unreachable: %v", EnvVar, admin.err)
	}
	u, drop, err := NewSchema(admin.db, base, "t_")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := drop(); err != nil {
			tb.Error(err)
		}
	})
	return u
}

// NewSchema creates a schema named prefix plus random characters through
// db, and returns base with its search_path set to it, and the function
// that drops it. Benchmarks use it outside tests.
func NewSchema(db *sql.DB, base, prefix string) (string, func() error, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("%q is not a URL: %w", base, err)
	}
	schema := prefix + strings.ToLower(rand.Text()[:12])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() error {
		// A backend of a process the test killed may still hold locks in
		// the schema for a moment, and the drop can then lose a deadlock:
		// try again, a few times, before calling it a failure.
		var err error
		for wait := 100 * time.Millisecond; wait <= 3200*time.Millisecond; wait *= 2 {
			if _, err = db.Exec("DROP SCHEMA " + schema + " CASCADE"); err == nil {
				return nil
			}
			time.Sleep(wait)
		}
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}, nil
}

// Scratch opens base, creates a schema as NewSchema does, and returns its
// URL and a function that drops it and closes the connection. For
// benchmark programs.
func Scratch(base, prefix string) (string, func() error, error) {
	db, err := sql.Open("postgres", base)
	if err != nil {
		return "", nil, err
	}
	u, drop, err := NewSchema(db, base, prefix)
	if err != nil {
		return "", nil, errors.Join(err, db.Close())
	}
	return u, func() error { return errors.Join(drop(), db.Close()) }, nil
}
