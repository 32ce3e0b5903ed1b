package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/internal/sqlstmt"
)

// bulkPreparer applies a bulk replay's batches in memory ahead of their
// transactions, so that preparing the next batch overlaps with the
// database writing this one. The rebuild passes its *Referrals to bulk.
type bulkPreparer interface {
	// prepareBulk applies a batch and returns its writes, which the runner
	// runs in the batch's transaction. It is called for each batch in log
	// order, before the batches prepared earlier have committed.
	prepareBulk(ctx context.Context, events []domain.RecordedEvent) (bulkWrite, error)
	// bulkCommitted says the oldest batch prepared and not yet committed
	// has committed.
	bulkCommitted()
}

// bulkWrite runs a prepared batch's writes in tx, with the statements
// cache keeps prepared across the replay's transactions.
type bulkWrite func(ctx context.Context, tx *sqlx.Tx, cache *sqlstmt.Cache) error

// bulk applies the log from the runner's checkpoint to its end. It is for
// a runner that is alone on its checkpoint (a rebuild's): it does not lock
// the checkpoint row per batch, and its commits do not wait for the disk
// (a rebuild interrupted starts over anyway). It reads the next batch
// while it applies the current one, and prep (the runner's handler seen
// as a bulkPreparer) prepares it too. It returns how many events it applied. A batch that
// fails stops it (with an *applyError if the handler failed): its caller
// lets Step isolate the failing events (see bulkAll).
func (r *Runner) bulk(ctx context.Context, prep bulkPreparer, progress func(int)) (applied int, err error) {
	if _, err := r.Step(ctx); err != nil { // creates the checkpoint; may apply a batch
		return 0, err
	}
	c, err := r.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	applied = int(c.Applied)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	cache := sqlstmt.Deferred(r.db.DB, 0)
	defer func() {
		cancel()
		wg.Wait() // the caller may reset what the preparer uses
		err = errors.Join(err, cache.Close())
	}()
	prepared := r.bulkFeed(ctx, &wg, prep, domain.Position(c.Position))
	for b := range prepared {
		if b.err != nil {
			return applied, b.err
		}
		if len(b.events) == 0 {
			return applied, nil
		}
		if err := r.bulkTx(ctx, b.events, b.write, cache); err != nil {
			return applied, err
		}
		if err := cache.PrepareWanted(ctx); err != nil {
			return applied, fmt.Errorf("projection %s: prepare: %w", r.cfg.Name, err)
		}
		prep.bulkCommitted()
		applied += len(b.events)
		if progress != nil {
			progress(applied)
		}
	}
	return applied, ctx.Err()
}

// bulkBatch is a batch of a bulk replay: its events, the writes prepared
// for them, or why it could not be read or prepared.
type bulkBatch struct {
	events []domain.RecordedEvent
	write  bulkWrite
	err    error
}

// bulkFeed reads the log after pos in batches, in a goroutine of wg until
// ctx ends, and prep prepares each batch in another. The batches come in
// log order; the last is empty or failed.
func (r *Runner) bulkFeed(ctx context.Context, wg *sync.WaitGroup, prep bulkPreparer, after domain.Position) <-chan bulkBatch {
	send := func(ch chan<- bulkBatch, b bulkBatch) bool {
		select {
		case ch <- b:
			return true
		case <-ctx.Done():
			return false
		}
	}
	read := make(chan bulkBatch, 2)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(read)
		for {
			evs, err := r.store.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: r.cfg.BatchSize})
			if err != nil {
				err = fmt.Errorf("projection %s: read: %w", r.cfg.Name, err)
			}
			if !send(read, bulkBatch{events: evs, err: err}) || err != nil || len(evs) == 0 {
				return
			}
			after = evs[len(evs)-1].Position
		}
	}()
	prepared := make(chan bulkBatch) // unbuffered: at most one batch prepared ahead
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(prepared)
		for b := range read {
			if b.err == nil && len(b.events) > 0 {
				if b.write, b.err = prep.prepareBulk(ctx, b.events); b.err != nil {
					b.err = fmt.Errorf("projection %s: prepare from position %d: %w", r.cfg.Name, b.events[0].Position, &applyError{b.err})
				}
			}
			if !send(prepared, b) || b.err != nil {
				return
			}
		}
	}()
	return prepared
}

// bulkTx runs write and moves the checkpoint past events, in a
// transaction of its own.
func (r *Runner) bulkTx(ctx context.Context, events []domain.RecordedEvent, write bulkWrite, cache *sqlstmt.Cache) (err error) {
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projection %s: begin: %w", r.cfg.Name, err)
	}
	if r.postgres() {
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return errors.Join(fmt.Errorf("projection %s: %w", r.cfg.Name, err), tx.Rollback())
		}
	}
	apply := func(ctx context.Context, tx *sqlx.Tx, _ []domain.RecordedEvent) error { return write(ctx, tx, cache) }
	if _, err := r.applyEvents(ctx, tx, events, time.Now().UnixMilli(), apply, false); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projection %s: commit: %w", r.cfg.Name, err)
	}
	return nil
}

// bulkAll runs the bulk of a rebuild to the end of the log. When a batch
// fails to apply (not for a Transient reason), it drops the rows the bulk
// holds in memory (they may include the failed batch's) and starts the
// bulk again: its first Step applies that batch with the failing events
// isolated and quarantined, and the bulk goes on after it.
func bulkAll(ctx context.Context, r *Runner, p *Referrals, progress func(int)) (int, error) {
	for {
		before, err := r.Checkpoint(ctx)
		if err != nil {
			return 0, err
		}
		applied, err := r.bulk(ctx, p, progress)
		if err == nil || !errors.As(err, new(*applyError)) || Transient(err) {
			return applied, err
		}
		p.bulk = nil
		after, cErr := r.Checkpoint(ctx)
		if cErr != nil {
			return applied, errors.Join(err, cErr)
		}
		if after.Position == before.Position && after.Applied == before.Applied && before.UpdatedAt == after.UpdatedAt {
			return applied, err // no progress: do not loop
		}
	}
}
