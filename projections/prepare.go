package projections

import (
	"context"
	"fmt"

	"github.com/referral-ledger/referral-ledger/domain"
)

// prepared is a batch read after checkpoint position after and handed to
// a Preparer, outside the runner's transaction.
type prepared struct {
	after  int64
	events []domain.RecordedEvent
}

// prepare reads the batch after the checkpoint and has the handler
// prepare it, if it is a Preparer (else it returns nil). No events: the
// projection has caught up, and no transaction need be opened. A batch
// the handler failed to prepare is still returned: Apply will do it all.
func (r *Runner) prepare(ctx context.Context) (*prepared, error) {
	p, ok := r.handler.(Preparer)
	if !ok {
		return nil, nil
	}
	var pos int64
	if err := r.db.GetContext(ctx, &pos, r.db.Rebind(`SELECT position FROM projection_checkpoints WHERE name = ?`), r.cfg.Name); err != nil {
		return nil, fmt.Errorf("projection %s: read checkpoint: %w", r.cfg.Name, err)
	}
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
