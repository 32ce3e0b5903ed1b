package audit

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// maxStmts bounds the statements a stmts keeps (a tile read's text
// differs with the number of tiles it reads: at most a hundred).
const maxStmts = 256

// stmts is a querier that prepares each statement on its first use and
// keeps it, for the prover's reads: on PostgreSQL a query with arguments
// takes lib/pq two round trips unprepared, one prepared, and a proof's
// reads are a few small queries, so round trips are most of its time.
type stmts struct {
	db *sqlx.DB
	c  *sqlstmt.Cache
}

func newStmts(db *sqlx.DB) *stmts { return &stmts{db: db, c: sqlstmt.New(db.DB, maxStmts)} }

// stmt returns query prepared, or nil when it cannot be kept (too many,
// or preparing failed: the query then runs unprepared and reports it).
func (s *stmts) stmt(ctx context.Context, query string) *sqlx.Stmt {
	st, err := s.c.Get(ctx, query)
	if err != nil || st == nil {
		return nil
	}
	return &sqlx.Stmt{Stmt: st, Mapper: s.db.Mapper}
}

func (s *stmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, query, args...)
}

func (s *stmts) QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error) {
	if st := s.stmt(ctx, query); st != nil {
		return st.QueryxContext(ctx, args...)
	}
	return s.db.QueryxContext(ctx, query, args...)
}

func (s *stmts) QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row {
	if st := s.stmt(ctx, query); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return s.db.QueryRowxContext(ctx, query, args...)
}

// ExecContext runs unprepared: the prover only reads.
func (s *stmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, query, args...)
}

func (s *stmts) Rebind(query string) string { return s.db.Rebind(query) }
