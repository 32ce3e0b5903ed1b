package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// applyFunc applies events in a transaction (a Handler's Apply).
type applyFunc func(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error

// applyError is a handler's failure to apply a batch, as opposed to a
// failure to read the log or to move the checkpoint: only such a batch
// has an event to isolate.
type applyError struct{ err error }

func (e *applyError) Error() string { return e.err.Error() }
func (e *applyError) Unwrap() error { return e.err }

// isolate applies events in tx, each try behind a savepoint (a failed
// statement aborts a PostgreSQL transaction up to its last savepoint), and
// splits a part that fails in two until each failing event is alone; it
// quarantines those and returns them. The parts apply in log order, each
// seeing the ones before it. A Transient failure ends it: the caller
// retries the whole batch later.
func (r *Runner) isolate(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent, now int64, apply applyFunc) ([]Quarantined, error) {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT projection_isolate`); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	err := apply(ctx, tx, events)
	if err == nil {
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT projection_isolate`); err != nil {
			return nil, fmt.Errorf("release savepoint: %w", err)
		}
		return nil, nil
	}
	for _, q := range []string{`ROLLBACK TO SAVEPOINT projection_isolate`, `RELEASE SAVEPOINT projection_isolate`} {
		if _, rbErr := tx.ExecContext(ctx, q); rbErr != nil {
			return nil, errors.Join(err, fmt.Errorf("%s: %w", q, rbErr))
		}
	}
	if Transient(err) || ctx.Err() != nil {
		return nil, err
	}
	if len(events) == 1 {
		q := QuarantineOf(r.cfg.Name, events[0], err, time.UnixMilli(now))
		return []Quarantined{q}, Quarantine(ctx, tx, tx.DriverName(), q)
	}
	mid := len(events) / 2
	first, err := r.isolate(ctx, tx, events[:mid], now, apply)
	if err != nil {
		return nil, err
	}
	second, err := r.isolate(ctx, tx, events[mid:], now, apply)
	return append(first, second...), err
}
