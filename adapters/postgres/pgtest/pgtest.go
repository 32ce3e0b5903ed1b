// Package pgtest gives each test its own PostgreSQL schema on the server
// that LEDGER_TEST_DATABASE_URL names.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

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
	schema := "t_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.db.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := admin.db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
