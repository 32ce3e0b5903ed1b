package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Append adds events to a stream; see domain.EventStore. It returns
// domain.ErrConcurrency when the stream is not at the expected revision.
func (s *Store) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	res, err := s.AppendMulti(ctx, []domain.StreamAppend{{Stream: stream, Expected: expected, Events: events}})
	if err != nil {
		return domain.AppendResult{}, err
	}
	return res[0], nil
}

// AppendMulti appends to several streams in one transaction, in the order
// given; see domain.MultiAppender. Each stream's part behaves as Append
// would: a part whose first event is already in its stream is a retry and
// writes nothing. Any mismatch is domain.ErrConcurrency and writes nothing.
func (s *Store) AppendMulti(ctx context.Context, appends []domain.StreamAppend) ([]domain.AppendResult, error) {
	if err := domain.ValidateAppends(appends); err != nil {
		return nil, err
	}
	r := &appendRequest{ctx: ctx, appends: appends, done: make(chan struct{})}
	select {
	case s.requests <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.stop:
		return nil, errors.New("append: store is closed")
	}
	<-r.done // once queued, the request is answered after its commit
	return r.results, r.err
}

// appendParts writes every part of one append in tx (inside the caller's
// savepoint) and reports whether it wrote anything.
func (s *Store) appendParts(ctx context.Context, tx *sqlx.Tx, appends []domain.StreamAppend, now string) ([]domain.AppendResult, bool, error) {
	results := make([]domain.AppendResult, len(appends))
	wrote := false
	for i, a := range appends {
		res, w, err := s.appendTx(ctx, tx, a, now)
		if err != nil {
			return nil, false, fmt.Errorf("append %s: %w", a.Stream, err)
		}
		results[i], wrote = res, wrote || w
	}
	return results, wrote, nil
}

// appendTx writes one stream's part in tx and reports whether it wrote.
func (s *Store) appendTx(ctx context.Context, tx *sqlx.Tx, a domain.StreamAppend, now string) (_ domain.AppendResult, _ bool, err error) {
	if res, ok, err := s.storedResult(ctx, tx, a); err != nil || ok {
		return res, false, err
	}
	var current domain.Revision
	revision, err := s.writeStmts.In(ctx, tx.Tx, revisionSQL)
	if err == nil {
		err = revision.QueryRowContext(ctx, a.Stream).Scan(&current)
	}
	if err != nil {
		return domain.AppendResult{}, false, fmt.Errorf("read revision: %w", err)
	}
	if want, ok := a.Expected.Revision(); ok && want != current {
		return domain.AppendResult{}, false, fmt.Errorf("%w: expected %v, stream is at revision %d", domain.ErrConcurrency, a.Expected, current)
	}
	stmt, err := s.writeStmts.In(ctx, tx.Tx, insertSQL)
	if err != nil {
		return domain.AppendResult{}, false, fmt.Errorf("prepare insert: %w", err)
	}
	var res domain.AppendResult
	for i, e := range a.Events {
		version := current + domain.Revision(i) + 1
		r, err := stmt.ExecContext(ctx, a.Stream, version, e.ID, e.Type, nullJSON(e.Data), nullJSON(e.Metadata), now)
		if err != nil {
			return domain.AppendResult{}, false, fmt.Errorf("insert event %s: %w", e.ID, err)
		}
		pos, err := r.LastInsertId()
		if err != nil {
			return domain.AppendResult{}, false, fmt.Errorf("insert event %s: %w", e.ID, err)
		}
		res = domain.AppendResult{NextRevision: version, Position: domain.Position(pos)}
	}
	return res, true, nil
}

// The append's statements (see appendStatements).
const (
	revisionSQL = `SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?`
	insertSQL   = `INSERT INTO events (stream, version, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)`
)

// storedSQL is storedResult's select for a part of n events.
func storedSQL(n int) string {
	return `SELECT id, version, position FROM events WHERE stream = ? AND id IN (?` + strings.Repeat(", ?", n-1) +
		`) ORDER BY version`
}

// appendStatements are the statements the batcher runs, prepared at Open
// (storedResult's for parts of up to 8 events; a longer part's is
// prepared in its transaction).
func appendStatements() []string {
	qs := []string{revisionSQL, insertSQL, savepointSQL, rollbackToSQL, releaseSQL}
	for n := 1; n <= 8; n++ {
		qs = append(qs, storedSQL(n))
	}
	return qs
}

// storedResult recognises a retry: if the part's first event is already in
// its stream, it returns what the original append returned, computed from
// the part's events that are stored.
func (s *Store) storedResult(ctx context.Context, tx *sqlx.Tx, a domain.StreamAppend) (_ domain.AppendResult, _ bool, err error) {
	ids := make([]any, 0, len(a.Events)+1)
	ids = append(ids, a.Stream)
	for _, e := range a.Events {
		ids = append(ids, e.ID)
	}
	stmt, err := s.writeStmts.In(ctx, tx.Tx, storedSQL(len(a.Events)))
	if err != nil {
		return domain.AppendResult{}, false, fmt.Errorf("look for a retry: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, ids...)
	if err != nil {
		return domain.AppendResult{}, false, fmt.Errorf("look for a retry: %w", err)
	}
	defer closeWith(&err, rows)
	var res domain.AppendResult
	found := false
	for rows.Next() {
		var id string
		if err := rows.Scan(&id, &res.NextRevision, &res.Position); err != nil {
			return domain.AppendResult{}, false, fmt.Errorf("look for a retry: %w", err)
		}
		found = found || id == a.Events[0].ID
	}
	if err := rows.Err(); err != nil {
		return domain.AppendResult{}, false, fmt.Errorf("look for a retry: %w", err)
	}
	return res, found, nil
}

// nullJSON stores empty JSON as NULL, so that it reads back as nil.
func nullJSON(b []byte) sql.NullString {
	return sql.NullString{String: string(b), Valid: len(b) > 0}
}

// closeWith closes c and joins its error into *err.
func closeWith(err *error, c io.Closer) {
	*err = errors.Join(*err, c.Close())
}
