package webhooks

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// EventWebhookDisabled tells an appspace's other endpoints that one of its
// endpoints was disabled. It is not in the event log: its deliveries are
// written straight into the delivery table when the endpoint is disabled.
const EventWebhookDisabled = "webhook.disabled"

// disabledData is the payload of webhook.disabled.
type disabledData struct {
	WebhookID string `json:"webhook_id"`
	URL       string `json:"url"`
	Reason    string `json:"reason"`
}

// disabledEventID is the stable id of the webhook.disabled event of one
// disabling: the same endpoint and time give the same id, so the (event,
// webhook) uniqueness keeps a repeated transaction from sending it twice.
func disabledEventID(webhookID string, at int64) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("webhook.disabled:%s:%d", webhookID, at)))
	b := sum[:16]
	b[6], b[8] = b[6]&0x0f|0x50, b[8]&0x3f|0x80 // shaped as a name-based UUID
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// announceDisabled queues webhook.disabled for the appspace's other active
// endpoints that subscribe to it, in the transaction that disabled h.
func (w *worker) announceDisabled(ctx context.Context, tx *sqlx.Tx, h health) error {
	id := disabledEventID(h.ID, h.DisabledAt.Int64)
	at := time.UnixMilli(h.DisabledAt.Int64).UTC()
	body, err := json.Marshal(envelope{ID: id, Event: EventWebhookDisabled, Timestamp: at.Format(domain.TimeFormat),
		Data: disabledData{WebhookID: h.ID, URL: h.URL, Reason: h.Reason.String}})
	if err != nil {
		return err
	}
	now := w.now().UnixMilli()
	res, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO webhook_deliveries (id, appspace_id, webhook_id, event_id,
		event_type, body, state, attempt_count, schedule_from, max_attempts, next_attempt_at, created_at, updated_at)
		SELECT `+w.sql.newDeliveryID+`, w.appspace_id, w.id, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?
		FROM webhooks w WHERE w.appspace_id = ? AND w.id <> ? AND w.active AND w.deleted_at IS NULL
		AND w.state <> 'disabled' AND `+w.sql.containsEvent+`
		ON CONFLICT (event_id, webhook_id) DO NOTHING`),
		id, EventWebhookDisabled, string(body), w.maxAttempts(), now, now, now, h.AppspaceID, h.ID, `"`+EventWebhookDisabled+`"`)
	if err != nil {
		return fmt.Errorf("queue %s for %s: %w", EventWebhookDisabled, h.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		w.met.queued.Add(float64(n))
		wake(w.workWake)
	}
	return nil
}
