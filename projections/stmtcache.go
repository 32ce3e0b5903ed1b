package projections

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCache keeps a bulk replay's statements prepared from one batch's
// transaction to the next, so that each text is parsed (SQLite, in this
// process) or parsed and planned (PostgreSQL) once per replay, not once per
// batch. A text is prepared on the pool between transactions (prepareNew):
// on SQLite the writer pool's one connection is the transaction's while it
// runs, and preparing on the pool then would wait for it. Until then, a
// new text is prepared in the transaction that first runs it.
//
// With pool set (PostgreSQL, whose pool has connections besides the
// transaction's), a new text is prepared on pool at once instead.
type stmtCache struct {
	pool     *sqlx.DB
	mu       sync.Mutex
	prepared map[string]*sql.Stmt
	wanted   []string // run in a transaction, not yet prepared on the pool
}

func newStmtCache(pool *sqlx.DB) *stmtCache {
	return &stmtCache{pool: pool, prepared: map[string]*sql.Stmt{}}
}

// in returns q ready to run in tx (a transaction of the pool prepareNew
// is given): database/sql keeps a statement prepared on the pool prepared
// on each connection that has run it.
func (c *stmtCache) in(ctx context.Context, tx *sqlx.Tx, q string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.prepared[q]
	if !ok && !slices.Contains(c.wanted, q) {
		c.wanted = append(c.wanted, q)
	}
	c.mu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	if c.pool != nil {
		if err := c.prepareNew(ctx, c.pool); err != nil {
			return nil, err
		}
		return c.in(ctx, tx, q)
	}
	return tx.PrepareContext(ctx, q)
}

// prepareNew prepares on db the texts run since its last call. It must be
// called while no transaction of the caller holds a connection of db.
func (c *stmtCache) prepareNew(ctx context.Context, db *sqlx.DB) error {
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	for _, q := range wanted {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.prepared[q] = st
		c.mu.Unlock()
	}
	return nil
}

// close closes the prepared statements.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for q, st := range c.prepared {
		errs = append(errs, st.Close())
		delete(c.prepared, q)
	}
	return errors.Join(errs...)
}
