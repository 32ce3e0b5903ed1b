package webhooks

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
)

// startHeld sends the held deliveries that may start now, in the order
// they were claimed (which deals endpoints round-robin, see claim), lets
// go those of an endpoint whose attempt just failed, and returns the rest.
func (w *worker) startHeld(ctx context.Context, held []due, send func(due)) []due {
	var keep, drop []due
	for _, d := range held {
		switch w.ends.begin(d.WebhookID, d.epoch, w.cfg.Concurrency) {
		case beginNow:
			send(d)
		case beginDrop:
			drop = append(drop, d)
		default:
			keep = append(keep, d)
		}
	}
	if len(drop) > 0 && ctx.Err() == nil {
		w.let(drop)
	}
	return keep
}

// let gives claimed deliveries that were never attempted back: due at
// once, for whichever worker's claim may take them (the breaker and the
// hold decide when), instead of when their leases end.
func (w *worker) let(ds []due) {
	if len(ds) == 0 {
		return
	}
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
		w.ends.drop(d.WebhookID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, args, err := sqlx.In(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE state = 'pending' AND id IN (?)`,
		w.now().UnixMilli(), ids)
	if err == nil {
		_, err = w.db.ExecContext(ctx, w.db.Rebind(q), args...)
	}
	if err != nil {
		w.log.Warn("let claimed webhook deliveries go (they are due again when their leases end)", "err", err,
			"deliveries", len(ds))
	}
}
