// Package sqlstmt keeps SQL statements prepared on a pool, for the stores,
// projections and the prover. SQLite (modernc.org/sqlite, the C library
// translated to Go) parses and plans a statement's text in the calling
// goroutine on every unprepared run; PostgreSQL parses and plans it on the
// server, and lib/pq takes two round trips for an unprepared query with
// arguments, one for a prepared one. database/sql keeps a statement
// prepared on the pool prepared on each connection that has run it.
package sqlstmt

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Cache prepares each statement text once per pool and keeps it until
// Close.
type Cache struct {
	db  *sql.DB
	max int // the most texts kept; 0: no bound
	// deferred: In prepares a new text in the transaction only, and
	// PrepareWanted on the pool later (see In).
	deferred bool

	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	wanted []string // run by In in a transaction, not yet prepared on the pool
}

// New returns a cache of statements prepared on db, keeping at most max
// texts (0: no bound).
func New(db *sql.DB, max int) *Cache {
	return &Cache{db: db, max: max, m: map[string]*sql.Stmt{}}
}

// Deferred returns a cache for a pool whose one connection a transaction
// holds while it runs (SQLite's writer): preparing on the pool then would
// wait for that connection, so In prepares a new text in the transaction
// only, and PrepareWanted prepares it on the pool once the transaction has
// ended.
func Deferred(db *sql.DB, max int) *Cache {
	c := New(db, max)
	c.deferred = true
	return c
}

// Get returns q prepared on the pool, preparing it on first use. It
// returns nil and no error when the cache is full: the caller runs q
// unprepared.
func (c *Cache) Get(ctx context.Context, q string) (*sql.Stmt, error) {
	c.mu.RLock()
	st, ok := c.m[q]
	full := c.max > 0 && len(c.m) >= c.max
	c.mu.RUnlock()
	if ok || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[q]; ok { // prepared meanwhile by another caller
		return prev, st.Close()
	}
	c.m[q] = st
	return st, nil
}

// Prepare prepares qs on the pool now.
func (c *Cache) Prepare(ctx context.Context, qs ...string) error {
	for _, q := range qs {
		if _, err := c.Get(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// In returns q ready to run in tx, a transaction of the cache's pool. A
// text not prepared yet is prepared on the pool first, or, in a Deferred
// cache, in tx only (and remembered for PrepareWanted).
func (c *Cache) In(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.m[q]
	if !ok && c.deferred && !c.isWanted(q) {
		c.wanted = append(c.wanted, q)
	}
	c.mu.Unlock()
	if !ok && !c.deferred {
		var err error
		if st, err = c.Get(ctx, q); err != nil {
			return nil, err
		}
	}
	if st == nil {
		return tx.PrepareContext(ctx, q)
	}
	return tx.StmtContext(ctx, st), nil
}

// isWanted reports whether q waits for PrepareWanted. c.mu is held.
func (c *Cache) isWanted(q string) bool {
	for _, w := range c.wanted {
		if w == q {
			return true
		}
	}
	return false
}

// Exec runs q in tx.
func (c *Cache) Exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	st, err := c.In(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// PrepareWanted prepares on the pool the texts In has run unprepared. In a
// Deferred cache it must be called while no transaction of the caller
// holds the pool's connection.
func (c *Cache) PrepareWanted(ctx context.Context) error {
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	return c.Prepare(ctx, wanted...)
}

// Close closes every statement kept.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
