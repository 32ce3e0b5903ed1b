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

// insertRows inserts rows with multi-row INSERTs of at most 200 rows;
// tail (an ON CONFLICT clause, or "") ends each statement.
func insertRows(ctx context.Context, q querier, head string, width int, rows [][]any, tail string) error {
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), 200)]
		rows = rows[len(chunk):]
		tuples := make([]string, len(chunk))
		args := make([]any, 0, len(chunk)*width)
		for k, r := range chunk {
			tuples[k] = tuple
			args = append(args, r...)
		}
		if _, err := q.ExecContext(ctx, q.Rebind(head+strings.Join(tuples, ", ")+tail), args...); err != nil {
			return err
		}
	}
	return nil
}

// copyRows writes rows with copy, a PostgreSQL COPY … FROM STDIN
// statement, in tx: the server takes the rows as they come, without
// parsing and planning an INSERT of a thousand parameters each 200 rows.
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
