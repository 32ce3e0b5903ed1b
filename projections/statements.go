package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// stmt is one statement of a batch's writes, built before it runs: a bulk
// replay builds the next batch's statements while the database runs these.
// It runs once with args, or, if rows is set, over rows: with qGroup (its
// VALUES list groupRows rows long) per full group of rows, then with q
// (one row) per row left.
type stmt struct {
	what string // what it writes, for its error
	q    string
	args []any

	rows      [][]any
	qGroup    string
	groupRows int

	// copyInto, if set, names the table rows are copied into (COPY FROM
	// STDIN, PostgreSQL only) with copyColumns: rows known to be new.
	copyInto    string
	copyColumns []string
}

// execAll runs stmts in order through tx. Statements with rows are
// prepared once per transaction, or taken from cache if set.
func execAll(ctx context.Context, tx *sqlx.Tx, stmts []stmt, cache *sqlstmt.Cache) error {
	for _, s := range stmts {
		if err := s.exec(ctx, tx, cache); err != nil {
			return fmt.Errorf("referrals: %s: %w", s.what, err)
		}
	}
	return nil
}

// exec runs s in tx.
func (s stmt) exec(ctx context.Context, tx *sqlx.Tx, cache *sqlstmt.Cache) error {
	if s.copyInto != "" {
		return s.copy(ctx, tx)
	}
	if s.rows == nil && cache == nil {
		_, err := tx.ExecContext(ctx, s.q, s.args...)
		return err
	}
	if s.rows == nil {
		return run(ctx, tx, cache, s.q, s.args)
	}
	rows := s.rows
	if s.groupRows > 1 && len(rows) >= s.groupRows {
		args := make([]any, 0, s.groupRows*len(rows[0]))
		st, err := prepare(ctx, tx, cache, s.qGroup)
		for ; err == nil && len(rows) >= s.groupRows; rows = rows[s.groupRows:] {
			args = args[:0]
			for _, r := range rows[:s.groupRows] {
				args = append(args, r...)
			}
			_, err = st.ExecContext(ctx, args...)
		}
		if err != nil {
			return err
		}
	}
	if len(rows) == 0 {
		return nil
	}
	st, err := prepare(ctx, tx, cache, s.q)
	for _, r := range rows {
		if err != nil {
			break
		}
		_, err = st.ExecContext(ctx, r...)
	}
	return err
}

// copy copies s.rows into s.copyInto. A COPY starts when it is prepared,
// so it is prepared anew each time, never cached.
func (s stmt) copy(ctx context.Context, tx *sqlx.Tx) (err error) {
	cols := make([]string, len(s.copyColumns))
	for i, c := range s.copyColumns {
		cols[i] = pq.QuoteIdentifier(c)
	}
	st, err := tx.PrepareContext(ctx, "COPY "+pq.QuoteIdentifier(s.copyInto)+" ("+strings.Join(cols, ", ")+") FROM STDIN")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	for _, r := range s.rows {
		if _, err := st.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	_, err = st.ExecContext(ctx) // the end of the data: the server checks and writes it
	return err
}

// run runs q with args in tx, prepared (see prepare).
func run(ctx context.Context, tx *sqlx.Tx, cache *sqlstmt.Cache, q string, args []any) error {
	st, err := prepare(ctx, tx, cache, q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

// prepare returns q prepared for tx: from cache if set, else prepared in
// tx (database/sql closes it with the transaction).
func prepare(ctx context.Context, tx *sqlx.Tx, cache *sqlstmt.Cache, q string) (*sql.Stmt, error) {
	if cache != nil {
		return cache.In(ctx, tx.Tx, q)
	}
	return tx.PrepareContext(ctx, q)
}

// sqliteGroupRows is how many rows one SQLite upsert runs at most: few
// enough that the text is short to parse once, many enough that the
// per-call costs (database/sql's, the driver's watch on the context) are
// shared by a group.
const sqliteGroupRows = 32

// upsert returns the statements that insert rows on driver ("postgres" or
// SQLite's): insert names the table and its columns ("INSERT INTO t (a,
// b)"), the rows follow, then onConflict. On PostgreSQL that is one
// statement of unnested arrays; on SQLite a statement of sqliteGroupRows
// rows and one of one row, each prepared once: SQLite parses a statement in
// the caller, and the VALUES list of each batch's size was parsed anew
// every batch (13% of a rebuild's CPU). Every row has the same number of
// values.
func upsert(driver, what, insert string, rows [][]any, onConflict string) ([]stmt, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	if driver == "postgres" {
		s, err := upsertColumns(what, insert, rows, onConflict)
		return []stmt{s}, err
	}
	width := len(rows[0])
	group := min(sqliteGroupRows, maxParams/width)
	return []stmt{{what: what, q: insert + " VALUES " + placeholders(1, width) + onConflict, rows: rows,
		qGroup: insert + " VALUES " + placeholders(group, width) + onConflict, groupRows: group}}, nil
}

// chunks yields s in pieces of at most n.
func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// placeholders returns n rows of width question marks: (?, ?), (?, ?).
func placeholders(n, width int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", width), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// upsertColumns is upsert for PostgreSQL: one statement whose parameters
// are one array per column, unnested into rows. Parsing, planning and
// encoding then cost the same for ten rows as for ten thousand, where a
// VALUES list costs per parameter. The arrays are encoded here, as array
// literals, not by the driver when the statement runs.
func upsertColumns(what, insert string, rows [][]any, onConflict string) (stmt, error) {
	width := len(rows[0])
	args := make([]any, width)
	casts := make([]string, width)
	var b strings.Builder
	for j := range width {
		b.Reset()
		b.WriteByte('{')
		isInt := false
		for i, r := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			switch v := r[j].(type) {
			case string:
				quote(&b, v)
			case *string:
				if v == nil {
					b.WriteString("NULL")
				} else {
					quote(&b, *v)
				}
			case int64:
				isInt = true
				b.WriteString(strconv.FormatInt(v, 10))
			case *int64:
				isInt = true
				if v == nil {
					b.WriteString("NULL")
				} else {
					b.WriteString(strconv.FormatInt(*v, 10))
				}
			default:
				return stmt{}, fmt.Errorf("upsert: column %d holds a %T", j, v)
			}
		}
		b.WriteByte('}')
		args[j], casts[j] = b.String(), fmt.Sprintf("$%d::text[]", j+1)
		if isInt {
			casts[j] = fmt.Sprintf("$%d::bigint[]", j+1)
		}
	}
	q := insert + " SELECT * FROM unnest(" + strings.Join(casts, ", ") + ")" + onConflict
	return stmt{what: what, q: q, args: args}, nil
}

// quote writes s as an element of a PostgreSQL array literal.
func quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}
