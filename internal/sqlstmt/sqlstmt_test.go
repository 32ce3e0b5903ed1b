package sqlstmt_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// openDB opens a SQLite file with one connection, as the stores' writer
// pools are, and a table t.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGetPreparesOncePerText(t *testing.T) {
	c := sqlstmt.New(openDB(t), 0)
	defer c.Close()
	ctx := context.Background()
	const q = `SELECT count(*) FROM t WHERE v > ?`
	got := make([]*sql.Stmt, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.Get(ctx, q)
			if err != nil {
				t.Error(err)
			}
			got[i] = st
		}()
	}
	wg.Wait()
	for i, st := range got {
		if st == nil || st != got[0] {
			t.Fatalf("call %d got statement %p, call 0 %p: want one statement for one text", i, st, got[0])
		}
	}
	var n int
	if err := got[0].QueryRow(0).Scan(&n); err != nil || n != 0 {
		t.Errorf("run: %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := got[0].QueryRow(0).Scan(&n); err == nil {
		t.Error("a statement ran after Close closed it")
	}
}

func TestGetBeyondMaxRunsUnprepared(t *testing.T) {
	c := sqlstmt.New(openDB(t), 2)
	defer c.Close()
	ctx := context.Background()
	for i := range 3 {
		st, err := c.Get(ctx, fmt.Sprintf(`SELECT %d`, i))
		if err != nil || (st == nil) != (i == 2) {
			t.Errorf("text %d: got %p, %v; want a statement for the first two, none (and no error) beyond", i, st, err)
		}
	}
	if st, err := c.Get(ctx, `SELECT 0`); st == nil || err != nil {
		t.Errorf("a text kept before the cache filled: got %p, %v", st, err)
	}
}

// TestDeferredInDoesNotWaitForThePool: in a Deferred cache, a new text
// run in a transaction holding the pool's one connection is prepared in
// the transaction (preparing on the pool would wait for the connection
// until the context ends), and on the pool by PrepareWanted afterwards.
func TestDeferredInDoesNotWaitForThePool(t *testing.T) {
	db := openDB(t)
	c := sqlstmt.Deferred(db, 0)
	defer c.Close()
	const q = `INSERT INTO t (v) VALUES (?)`
	for round := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, tx, q, round); err != nil {
			t.Fatalf("round %d: exec in the transaction: %v", round, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := c.PrepareWanted(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// After the first round's PrepareWanted the text is kept: Get finds it
	// without preparing (which a full cache would refuse).
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 2 {
		t.Errorf("rows: %d, %v; want 2", n, err)
	}
	st, err := c.Get(context.Background(), q)
	if err != nil || st == nil {
		t.Fatalf("after PrepareWanted: %p, %v; want the text kept", st, err)
	}
}

// TestInPreparesOnThePool: a cache that is not Deferred prepares a new
// text on the pool (which has a free connection) and keeps it.
func TestInPreparesOnThePool(t *testing.T) {
	db := openDB(t)
	db.SetMaxOpenConns(2)
	c := sqlstmt.New(db, 1)
	defer c.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := c.Exec(ctx, tx, `INSERT INTO t (v) VALUES (?)`, 1); err != nil {
		t.Fatal(err)
	}
	// The cache holds one text: it is the one In prepared, so another is
	// refused.
	if st, err := c.Get(ctx, `SELECT 1`); st != nil || err != nil {
		t.Errorf("second text in a cache of one: got %p, %v; want the first kept by In", st, err)
	}
}
