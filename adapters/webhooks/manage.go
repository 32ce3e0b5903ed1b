package webhooks

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

const (
	maxNameLen = 200
	maxURLLen  = 2048
)

type webhookRow struct {
	ID                   string         `db:"id"`
	AppspaceID           string         `db:"appspace_id"`
	Name                 string         `db:"name"`
	URL                  string         `db:"url"`
	Events               string         `db:"events"`
	Active               bool           `db:"active"`
	ActiveSince          sql.NullInt64  `db:"active_since"`
	SecretSealed         string         `db:"secret_sealed"`
	PreviousSecretSealed sql.NullString `db:"previous_secret_sealed"`
	PreviousSecretUntil  sql.NullInt64  `db:"previous_secret_until"`
	CreatedAt            int64          `db:"created_at"`
	UpdatedAt            int64          `db:"updated_at"`
	DeletedAt            sql.NullInt64  `db:"deleted_at"`
	isolationRow
}

func (r webhookRow) webhook() (Webhook, error) {
	var events []string
	if err := json.Unmarshal([]byte(r.Events), &events); err != nil {
		return Webhook{}, fmt.Errorf("webhook %s: events column: %w", r.ID, err)
	}
	return Webhook{ID: r.ID, AppspaceID: r.AppspaceID, Name: r.Name, URL: r.URL, Events: events, Active: r.Active,
		CreatedAt: time.UnixMilli(r.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC(),
		Isolation: r.isolation()}, nil
}

const webhookColumns = `id, appspace_id, name, url, events, active, active_since, secret_sealed,
	previous_secret_sealed, previous_secret_until, created_at, updated_at, deleted_at, ` + isolationColumns

// Create saves a webhook and returns it with its secret, which is shown
// only now. Errors: domain.EInvalid.
func (w *Endpoints) Create(ctx context.Context, appspaceID string, in WebhookInput) (Webhook, string, error) {
	events, err := w.validate(ctx, &in.Name, &in.URL, &in.Events)
	if err != nil {
		return Webhook{}, "", err
	}
	if err := in.Limits.Validate(); err != nil {
		return Webhook{}, "", err
	}
	secret, err := NewSecret()
	if err != nil {
		return Webhook{}, "", err
	}
	now := w.now().UnixMilli()
	row := webhookRow{ID: domain.NewPrefixedID("wh"), AppspaceID: appspaceID, Name: in.Name, URL: in.URL,
		Events: events, Active: in.Active == nil || *in.Active, CreatedAt: now, UpdatedAt: now,
		isolationRow: newIsolationRow(in.Limits)}
	if row.Active {
		row.ActiveSince = sql.NullInt64{Int64: now, Valid: true}
	}
	if row.SecretSealed, err = w.cfg.Sealer.Seal(secret, row.ID); err != nil {
		return Webhook{}, "", err
	}
	if _, err := w.db.NamedExecContext(ctx, `INSERT INTO webhooks (`+webhookColumns+`) VALUES (:id, :appspace_id, :name,
		:url, :events, :active, :active_since, :secret_sealed, :previous_secret_sealed, :previous_secret_until,
		:created_at, :updated_at, :deleted_at, `+isolationValues+`)`, row); err != nil {
		return Webhook{}, "", fmt.Errorf("save webhook: %w", err)
	}
	wh, err := row.webhook()
	return wh, secret, err
}

// List returns an appspace's webhooks, oldest first.
func (w *Endpoints) List(ctx context.Context, appspaceID string) ([]Webhook, error) {
	var rows []webhookRow
	if err := w.read.SelectContext(ctx, &rows, w.read.Rebind(`SELECT `+webhookColumns+` FROM webhooks
		WHERE appspace_id = ? AND deleted_at IS NULL ORDER BY created_at, id`), appspaceID); err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	out := make([]Webhook, 0, len(rows))
	for _, r := range rows {
		wh, err := r.webhook()
		if err != nil {
			return nil, err
		}
		out = append(out, wh)
	}
	return out, nil
}

// Get returns one webhook of the appspace. Errors: domain.ENotFound.
func (w *Endpoints) Get(ctx context.Context, appspaceID, id string) (Webhook, error) {
	r, err := w.load(ctx, w.read, appspaceID, id)
	if err != nil {
		return Webhook{}, err
	}
	return r.webhook()
}

func (w *core) load(ctx context.Context, q sqlx.QueryerContext, appspaceID, id string) (webhookRow, error) {
	var r webhookRow
	err := sqlx.GetContext(ctx, q, &r, w.db.Rebind(`SELECT `+webhookColumns+` FROM webhooks
		WHERE id = ? AND appspace_id = ? AND deleted_at IS NULL`), id, appspaceID)
	if errors.Is(err, sql.ErrNoRows) {
		return r, domain.Errorf(domain.ENotFound, "webhook %s not found", id)
	}
	if err != nil {
		return r, fmt.Errorf("load webhook %s: %w", id, err)
	}
	return r, nil
}

// Update changes the fields the patch sets; the secret is unchanged.
// Reactivating a webhook does not queue the events raised while it was
// inactive. Errors: domain.EInvalid, domain.ENotFound.
func (w *Endpoints) Update(ctx context.Context, appspaceID, id string, p WebhookPatch) (Webhook, error) {
	events, err := w.validate(ctx, p.Name, p.URL, p.Events)
	if err != nil {
		return Webhook{}, err
	}
	if err := p.Limits.Validate(); err != nil {
		return Webhook{}, err
	}
	var out Webhook
	err = w.inTx(ctx, func(tx *sqlx.Tx) error {
		r, err := w.load(ctx, tx, appspaceID, id)
		if err != nil {
			return err
		}
		now := w.now().UnixMilli()
		if p.Name != nil {
			r.Name = *p.Name
		}
		if p.URL != nil {
			r.URL = *p.URL
		}
		if p.Events != nil {
			r.Events = events
		}
		if p.Active != nil && *p.Active != r.Active {
			r.Active = *p.Active
			r.ActiveSince = sql.NullInt64{Int64: now, Valid: r.Active}
		}
		r.UpdatedAt = now
		if _, err := tx.NamedExecContext(ctx, `UPDATE webhooks SET name = :name, url = :url, events = :events,
			active = :active, active_since = :active_since, updated_at = :updated_at WHERE id = :id`, r); err != nil {
			return fmt.Errorf("update webhook %s: %w", id, err)
		}
		if err := w.patchIsolation(ctx, tx, &r, p); err != nil {
			return err
		}
		out, err = r.webhook()
		return err
	})
	return out, err
}

// Delete removes a webhook: it receives nothing more, its pending
// deliveries fail, and its delivery log stays for audits. Errors:
// domain.ENotFound.
func (w *Endpoints) Delete(ctx context.Context, appspaceID, id string) error {
	return w.inTx(ctx, func(tx *sqlx.Tx) error {
		if _, err := w.load(ctx, tx, appspaceID, id); err != nil {
			return err
		}
		now := w.now().UnixMilli()
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE webhooks SET deleted_at = ?, active = ?, updated_at = ?
			WHERE id = ?`), now, false, now, id); err != nil {
			return fmt.Errorf("delete webhook %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE webhook_deliveries SET state = 'failed',
			next_attempt_at = NULL, updated_at = ? WHERE webhook_id = ? AND state = 'pending'`), now, id); err != nil {
			return fmt.Errorf("delete webhook %s: fail its pending deliveries: %w", id, err)
		}
		return nil
	})
}

// inTx runs f in a transaction on the writer.
func (w *core) inTx(ctx context.Context, f func(tx *sqlx.Tx) error) (err error) {
	tx, err := w.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
