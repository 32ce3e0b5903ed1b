package webhooks

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// attach gives claimed deliveries their webhook's URL and secrets, read
// once per webhook (from the read pool: the claim has committed).
func (w *core) attach(ctx context.Context, batch []due) error {
	if len(batch) == 0 {
		return nil
	}
	ids := map[string]bool{}
	for _, d := range batch {
		ids[d.WebhookID] = true
	}
	q, args, err := sqlx.In(`SELECT `+webhookColumns+` FROM webhooks WHERE id IN (?)`, slices.Collect(maps.Keys(ids)))
	if err != nil {
		return err
	}
	var rows []webhookRow
	if err := sqlx.SelectContext(ctx, w.read, &rows, w.read.Rebind(q), args...); err != nil {
		return fmt.Errorf("load webhooks of claimed deliveries: %w", err)
	}
	w.setTargets(batch, rows)
	return nil
}

// setTargets gives each delivery of batch the URL and secrets of its
// webhook among rows (secrets opened once per webhook); a delivery whose
// webhook is not there fails as an internal error.
func (w *core) setTargets(batch []due, rows []webhookRow) {
	type target struct {
		url     string
		secrets []string
		err     error
	}
	targets := map[string]target{}
	now := w.now()
	for _, r := range rows {
		if _, ok := targets[r.ID]; ok {
			continue
		}
		secrets, err := w.secrets(r, now)
		targets[r.ID] = target{url: r.URL, secrets: secrets, err: err}
	}
	for i := range batch {
		t, ok := targets[batch[i].WebhookID]
		if !ok {
			t.err = fmt.Errorf("webhook %s vanished", batch[i].WebhookID)
		}
		batch[i].url, batch[i].secrets, batch[i].loadErr = t.url, t.secrets, t.err
	}
}

// claimedRow is a delivery claimLateral leased, with its webhook.
type claimedRow struct {
	due
	W webhookRow `db:"w"`
}

// claimedWebhook selects the webhook's columns as claimedRow.W's.
var claimedWebhook = func() string {
	cols := strings.Split(webhookColumns, ",")
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = `w.` + c + ` AS "w.` + c + `"`
	}
	return strings.Join(cols, ", ")
}()

// claimLateral claims for every endpoint in one statement: a LATERAL pick
// per endpoint with its own LIMIT; SKIP LOCKED lets replicas claim side by
// side (PostgreSQL). The same statement reads each delivery's webhook as
// it is now, which the worker read with a second round trip after the
// claim (attach): one round trip per claim instead of two.
func claimLateral(ctx context.Context, w *core, cands []candidate, now, lease int64) ([]due, error) {
	ids, limits, states := make([]string, len(cands)), make([]int64, len(cands)), make([]string, len(cands))
	for i, c := range cands {
		ids[i], limits[i], states[i] = c.ID, int64(c.slots), c.State
	}
	var rows []claimedRow
	err := sqlx.SelectContext(ctx, w.db, &rows, `WITH c AS (UPDATE webhook_deliveries SET next_attempt_at = $1, updated_at = $2
		WHERE id IN (SELECT p.id FROM unnest($3::text[], $4::int[], $5::text[]) AS c (id, n, state)
			CROSS JOIN LATERAL (SELECT d.id FROM webhook_deliveries d WHERE d.webhook_id = c.id AND d.state = 'pending'
				AND d.next_attempt_at <= $2 AND NOT EXISTS (SELECT 1 FROM webhooks h WHERE h.id = c.id
					AND (h.hold_until > $2 OR h.state <> c.state))
				ORDER BY d.next_attempt_at LIMIT c.n FOR UPDATE SKIP LOCKED) p)`+claimReturning+`)
		SELECT c.*, `+claimedWebhook+` FROM c JOIN webhooks w ON w.id = c.webhook_id`,
		lease, now, pq.Array(ids), pq.Array(limits), pq.Array(states))
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	out, webhooks := make([]due, len(rows)), make([]webhookRow, len(rows))
	for i, r := range rows {
		out[i], webhooks[i] = r.due, r.W
	}
	w.setTargets(out, webhooks)
	return out, nil
}
