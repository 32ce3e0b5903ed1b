package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Preparer is a Handler that does the costly part of a batch before the
// runner's write transaction (reading through db, the runner's database,
// or its own pool of readers), so that the transaction (on SQLite, the
// file's one writer) is held only to write. The runner reads the batch
// after the checkpoint outside the transaction and hands it to Prepare;
// then, in the transaction, if the checkpoint has not moved meanwhile, it
// calls Apply with the same events (else with the batch it reads again).
// Apply must be correct whether or not Prepare saw its events.
//
// With RunnerConfig.Lookahead, a full batch's successor is read and
// prepared while the full batch is applied and committed: Prepare may
// then be told a batch whose predecessor (the batch Prepare was told
// last) has not committed yet, or never will, concurrently with Apply.
type Preparer interface {
	Handler
	Prepare(ctx context.Context, db *sqlx.DB, events []domain.RecordedEvent) error
}

// prepared is a batch read after checkpoint position after and handed to
// a Preparer, outside the runner's transaction.
type prepared struct {
	after  int64
	events []domain.RecordedEvent
}

// lookahead is the next batch being read and prepared (Lookahead).
type lookahead struct {
	done   chan struct{}
	pre    *prepared
	err    error
	cancel context.CancelFunc
}

// prepare reads the batch after the checkpoint and has the handler
// prepare it, if it is a Preparer (else it returns nil). No events: the
// projection has caught up, and no transaction need be opened. A batch
// the handler failed to prepare is still returned: Apply will do it all.
// The batch a lookahead prepared is taken if there is one: applyBatch
// checks that it follows the checkpoint. A full batch starts the
// lookahead of the next.
func (r *Runner) prepare(ctx context.Context) (*prepared, error) {
	p, ok := r.handler.(Preparer)
	if !ok {
		return nil, nil
	}
	if a := r.ahead; a != nil {
		r.ahead = nil
		<-a.done
		a.cancel()
		if a.err == nil {
			r.lookAhead(ctx, p, a.pre)
			return a.pre, nil
		}
	}
	var pos int64
	if err := r.db.GetContext(ctx, &pos, r.db.Rebind(`SELECT position FROM projection_checkpoints WHERE name = ?`), r.cfg.Name); err != nil {
		return nil, fmt.Errorf("projection %s: read checkpoint: %w", r.cfg.Name, err)
	}
	pre, err := r.readPrepared(ctx, p, pos)
	if err == nil {
		r.lookAhead(ctx, p, pre)
	}
	return pre, err
}

// readPrepared reads the batch after position pos and has p prepare it.
func (r *Runner) readPrepared(ctx context.Context, p Preparer, pos int64) (*prepared, error) {
	events, err := r.store.ReadAll(ctx, domain.ReadAllOptions{After: domain.Position(pos), Limit: r.cfg.BatchSize})
	if err != nil || len(events) == 0 {
		return &prepared{after: pos}, err
	}
	if err := p.Prepare(ctx, r.db, events); err != nil && ctx.Err() == nil {
		// Apply does without: it is told the same events unprepared.
		r.log.WarnContext(ctx, "projection could not prepare a batch; applying it unprepared", "projection", r.cfg.Name,
			"position", events[0].Position, "err", err)
	}
	return &prepared{after: pos, events: events}, nil
}

// lookAhead starts reading and preparing the batch after pre if pre is a
// full batch (a backlog) and the runner is configured to.
func (r *Runner) lookAhead(ctx context.Context, p Preparer, pre *prepared) {
	if !r.cfg.Lookahead || len(pre.events) < r.cfg.BatchSize {
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	a := &lookahead{done: make(chan struct{}), cancel: cancel}
	after := int64(pre.events[len(pre.events)-1].Position)
	go func() {
		defer close(a.done)
		a.pre, a.err = r.readPrepared(ctx, p, after)
	}()
	r.ahead = a
}

// dropAhead cancels and forgets the lookahead, if any.
func (r *Runner) dropAhead() {
	if a := r.ahead; a != nil {
		r.ahead = nil
		a.cancel()
		<-a.done
	}
}
