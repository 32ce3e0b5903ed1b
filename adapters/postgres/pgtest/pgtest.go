// Package pgtest gives each test its own PostgreSQL schema on the server
// that LEDGER_TEST_DATABASE_URL names.
package pgtest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/lib/pq" // registers the "postgres" driver
)

// EnvVar names the variable that points tests at a PostgreSQL server.
const EnvVar = "LEDGER_TEST_DATABASE_URL"

// SchemaURL creates a fresh schema, drops it when the test ends, and
// returns a connection URL whose search_path is that schema. It skips the
// test when EnvVar is unset and fails it when the server is unreachable.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv(EnvVar)
	if base == "" {
		tb.Skip(EnvVar + " is not set: skipping PostgreSQL test")
	}
	db, err := sql.Open("postgres", base)
	if err != nil {
		tb.Fatalf("open %s: %v", EnvVar, err)
	}
	tb.Cleanup(func() { db.Close() })
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema on %s: %v", EnvVar, err)
	}
	tb.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse %s: %v", EnvVar, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
