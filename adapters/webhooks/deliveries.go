package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

type deliveryRow struct {
	ID            string         `db:"id"`
	WebhookID     string         `db:"webhook_id"`
	EventID       string         `db:"event_id"`
	EventType     string         `db:"event_type"`
	ReferralCode  sql.NullString `db:"referral_code"`
	State         string         `db:"state"`
	AttemptCount  int            `db:"attempt_count"`
	NextAttemptAt sql.NullInt64  `db:"next_attempt_at"`
	CreatedAt     int64          `db:"created_at"`
}

type attemptRow struct {
	DeliveryID     string         `db:"delivery_id"`
	Attempt        int            `db:"attempt"`
	AttemptedAt    int64          `db:"attempted_at"`
	StatusCode     sql.NullInt64  `db:"status_code"`
	ResponseTimeMS int64          `db:"response_time_ms"`
	Success        bool           `db:"success"`
	Error          sql.NullString `db:"error"`
	ResponseBody   sql.NullString `db:"response_body"`
}

const deliveryColumns = `id, webhook_id, event_id, event_type, referral_code, state, attempt_count, next_attempt_at, created_at`

// maxDeliveriesPage bounds the delivery log's limit.
const maxDeliveriesPage = 500

// Deliveries returns a webhook's delivery log, newest first, with every
// attempt; state filters when set. Errors: domain.EInvalid, domain.ENotFound.
func (w *DeliveryLog) Deliveries(ctx context.Context, appspaceID, webhookID string, limit int, state string) ([]Delivery, error) {
	if _, err := w.load(ctx, w.read, appspaceID, webhookID); err != nil {
		return nil, err
	}
	switch state {
	case "", statePending, stateSucceeded, stateFailed:
	default:
		return nil, domain.Errorf(domain.EInvalid, "status must be pending, succeeded or failed")
	}
	if limit <= 0 || limit > maxDeliveriesPage {
		return nil, domain.Errorf(domain.EInvalid, "limit must be between 1 and %d", maxDeliveriesPage)
	}
	q := `SELECT ` + deliveryColumns + ` FROM webhook_deliveries WHERE webhook_id = ?`
	args := []any{webhookID}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, state)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	return w.deliveries(ctx, q, append(args, limit)...)
}

// ReferralDeliveries returns the deliveries of a referral's events, oldest
// first, for the audit trail.
func (w *DeliveryLog) ReferralDeliveries(ctx context.Context, appspaceID, code string) ([]Delivery, error) {
	return w.deliveries(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE appspace_id = ? AND referral_code = ? ORDER BY created_at, id`, appspaceID, code)
}

func (w *DeliveryLog) deliveries(ctx context.Context, q string, args ...any) ([]Delivery, error) {
	var rows []deliveryRow
	if err := w.read.SelectContext(ctx, &rows, w.read.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	out := make([]Delivery, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	index := make(map[string]int, len(rows))
	ids := make([]string, len(rows))
	for i, r := range rows {
		out[i] = Delivery{ID: r.ID, WebhookID: r.WebhookID, EventID: r.EventID, Event: r.EventType,
			ReferralCode: r.ReferralCode.String, State: r.State, AttemptCount: r.AttemptCount,
			CreatedAt: time.UnixMilli(r.CreatedAt).UTC(), Attempts: []Attempt{}}
		if r.NextAttemptAt.Valid && r.State == statePending {
			t := time.UnixMilli(r.NextAttemptAt.Int64).UTC()
			out[i].NextAttemptAt = &t
		}
		index[r.ID], ids[i] = i, r.ID
	}
	aq, aargs, err := sqlx.In(`SELECT delivery_id, attempt, attempted_at, status_code, response_time_ms, success,
		error, response_body FROM webhook_attempts WHERE delivery_id IN (?) ORDER BY delivery_id, attempt`, ids)
	if err != nil {
		return nil, err
	}
	var attempts []attemptRow
	if err := w.read.SelectContext(ctx, &attempts, w.read.Rebind(aq), aargs...); err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	for _, a := range attempts {
		at := Attempt{Attempt: a.Attempt, AttemptedAt: time.UnixMilli(a.AttemptedAt).UTC(),
			ResponseTimeMS: a.ResponseTimeMS, Success: a.Success}
		if a.StatusCode.Valid {
			code := int(a.StatusCode.Int64)
			at.StatusCode = &code
		}
		if a.Error.Valid {
			at.Error = &a.Error.String
		}
		if a.ResponseBody.Valid {
			at.ResponseBody = &a.ResponseBody.String
		}
		d := &out[index[a.DeliveryID]]
		d.Attempts = append(d.Attempts, at)
	}
	return out, w.annotateWaiting(ctx, out)
}

// Retry redelivers a delivery now, with the same event id and body: one
// more attempt, whatever its state. Errors: domain.ENotFound.
func (w *DeliveryLog) Retry(ctx context.Context, appspaceID, webhookID, deliveryID string) (Delivery, error) {
	err := w.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := w.load(ctx, tx, appspaceID, webhookID); err != nil {
			return err
		}
		now := w.now().UnixMilli()
		res, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE webhook_deliveries SET state = 'pending',
			schedule_from = attempt_count, max_attempts = attempt_count + 1, next_attempt_at = ?, updated_at = ?
			WHERE id = ? AND webhook_id = ?`), now, now, deliveryID, webhookID)
		if err != nil {
			return fmt.Errorf("retry delivery %s: %w", deliveryID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, domain.Errorf(domain.ENotFound, "delivery %s not found", deliveryID))
		}
		return nil
	})
	if err != nil {
		return Delivery{}, err
	}
	wake(w.workWake)
	ds, err := w.deliveries(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE id = ?`, deliveryID)
	if err != nil || len(ds) == 0 {
		return Delivery{}, errors.Join(err, fmt.Errorf("delivery %s vanished", deliveryID))
	}
	return ds[0], nil
}
