package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Import writes events as they were recorded elsewhere — ID, stream,
// version, recorded time, data and metadata — in one transaction, in the
// order given. It is the events import command's path and not part of
// domain.EventStore: only moving a log between stores may set a recorded
// time. Each stream must be at the revision before its first event
// (domain.ErrConcurrency otherwise), so a rerun never writes a version
// twice.
//
// Like ledger_append it leaves position and transaction_id to their
// defaults (the sequence, pg_current_xact_id()): the events take positions
// in the order given, all under this transaction's ID, so readers of the
// global log see the batch at once and in order once it commits and no
// older transaction is running, as they see an append.
func (s *Store) Import(ctx context.Context, events []domain.RecordedEvent) (err error) {
	before, err := domain.CheckImport(events)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("import: begin: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	for stream, want := range before {
		var current domain.Revision
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = $1`, stream).Scan(&current); err != nil {
			return fmt.Errorf("import %s: read revision: %w", stream, err)
		}
		if current != want {
			return fmt.Errorf("import %s: %w: the stream is at revision %d, the events continue %d", stream, domain.ErrConcurrency, current, want)
		}
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (stream, version, id, type, data, metadata, recorded_at)
		VALUES ($1, $2, $3, $4, NULLIF($5, '')::json, NULLIF($6, '')::json, $7)`)
	if err != nil {
		return fmt.Errorf("import: prepare insert: %w", err)
	}
	defer closeWith(&err, stmt)
	for _, e := range events {
		_, err := stmt.ExecContext(ctx, e.Stream, int64(e.Version), e.ID, e.Type, string(e.Data), string(e.Metadata), e.RecordedAt.UTC())
		if err != nil {
			return importError(e, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("import: commit: %w", err)
	}
	s.notify.appended()
	return nil
}

// importError names the event an insert failed on; another writer that
// took the same version is domain.ErrConcurrency, as for an append.
func importError(e domain.RecordedEvent, err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == pqerror.UniqueViolation && pqErr.Constraint == "events_stream_version_key" {
		return fmt.Errorf("import event %s: %w: another writer took version %d of %s", e.ID, domain.ErrConcurrency, e.Version, e.Stream)
	}
	return fmt.Errorf("import event %s: %w", e.ID, err)
}
