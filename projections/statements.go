package projections

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// stmt is one statement of a batch's writes, built before it runs: a bulk
// replay builds the next batch's statements while the database runs these.
type stmt struct {
	what string // what it writes, for its error
	q    string
	args []any
}

// execAll runs stmts in order through tx.
func execAll(ctx context.Context, tx *sqlx.Tx, stmts []stmt) error {
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("referrals: %s: %w", s.what, err)
		}
	}
	return nil
}

// upsert returns the statements that insert rows on driver ("postgres" or
// SQLite's), as few as the parameter limit allows: insert names the table
// and its columns ("INSERT INTO t (a, b)"), the rows follow as a VALUES
// list (SQLite) or as unnested arrays (PostgreSQL), then onConflict.
// Every row has the same number of values.
func upsert(driver, what, insert string, rows [][]any, onConflict string) ([]stmt, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	if driver == "postgres" {
		s, err := upsertColumns(what, insert, rows, onConflict)
		return []stmt{s}, err
	}
	width := len(rows[0])
	var out []stmt
	for chunk := range chunks(rows, maxParams/width) {
		args := make([]any, 0, width*len(chunk))
		for _, r := range chunk {
			args = append(args, r...)
		}
		out = append(out, stmt{what: what, q: insert + " VALUES " + placeholders(len(chunk), width) + onConflict, args: args})
	}
	return out, nil
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
