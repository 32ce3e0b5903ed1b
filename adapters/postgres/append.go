package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/referral-ledger/referral-ledger/domain"
)

// maxAttempts bounds the tries of an append that keeps losing races it may
// retry on its own (expected revision Any, deadlocks). Every lost race is
// another writer's commit, so this is only reached under heavy contention.
const maxAttempts = 20

// anyLockClass is the first key of the advisory locks that serialise
// appends with expected revision Any to one stream (the second key is a
// hash of the stream name).
const anyLockClass = 0x726c6564 // "rled"

// conflict is why an attempt to append was rolled back.
type conflict struct {
	index int   // the part that failed
	err   error // for the caller, if the append gives up
	retry bool  // whether a new attempt may succeed without a new decision
}

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
//
// Appends are optimistic. The insert itself checks the expected revision,
// and the unique constraint on (stream, version) decides between writers
// that raced; only when an attempt fails does the store look for a retry.
func (s *Store) AppendMulti(ctx context.Context, appends []domain.StreamAppend) ([]domain.AppendResult, error) {
	if err := validate(appends); err != nil {
		return nil, err
	}
	results := make([]domain.AppendResult, len(appends))
	stored := make([]bool, len(appends)) // parts found already stored
	for attempt := 1; ; attempt++ {
		c, err := s.tryAppend(ctx, appends, stored, results)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return results, nil
		}
		found, err := s.findStored(ctx, appends, stored, results)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(stored, false) {
			return results, nil
		}
		if (found || c.retry) && attempt < maxAttempts {
			continue
		}
		return nil, fmt.Errorf("append %s: %w", appends[c.index].Stream, c.err)
	}
}

// tryAppend inserts the parts not yet stored in one transaction and, if it
// commits, sets their results. A lost race is a conflict, not an error.
func (s *Store) tryAppend(ctx context.Context, appends []domain.StreamAppend, stored []bool, results []domain.AppendResult) (c *conflict, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("append: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	out := make([]domain.AppendResult, len(appends))
	for i, a := range appends {
		if stored[i] {
			continue
		}
		res, c, err := insert(ctx, tx, a)
		if err != nil {
			return nil, fmt.Errorf("append %s: %w", a.Stream, err)
		}
		if c != nil {
			c.index = i
			return c, nil
		}
		out[i] = res
	}
	if err := s.notify(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("append: commit: %w", err)
	}
	committed = true
	for i := range appends {
		if !stored[i] {
			results[i] = out[i]
		}
	}
	return nil, nil
}

// notify tells listeners, at commit, that the log has grown.
func (s *Store) notify(ctx context.Context, tx *sqlx.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, s.channel); err != nil {
		return fmt.Errorf("append: notify: %w", err)
	}
	return nil
}

// insert appends one stream's part in tx. The statement computes the
// versions from the stream's current revision and, for an expected
// revision, inserts nothing unless the stream is at it. It returns a
// conflict when it inserted nothing or lost a race.
func insert(ctx context.Context, tx *sqlx.Tx, a domain.StreamAppend) (_ domain.AppendResult, _ *conflict, err error) {
	if a.Expected.IsAny() {
		// Writers with Any would otherwise race for the same next
		// revision and retry without end under contention: they queue on
		// a lock of the stream instead. The insert's snapshot is taken
		// after the lock is granted, so it sees the previous holder's
		// events.
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, anyLockClass, a.Stream)
		if c := asConflict(err, a); c != nil {
			return domain.AppendResult{}, c, nil
		}
		if err != nil {
			return domain.AppendResult{}, nil, fmt.Errorf("lock stream: %w", err)
		}
	}
	q, args := insertQuery(a)
	rows, err := tx.QueryContext(ctx, q, args...)
	if c := asConflict(err, a); c != nil {
		return domain.AppendResult{}, c, nil
	}
	if err != nil {
		return domain.AppendResult{}, nil, fmt.Errorf("insert: %w", err)
	}
	defer closeWith(&err, rows)
	var res domain.AppendResult
	n := 0
	for rows.Next() {
		var r domain.AppendResult
		if err := rows.Scan(&r.Position, &r.NextRevision); err != nil {
			return domain.AppendResult{}, nil, fmt.Errorf("insert: %w", err)
		}
		if r.NextRevision > res.NextRevision {
			res = r
		}
		n++
	}
	// A unique violation may surface while the rows are read.
	if err := rows.Err(); err != nil {
		if c := asConflict(err, a); c != nil {
			return domain.AppendResult{}, c, nil
		}
		return domain.AppendResult{}, nil, fmt.Errorf("insert: %w", err)
	}
	if n == 0 {
		return domain.AppendResult{}, &conflict{
			err: fmt.Errorf("%w: the stream is not at %v", domain.ErrConcurrency, a.Expected),
		}, nil
	}
	return res, nil, nil
}

// asConflict classifies the errors of a lost race by SQLSTATE and
// constraint. Everything else is not a conflict.
func asConflict(err error, a domain.StreamAppend) *conflict {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return nil
	}
	switch {
	case pqErr.Code == pqerror.UniqueViolation && pqErr.Constraint == "events_stream_version_key":
		// Another writer committed the same revision first. Any may
		// take the next one; an expected revision has lost.
		return &conflict{err: fmt.Errorf("%w: another writer appended first", domain.ErrConcurrency), retry: a.Expected.IsAny()}
	case pqErr.Code == pqerror.UniqueViolation && pqErr.Constraint == "events_id_key":
		// A retry (findStored recognises it), or an ID used elsewhere.
		return &conflict{err: fmt.Errorf("an event ID is already stored elsewhere: %w", err)}
	case pqErr.Code == pqerror.TRDeadlockDetected:
		// Two multi-stream appends took their streams in opposite orders.
		// Trying again is safe: the expected revisions are checked again.
		return &conflict{err: fmt.Errorf("%w: deadlock with another writer", domain.ErrConcurrency), retry: true}
	}
	return nil
}
