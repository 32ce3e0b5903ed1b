package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/domain"
)

// findStored looks for parts of an append that failed which are retries:
// parts whose first event is already in their stream. It marks them stored,
// sets their results, and reports whether it found any.
func (s *Store) findStored(ctx context.Context, appends []domain.StreamAppend, stored []bool, results []domain.AppendResult) (bool, error) {
	found := false
	for i, a := range appends {
		if stored[i] {
			continue
		}
		res, ok, err := s.storedResult(ctx, a)
		if err != nil {
			return false, fmt.Errorf("append %s: look for a retry: %w", a.Stream, err)
		}
		if ok {
			stored[i], results[i], found = true, res, true
		}
	}
	return found, nil
}

// storedResult returns what the original append of a retried part
// returned, computed from the part's events that are in its stream, and
// whether the part's first event is there at all.
func (s *Store) storedResult(ctx context.Context, a domain.StreamAppend) (_ domain.AppendResult, _ bool, err error) {
	ids := make([]string, len(a.Events))
	for i, e := range a.Events {
		ids[i] = e.ID
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, version, position FROM events
		WHERE stream = $1 AND id = ANY($2) ORDER BY version`, a.Stream, pq.Array(ids))
	if err != nil {
		return domain.AppendResult{}, false, err
	}
	defer closeWith(&err, rows)
	var res domain.AppendResult
	found := false
	for rows.Next() {
		var id string
		if err := rows.Scan(&id, &res.NextRevision, &res.Position); err != nil {
			return domain.AppendResult{}, false, err
		}
		found = found || id == a.Events[0].ID
	}
	if err := rows.Err(); err != nil {
		return domain.AppendResult{}, false, err
	}
	return res, found, nil
}

// closeWith closes c and joins its error into *err.
func closeWith(err *error, c io.Closer) {
	*err = errors.Join(*err, c.Close())
}

// ignoreDone drops the error of a rollback of a transaction that database/sql
// already ended (its context was cancelled).
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
