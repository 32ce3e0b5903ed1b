package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/referral-ledger/referral-ledger/domain"
)

// maxAttempts bounds the tries of an append that keeps losing races it may
// retry on its own (expected revision Any, deadlocks). Every lost race is
// another writer's commit, so this is only reached under heavy contention.
const maxAttempts = 20

// revisionMismatch is the SQLSTATE ledger_append raises when a stream is
// not at the revision an append expects.
const revisionMismatch = "RL001"

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
	if err := domain.ValidateAppends(appends); err != nil {
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

// tryAppend appends the parts not yet stored with one call of the
// ledger_append function (migration 00003): one autocommitted statement,
// atomic on its own. If it succeeds it sets their results. A lost race is
// a conflict, not an error.
func (s *Store) tryAppend(ctx context.Context, appends []domain.StreamAppend, stored []bool, results []domain.AppendResult) (*conflict, error) {
	var idx []int
	var parts []domain.StreamAppend
	for i, a := range appends {
		if !stored[i] {
			idx, parts = append(idx, i), append(parts, a)
		}
	}
	out, c, err := appendParts(ctx, prepared{s}, parts)
	if err != nil || c != nil {
		if c != nil {
			c.index = idx[c.index]
		}
		return c, err
	}
	s.notify.appended()
	for j, i := range idx {
		results[i] = out[j]
	}
	return nil, nil
}

// queryer is a pool, a transaction or prepared.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// prepared runs queries on the store's pool through its prepared
// statements (Store.stmts): lib/pq runs an unprepared query with arguments
// in two round trips (parse and describe, then bind and execute), a
// prepared one in one.
type prepared struct{ s *Store }

func (p prepared) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.s.queryRows(ctx, q, args...)
}

// appendQuery calls ledger_append (migrations 00003, 00016).
const appendQuery = `SELECT next_version, last_position FROM ledger_append($1, $2, $3, $4, $5, $6, $7)`

// appendParts calls ledger_append for parts on q and returns each part's
// result, or the conflict of a part that lost (index into parts).
func appendParts(ctx context.Context, q queryer, parts []domain.StreamAppend) (_ []domain.AppendResult, _ *conflict, err error) {
	var streams, ids, types, data, meta []string
	var expected []int64
	var counts []int64
	for _, a := range parts {
		rev, ok := a.Expected.Revision()
		exp := int64(rev)
		if !ok {
			exp = -1 // any
		}
		streams, expected, counts = append(streams, a.Stream), append(expected, exp), append(counts, int64(len(a.Events)))
		for _, e := range a.Events {
			// JSON goes as text; empty data is stored as NULL.
			ids, types = append(ids, e.ID), append(types, e.Type)
			data, meta = append(data, string(e.Data)), append(meta, string(e.Metadata))
		}
	}
	rows, err := q.QueryContext(ctx, appendQuery,
		pq.Array(streams), pq.Array(expected), pq.Array(counts), pq.Array(ids), pq.Array(types), pq.Array(data), pq.Array(meta))
	if err != nil {
		return conflictOr(err, parts)
	}
	defer closeWith(&err, rows)
	out := make([]domain.AppendResult, 0, len(parts))
	for rows.Next() {
		var r domain.AppendResult
		if err := rows.Scan(&r.NextRevision, &r.Position); err != nil {
			return nil, nil, fmt.Errorf("append: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil { // the function's errors surface here
		return conflictOr(err, parts)
	}
	if len(out) != len(parts) {
		return nil, nil, fmt.Errorf("append: ledger_append returned %d results for %d streams", len(out), len(parts))
	}
	return out, nil, nil
}

// conflictOr returns err as the conflict of the part it concerns, or as an
// error if it is not a lost race.
func conflictOr(err error, parts []domain.StreamAppend) ([]domain.AppendResult, *conflict, error) {
	i := conflictPart(err, parts)
	if c := asConflict(err, parts[i]); c != nil {
		c.index = i
		return nil, c, nil
	}
	return nil, nil, fmt.Errorf("append %s: %w", parts[i].Stream, err)
}

// conflictPart finds which part a conflict concerns, from the error's
// detail; the first part when it cannot tell.
func conflictPart(err error, parts []domain.StreamAppend) int {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		for i, a := range parts {
			if strings.Contains(pqErr.Message, a.Stream) || strings.Contains(pqErr.Detail, a.Stream) {
				return i
			}
		}
	}
	return 0
}

// asConflict classifies the errors of a lost race by SQLSTATE and
// constraint. Everything else is not a conflict.
func asConflict(err error, a domain.StreamAppend) *conflict {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return nil
	}
	switch {
	case pqErr.Code == revisionMismatch:
		return &conflict{err: fmt.Errorf("%w: the stream is not at %v", domain.ErrConcurrency, a.Expected)}
	case pqErr.Code == pqerror.UniqueViolation && pqErr.Constraint == "events_stream_version_key":
		// Another writer committed the same revision first, or a part
		// that expected a new stream found it existing (ledger_append
		// leaves that check to this constraint, migration 00016). Any
		// may take the next revision; an expected revision has lost.
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
