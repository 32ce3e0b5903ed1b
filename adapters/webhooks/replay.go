package webhooks

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// clockSkew is how far past Until the log is read: positions follow
// commit order, which may differ from recorded_at by a moment.
const clockSkew = time.Minute

// Replay queues every event of the appspace recorded in [Since, Until)
// and subscribed by the webhook (or named in Events): a new delivery, or
// the existing one rearmed with a fresh retry schedule. The event id and
// body stay those of the first delivery. It returns how many deliveries it
// queued. Errors: domain.EInvalid, domain.ENotFound.
func (w *DeliveryLog) Replay(ctx context.Context, appspaceID, webhookID string, in ReplayInput) (int, error) {
	r, err := w.load(ctx, w.read, appspaceID, webhookID)
	if err != nil {
		return 0, err
	}
	if !r.Active {
		return 0, domain.Errorf(domain.EInvalid, "webhook %s is inactive; activate it before replaying", webhookID)
	}
	if in.Since.IsZero() || in.Until.IsZero() || !in.Since.Before(in.Until) {
		return 0, domain.Errorf(domain.EInvalid, "since and until are required, and since must be before until")
	}
	wh, err := r.webhook()
	if err != nil {
		return 0, err
	}
	types := wh.Events
	if len(in.Events) > 0 {
		for _, e := range in.Events {
			if !slices.Contains(EventTypes, e) {
				return 0, domain.Errorf(domain.EInvalid, "unknown event %q; events are %v", e, EventTypes)
			}
		}
		types = in.Events
	}
	reader := streamReader{store: w.cfg.Events}
	queued := 0
	after, err := w.startOf(ctx, in.Since.Add(-clockSkew))
	if err != nil {
		return 0, err
	}
	for {
		batch, err := w.cfg.Events.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: 1000,
			StreamPrefix: domain.StreamPrefix(appspaceID)})
		if err != nil {
			return queued, err
		}
		var outs []Outgoing
		done := len(batch) == 0
		for _, e := range batch {
			after = e.Position
			if e.RecordedAt.After(in.Until.Add(clockSkew)) {
				done = true
				break
			}
			if e.RecordedAt.Before(in.Since) || !e.RecordedAt.Before(in.Until) {
				continue
			}
			out, ok, err := reader.outgoing(ctx, e)
			if err != nil {
				return queued, err
			}
			if ok && slices.Contains(types, out.Type) {
				outs = append(outs, out)
			}
		}
		if len(outs) > 0 {
			if err := w.inTx(ctx, func(tx *sqlx.Tx) error { return w.requeue(ctx, tx, webhookID, outs) }); err != nil {
				return queued, err
			}
			queued += len(outs)
			wake(w.workWake)
		}
		if done {
			return queued, nil
		}
	}
}

// timeSeeker is implemented by stores that can find where in the log a
// time begins (the SQL stores).
type timeSeeker interface {
	// PositionBefore returns a cursor after which ReadAll returns every
	// event recorded at or after t; 0 is the start of the log.
	PositionBefore(ctx context.Context, t time.Time) (domain.Position, error)
}

// startOf is where a replay from t starts reading: the store's position
// for t, so a replay of the last hour does not read years of log inside
// the request; the start of the log on a store that cannot tell
// (EventStoreDB, where $all has no index by time).
func (w *DeliveryLog) startOf(ctx context.Context, t time.Time) (domain.Position, error) {
	seeker, ok := w.cfg.Events.(timeSeeker)
	if !ok {
		return 0, nil
	}
	pos, err := seeker.PositionBefore(ctx, t)
	if err != nil {
		return 0, fmt.Errorf("replay: %w", err)
	}
	return pos, nil
}

// requeue inserts or rearms the deliveries of outs to one webhook.
func (w *DeliveryLog) requeue(ctx context.Context, tx *sqlx.Tx, webhookID string, outs []Outgoing) error {
	now := w.now().UnixMilli()
	for _, o := range outs {
		_, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO webhook_deliveries (id, appspace_id, webhook_id, event_id,
			event_type, referral_code, body, state, attempt_count, schedule_from, max_attempts, next_attempt_at,
			created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?)
			ON CONFLICT (event_id, webhook_id) DO UPDATE SET state = 'pending', schedule_from = webhook_deliveries.attempt_count,
			max_attempts = webhook_deliveries.attempt_count + ?, next_attempt_at = ?, updated_at = ?`),
			domain.NewPrefixedID("dlv"), o.AppspaceID, webhookID, o.EventID, o.Type, o.ReferralCode, string(o.Body),
			w.maxAttempts(), now, now, now, w.maxAttempts(), now, now)
		if err != nil {
			return fmt.Errorf("replay event %s: %w", o.EventID, err)
		}
	}
	return nil
}
