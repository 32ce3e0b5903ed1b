package webhooks

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// RotateSecret gives a webhook a new secret and returns it (shown only
// now). For grace after the rotation the old secret signs too. Errors:
// domain.EInvalid, domain.ENotFound.
func (w *Endpoints) RotateSecret(ctx context.Context, appspaceID, id string, grace time.Duration) (string, error) {
	if grace < 0 || grace > MaxGrace {
		return "", domain.Errorf(domain.EInvalid, "grace_seconds must be between 0 and %d", int(MaxGrace.Seconds()))
	}
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	sealed, err := w.cfg.Sealer.Seal(secret, id)
	if err != nil {
		return "", err
	}
	err = w.inTx(ctx, func(tx *sqlx.Tx) error {
		r, err := w.load(ctx, tx, appspaceID, id)
		if err != nil {
			return err
		}
		now := w.now()
		prev, until := sql.NullString{}, sql.NullInt64{}
		if grace > 0 {
			prev = sql.NullString{String: r.SecretSealed, Valid: true}
			until = sql.NullInt64{Int64: now.Add(grace).UnixMilli(), Valid: true}
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE webhooks SET secret_sealed = ?, previous_secret_sealed = ?,
			previous_secret_until = ?, updated_at = ? WHERE id = ?`), sealed, prev, until, now.UnixMilli(), id)
		if err != nil {
			return fmt.Errorf("rotate secret of webhook %s: %w", id, err)
		}
		return nil
	})
	return secret, err
}

// secrets returns the secrets that sign for a webhook now: the current one
// first, then the previous one during a rotation's grace period.
func (w *core) secrets(r webhookRow, now time.Time) ([]string, error) {
	cur, err := w.cfg.Sealer.Open(r.SecretSealed, r.ID)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: open secret: %w", r.ID, err)
	}
	out := []string{cur}
	if r.PreviousSecretSealed.Valid && r.PreviousSecretUntil.Valid && now.UnixMilli() < r.PreviousSecretUntil.Int64 {
		prev, err := w.cfg.Sealer.Open(r.PreviousSecretSealed.String, r.ID)
		if err != nil {
			return nil, fmt.Errorf("webhook %s: open previous secret: %w", r.ID, err)
		}
		out = append(out, prev)
	}
	return out, nil
}
