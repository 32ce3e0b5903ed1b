package audit

import (
	"context"
	"errors"
	"strings"

	"github.com/jmoiron/sqlx"
)

// querier is a database or a transaction.
type querier interface {
	sqlx.QueryerContext
	sqlx.ExecerContext
	Rebind(string) string
}

// insertChunk is the most rows one INSERT of insertRows writes.
const insertChunk = 256

// insertRows inserts rows with multi-row INSERTs of insertChunk rows, then
// of powers of two for the rest: a statement's text depends on its number
// of rows, so a handful of texts serve every batch and stay prepared where
// q keeps its statements (sealStmts). tail (an ON CONFLICT clause, or "")
// ends each statement.
func insertRows(ctx context.Context, q querier, head string, width int, rows [][]any, tail string) error {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	for len(rows) > 0 {
		n := insertChunk
		for n > len(rows) {
			n /= 2
		}
		args := make([]any, 0, n*width)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		rows = rows[n:]
		text := head + strings.TrimSuffix(strings.Repeat(tuple+", ", n), ", ") + tail
		if _, err := q.ExecContext(ctx, q.Rebind(text), args...); err != nil {
			return err
		}
	}
	return nil
}

// copyRows writes rows with copy, a PostgreSQL COPY … FROM STDIN
// statement, in tx: the server takes the rows as they come, without
// parsing and planning an INSERT of over a thousand parameters each 256 rows.
func copyRows(ctx context.Context, tx *sqlx.Tx, copy string, rows [][]any) error {
	st, err := tx.PrepareContext(ctx, copy)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return errors.Join(err, st.Close())
		}
	}
	if _, err := st.ExecContext(ctx); err != nil { // the end of the data
		return errors.Join(err, st.Close())
	}
	return st.Close()
}
