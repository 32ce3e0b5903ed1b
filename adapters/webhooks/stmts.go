package webhooks

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// workerStmts are the worker's statements, prepared once per pool
// (database/sql prepares each again on a connection that lacks it, and a
// transaction reuses its connection's): parsing and planning them at every
// claim and recorded batch was a share of the SQLite writer's time. The
// writer's are prepared when the worker starts (prepareWriter), before any
// transaction holds SQLite's one writer connection; one that was not is
// prepared in the transaction that runs it.
type workerStmts struct{ write, read *sqlstmt.Cache }

func newWorkerStmts(db, read *sqlx.DB) workerStmts {
	return workerStmts{write: sqlstmt.Deferred(db.DB, 0), read: sqlstmt.New(read.DB, 0)}
}

// inTxStmt returns query bound to tx, a transaction of w.db.
func (w *core) inTxStmt(ctx context.Context, tx *sqlx.Tx, query string) (*sqlx.Stmt, error) {
	st, err := w.stmts.write.In(ctx, tx.Tx, query)
	if err != nil {
		return nil, err
	}
	return &sqlx.Stmt{Stmt: st, Mapper: tx.Mapper}, nil
}

// readStmt returns query prepared on w.read.
func (w *core) readStmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	st, err := w.stmts.read.Get(ctx, query) // never nil: the cache is unbounded
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return &sqlx.Stmt{Stmt: st, Mapper: w.read.Mapper}, nil
}

// prepareWriter prepares the dialect's writer statements on w.db, before
// any transaction holds its connection. A failure only costs their
// preparation in each transaction.
func (w *core) prepareWriter(ctx context.Context) {
	if err := w.stmts.write.Prepare(ctx, w.sql.writerStmts...); err != nil {
		w.log.WarnContext(ctx, "webhook worker: prepare a statement", "err", err)
	}
}

// close closes the prepared statements.
func (s workerStmts) close() {
	_ = s.write.Close()
	_ = s.read.Close()
}
