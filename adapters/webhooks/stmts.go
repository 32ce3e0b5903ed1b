package webhooks

import (
	"context"
	"fmt"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCache holds the worker's fixed statements, prepared once per pool
// (database/sql prepares each again on a connection that lacks it, and a
// transaction reuses its connection's): parsing and planning them at every
// claim and recorded batch was a share of the SQLite writer's time.
type stmtCache struct {
	mu sync.Mutex
	m  map[stmtKey]*sqlx.Stmt
}

type stmtKey struct {
	db    *sqlx.DB
	query string
}

// stmt returns query prepared on db.
func (c *stmtCache) stmt(ctx context.Context, db *sqlx.DB, query string) (*sqlx.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := stmtKey{db, query}
	if s, ok := c.m[k]; ok {
		return s, nil
	}
	s, err := db.PreparexContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if c.m == nil {
		c.m = map[stmtKey]*sqlx.Stmt{}
	}
	c.m[k] = s
	return s, nil
}

// inTxStmt returns query bound to tx (a transaction of w.db): the
// statement prepareWriter prepared, or one prepared in tx. It never
// prepares on w.db itself: SQLite's writer pool has one connection,
// which tx holds.
func (w *core) inTxStmt(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	w.stmts.mu.Lock()
	s, ok := w.stmts.m[stmtKey{w.db, query}]
	w.stmts.mu.Unlock()
	if !ok {
		return tx.PreparexContext(ctx, query)
	}
	return tx.StmtxContext(ctx, s), nil
}

// prepareWriter prepares the dialect's writer statements on w.db, before
// any transaction holds its connection. A failure only costs their
// preparation in each transaction.
func (w *core) prepareWriter(ctx context.Context) {
	for _, q := range w.sql.writerStmts {
		if _, err := w.stmts.stmt(ctx, w.db, q); err != nil {
			w.log.WarnContext(ctx, "webhook worker: prepare a statement", "err", err)
		}
	}
}

// close closes the prepared statements.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		_ = s.Close()
	}
	c.m = nil
}
