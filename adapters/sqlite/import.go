package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Import writes events as they were recorded elsewhere — ID, stream,
// version, recorded time, data and metadata — in one transaction, in the
// order given; positions are this store's own. It is the events import
// command's path and not part of domain.EventStore: only moving a log
// between stores may set a recorded time. Each stream must be at the
// revision before its first event (domain.ErrConcurrency otherwise), so a
// rerun never writes a version twice.
func (s *Store) Import(ctx context.Context, events []domain.RecordedEvent) (err error) {
	before, err := domain.CheckImport(events)
	if err != nil {
		return err
	}
	// The writer connection: this waits for the batcher's transaction.
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("import: begin: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	for stream, want := range before {
		var current domain.Revision
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM events WHERE stream = ?`, stream).Scan(&current); err != nil {
			return fmt.Errorf("import %s: read revision: %w", stream, err)
		}
		if current != want {
			return fmt.Errorf("import %s: %w: the stream is at revision %d, the events continue %d", stream, domain.ErrConcurrency, current, want)
		}
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO events (stream, version, id, type, data, metadata, recorded_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("import: prepare insert: %w", err)
	}
	defer closeWith(&err, stmt)
	for _, e := range events {
		_, err := stmt.ExecContext(ctx, e.Stream, e.Version, e.ID, e.Type, nullJSON(e.Data), nullJSON(e.Metadata),
			e.RecordedAt.UTC().Format(time.RFC3339Nano))
		if err != nil {
			return fmt.Errorf("import event %s: %w", e.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("import: commit: %w", err)
	}
	s.wake.broadcast()
	return nil
}
