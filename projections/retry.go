package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// RetryResult is what RetryQuarantined did.
type RetryResult struct {
	// Applied are the events that now apply; their records are gone.
	Applied int
	// Failing are the events that still fail; their records hold the new
	// error.
	Failing int
}

// RetryQuarantined applies again, with h, the events that projection
// quarantined, in the order it quarantined them (its log order). Each
// event applies alone, in a transaction of its own that also deletes its
// record and holds projection's checkpoint row, so that its runner waits
// rather than applying the same referral beside it. h receives the event
// late, after events that followed it in the log: a handler that skips
// what it has seen and refuses gaps (Referrals) applies it as a replay
// would, as long as the events of a stream are retried in order. A
// Transient failure stops the retry with its error.
func RetryQuarantined(ctx context.Context, store domain.EventStore, db *sqlx.DB, projection string, h Handler) (RetryResult, error) {
	qs, err := QuarantinedEvents(ctx, db, projection)
	if err != nil || len(qs) == 0 {
		return RetryResult{}, err
	}
	var res RetryResult
	streams := map[string][]domain.RecordedEvent{}
	for _, q := range qs {
		evs, ok := streams[q.Stream]
		if !ok {
			if evs, err = store.ReadStream(ctx, q.Stream, 0, 0); err != nil {
				return res, fmt.Errorf("retry %s: read %s: %w", projection, q.Stream, err)
			}
			streams[q.Stream] = evs
		}
		err := fmt.Errorf("event %s is not in stream %s", q.EventID, q.Stream)
		for _, e := range evs {
			if e.ID == q.EventID {
				err = retryOne(ctx, db, projection, h, e)
				break
			}
		}
		if err == nil {
			res.Applied++
			continue
		}
		if Transient(err) {
			return res, fmt.Errorf("retry %s: %w", projection, err)
		}
		res.Failing++
		if _, uErr := db.ExecContext(ctx, db.Rebind(`UPDATE projection_quarantine SET error = ?, retried_at = ?
			WHERE projection = ? AND event_id = ?`), text(err.Error()), time.Now().UnixMilli(), projection, q.EventID); uErr != nil {
			return res, fmt.Errorf("retry %s: record the error: %w", projection, uErr)
		}
	}
	return res, nil
}

// retryOne applies e with h and deletes its record, in one transaction.
func retryOne(ctx context.Context, db *sqlx.DB, projection string, h Handler, e domain.RecordedEvent) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
				err = errors.Join(err, rbErr)
			}
		}
	}()
	if db.DriverName() == "postgres" {
		var pos int64
		err := tx.GetContext(ctx, &pos, `SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, projection)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lock checkpoint: %w", err)
		}
	}
	if err := h.Apply(ctx, tx, []domain.RecordedEvent{e}); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`DELETE FROM projection_quarantine WHERE projection = ? AND event_id = ?`),
		projection, e.ID); err != nil {
		return fmt.Errorf("delete record: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if c, ok := h.(Committer); ok {
		c.Committed()
	}
	return nil
}
