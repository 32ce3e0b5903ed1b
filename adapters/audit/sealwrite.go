package audit

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// sealStmts keeps the statements a sealing transaction runs on SQLite
// prepared on the writer's pool, so that the transaction, which holds the
// file's one writer (the appends wait for it), does not parse a statement
// of a thousand parameters each 200 leaves. A multi-row INSERT's text
// depends on its number of rows: insertRows writes chunks of 256 rows and
// of a power of two for the rest, a handful of texts in all.
type sealStmts struct {
	c *sqlstmt.Cache
}

// maxSealStmts bounds the texts kept: the leaves' nine sizes, the tiles'
// nine, the tree's update.
const maxSealStmts = 64

// newSealStmts returns the statements of sealing through db, a SQLite
// writer pool of one connection (the cache is Deferred: a text is
// prepared on the pool once no transaction holds it, see prepareWanted).
func newSealStmts(db *sqlx.DB) *sealStmts {
	return &sealStmts{c: sqlstmt.Deferred(db.DB, maxSealStmts)}
}

// prepareWanted prepares on the pool the texts a transaction ran
// unprepared; it must not be called from within a transaction of the
// pool (it waits for the pool's one connection).
func (s *sealStmts) prepareWanted(ctx context.Context) {
	if s != nil {
		_ = s.c.PrepareWanted(ctx) // a failure leaves the text prepared per transaction
	}
}

// in returns a querier running tx's statements prepared when s keeps
// them (nil s: tx as it is).
func (s *sealStmts) in(tx *sqlx.Tx) querier {
	if s == nil {
		return tx
	}
	return &stmtTx{Tx: tx, c: s.c}
}

// stmtTx is a transaction whose Exec runs its text prepared.
type stmtTx struct {
	*sqlx.Tx
	c *sqlstmt.Cache
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.c.Exec(ctx, t.Tx.Tx, query, args...)
}

// insertLeaves writes leaf rows (appspace, leaf_index, event_id,
// position, leaf) on SQLite, by INSERT OR FAIL (insertRows' chunks). OR
// FAIL: an INSERT that may abort halfway (a duplicate leaf) makes SQLite
// write every page it changes to a statement journal first, a temporary
// file, to undo that statement alone; the sealer rolls back the whole
// transaction on any error, so the statement's own undo is never needed.
func insertLeaves(ctx context.Context, q querier, rows [][]any) error {
	return insertRows(ctx, q, `INSERT OR FAIL INTO audit_leaves (appspace_id, leaf_index, event_id, position, leaf) VALUES `, 5, rows, "")
}
