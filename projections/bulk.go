package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// bulk applies the log from the runner's checkpoint to its end, reading
// the next batch while it applies the current one. It is for a runner that
// is alone on its checkpoint (a rebuild's): it does not lock the
// checkpoint row per batch. It returns how many events it applied.
func (r *Runner) bulk(ctx context.Context, progress func(int)) (applied int, err error) {
	if _, err := r.Step(ctx); err != nil { // creates the checkpoint; may apply a batch
		return 0, err
	}
	c, err := r.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	applied = int(c.Applied)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type batch struct {
		events []domain.RecordedEvent
		err    error
	}
	batches := make(chan batch, 2)
	go func() {
		defer close(batches)
		after := domain.Position(c.Position)
		for {
			evs, err := r.store.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: r.cfg.BatchSize})
			select {
			case batches <- batch{evs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(evs) == 0 {
				return
			}
			after = evs[len(evs)-1].Position
		}
	}()
	for b := range batches {
		if b.err != nil {
			return applied, fmt.Errorf("projection %s: read: %w", r.cfg.Name, b.err)
		}
		if len(b.events) == 0 {
			return applied, nil
		}
		if err := r.applyInTx(ctx, b.events); err != nil {
			return applied, err
		}
		applied += len(b.events)
		if progress != nil {
			progress(applied)
		}
	}
	return applied, ctx.Err()
}

// applyInTx applies events and the checkpoint in a transaction of its own.
func (r *Runner) applyInTx(ctx context.Context, events []domain.RecordedEvent) (err error) {
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("projection %s: begin: %w", r.cfg.Name, err)
	}
	if err := r.applyEvents(ctx, tx, events, time.Now().UnixMilli()); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("projection %s: commit: %w", r.cfg.Name, err)
	}
	return nil
}
