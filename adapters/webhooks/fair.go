package webhooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"
)

// candidate is an endpoint with due deliveries that may be sent to now.
type candidate struct {
	ID            string          `db:"id"`
	AppspaceID    string          `db:"appspace_id"`
	MaxInFlight   int             `db:"max_in_flight"`
	RateLimit     sql.NullFloat64 `db:"rate_limit"`
	State         string          `db:"state"`
	FailureStreak int             `db:"failure_streak"`
	PausedUntil   sql.NullInt64   `db:"paused_until"`
	slots         int
	probe         bool
	// epoch is the endpoint's failure count here when its slots were
	// counted (see endpoints.begin).
	epoch int
}

// candidates are the endpoints with due deliveries that are not disabled,
// held by a Retry-After, or paused with their cooling still running (a
// paused one whose cooling ended gets its probe). They are read from the
// read pool (SQLite: not on its one writer, which the claim then takes
// once): the claim checks again what may have changed since.
func (w *worker) candidates(ctx context.Context, now int64) ([]candidate, error) {
	stmt, err := w.readStmt(ctx, w.read.Rebind(candidatesSQL))
	var out []candidate
	if err == nil {
		err = stmt.SelectContext(ctx, &out, now, now, now)
	}
	if err != nil {
		return nil, fmt.Errorf("endpoints with due deliveries: %w", err)
	}
	return out, nil
}

const candidatesSQL = `SELECT w.id, w.appspace_id, w.max_in_flight, w.rate_limit,
	w.state, w.failure_streak, w.paused_until FROM webhooks w
	WHERE w.active AND w.deleted_at IS NULL AND w.state <> 'disabled'
	AND (w.paused_until IS NULL OR w.paused_until <= ?) AND (w.hold_until IS NULL OR w.hold_until <= ?)
	AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending'
		AND d.next_attempt_at <= ?)`

// share gives each candidate its slots (what its cap and rate limit
// allow), then deals budget out round-robin: one delivery per appspace in
// turn, and within an appspace one per endpoint in turn, so neither a busy
// endpoint nor a busy appspace takes the senders. turn rotates who starts.
// It returns the candidates that got slots.
func share(cands []candidate, budget, turn int) []candidate {
	byAppspace := map[string][]int{}
	var appspaces []string
	for i, c := range cands {
		if c.slots <= 0 {
			continue
		}
		if _, ok := byAppspace[c.AppspaceID]; !ok {
			appspaces = append(appspaces, c.AppspaceID)
		}
		byAppspace[c.AppspaceID] = append(byAppspace[c.AppspaceID], i)
	}
	slices.Sort(appspaces)
	given := make([]int, len(cands))
	next := map[string]int{}
	for budget > 0 {
		dealt := false
		for k := range appspaces {
			as := appspaces[(k+turn)%len(appspaces)]
			idx := byAppspace[as]
			for range idx { // the appspace's next endpoint with slots left
				i := idx[(next[as]+turn)%len(idx)]
				next[as]++
				if given[i] < cands[i].slots {
					given[i]++
					budget--
					dealt = true
					break
				}
			}
			if budget == 0 {
				break
			}
		}
		if !dealt {
			break
		}
	}
	var out []candidate
	for i, c := range cands {
		if given[i] > 0 {
			c.slots = given[i]
			out = append(out, c)
		}
	}
	return out
}

// notHeld is the claim's own check of an endpoint's Retry-After hold and
// breaker (parameters: webhook id, now, the state the candidate was read
// in). The candidates were read before the claim: an attempt recorded in
// between may have set a hold or opened the breaker since.
const notHeld = `NOT EXISTS (SELECT 1 FROM webhooks h WHERE h.id = ? AND (h.hold_until > ? OR h.state <> ?))`

// claimFor leases up to c.slots due deliveries of each candidate, oldest
// due first: other workers skip them until the lease ends.
func (w *worker) claimFor(ctx context.Context, cands []candidate, now time.Time) ([]due, error) {
	lease := w.lease(now)
	return w.sql.claim(ctx, w.core, cands, now.UnixMilli(), lease)
}

// claimReturning is what a claim returns of each delivery.
const claimReturning = ` RETURNING id, webhook_id, event_id, event_type, body, attempt_count, schedule_from, max_attempts`

// claimEach claims endpoint by endpoint (SQLite: statements cost no round
// trip, and it has one writer), in one transaction: one commit per claim.
// Then it reads the deliveries' webhooks (attach); if that fails, the
// deliveries are leased all the same, and each fails as an internal error
// and is retried.
func claimEach(ctx context.Context, w *core, cands []candidate, now, lease int64) ([]due, error) {
	out, err := claimEachTx(ctx, w, cands, now, lease)
	if err != nil {
		return nil, err
	}
	if aerr := w.attach(ctx, out); aerr != nil {
		for i := range out {
			out[i].loadErr = aerr
		}
	}
	return out, nil
}

// claimEachTx is claimEach's transaction.
func claimEachTx(ctx context.Context, w *core, cands []candidate, now, lease int64) (out []due, err error) {
	tx, err := w.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		} else if err = tx.Commit(); err != nil {
			out, err = nil, fmt.Errorf("claim deliveries: %w", err)
		}
	}()
	stmt, err := w.inTxStmt(ctx, tx, claimEachSQL)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	for _, c := range cands {
		var got []due
		if err := stmt.SelectContext(ctx, &got, lease, now, c.ID, now, c.ID, now, c.State, c.slots); err != nil {
			return nil, fmt.Errorf("claim deliveries of %s: %w", c.ID, err)
		}
		out = append(out, got...)
	}
	return out, nil
}

const claimEachSQL = `UPDATE webhook_deliveries SET next_attempt_at = ?, updated_at = ?
	WHERE id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = ? AND state = 'pending'
	AND next_attempt_at <= ? AND ` + notHeld + ` ORDER BY next_attempt_at LIMIT ?)` + claimReturning

// takeProbe leases the probe of a paused endpoint whose cooling ended:
// one replica wins it, and the endpoint stays closed to others until the
// probe's outcome is recorded or its lease ends.
func (w *worker) takeProbe(ctx context.Context, c candidate, now time.Time) (bool, error) {
	lease := w.lease(now)
	res, err := w.db.ExecContext(ctx, w.db.Rebind(`UPDATE webhooks SET paused_until = ?
		WHERE id = ? AND state = 'paused' AND paused_until = ?`), lease, c.ID, c.PausedUntil.Int64)
	if err != nil {
		return false, fmt.Errorf("take the probe of %s: %w", c.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
