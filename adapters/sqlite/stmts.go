package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmts keeps statements prepared. SQLite parses and plans a statement's
// text in the calling goroutine (modernc.org/sqlite is the C library
// translated to Go): that was over half of a stream read's CPU, and part
// of every append's time on the one writer connection. Each text is
// prepared once per pool, and database/sql keeps it prepared on each
// connection that runs it.
type stmts struct {
	db *sql.DB
	m  sync.Map // statement text -> *sql.Stmt
}

// get returns q prepared on the pool.
func (c *stmts) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// prepare prepares qs on the pool now. The writer's statements must be
// prepared before its one connection is held by a transaction: preparing
// on the pool then would wait for that connection.
func (c *stmts) prepare(ctx context.Context, qs ...string) error {
	for _, q := range qs {
		if _, err := c.get(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// in returns q for use in tx (a transaction of the same pool): prepared
// once (see prepare), it is not parsed again on a connection that has run
// it before; a text not prepared beforehand is prepared in tx.
func (c *stmts) in(ctx context.Context, tx *sqlx.Tx, q string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(q); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	return tx.PrepareContext(ctx, q)
}

// exec runs q in tx.
func (c *stmts) exec(ctx context.Context, tx *sqlx.Tx, q string, args ...any) (sql.Result, error) {
	st, err := c.in(ctx, tx, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// close closes every statement.
func (c *stmts) close() error {
	var errs []error
	c.m.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close())
		return true
	})
	return errors.Join(errs...)
}
