package webhooks

import (
	"context"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// heldQueue is the claimed deliveries the worker holds and has not
// started, in the order they start (see claim). Both the worker's loop
// and each sender, as its request ends, start from it: a sender that
// finishes picks up the next held delivery at once, also while the loop
// waits for a claim (only the loop started them before, so the senders
// that finished during a claim stood idle until it returned).
type heldQueue struct {
	mu      sync.Mutex
	ds      []due
	stopped bool
}

// add queues claimed deliveries behind those held.
func (q *heldQueue) add(ds []due) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ds = append(q.ds, ds...)
}

// stop ends the queue and returns what it held; start does nothing after.
func (q *heldQueue) stop() []due {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	ds := q.ds
	q.ds = nil
	return ds
}

// start sends the held deliveries that may start now, in the order they
// were claimed (which deals endpoints round-robin, see claim), and lets
// go those of an endpoint whose attempt just failed.
func (w *worker) start(ctx context.Context, q *heldQueue, send func(due)) {
	q.mu.Lock()
	if q.stopped || ctx.Err() != nil {
		q.mu.Unlock()
		return
	}
	var keep, drop []due
	for i, d := range q.ds {
		switch w.ends.begin(d.WebhookID, d.epoch, w.cfg.Concurrency) {
		case beginNow:
			send(d)
			continue
		case beginDrop:
			drop = append(drop, d)
			continue
		case beginFull:
			// Every sender is busy: the rest waits as it is (each sender
			// starts from here as it finishes; a delivery of an endpoint
			// that failed meanwhile is let go when its turn comes).
			keep = append(keep, q.ds[i:]...)
		default:
			keep = append(keep, d)
			continue
		}
		break
	}
	q.ds = keep
	q.mu.Unlock()
	w.let(drop) // outside the lock: the senders need the queue meanwhile
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
