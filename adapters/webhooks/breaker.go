package webhooks

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Endpoint states: active, paused (the circuit is open after consecutive
// failures: deliveries wait without spending attempts, and after the
// cooling one probe decides), disabled (every attempt has failed for
// Config.DisableAfter; the owner re-enables it).
const (
	breakerActive   = "active"
	breakerPaused   = "paused"
	breakerDisabled = "disabled"
)

// Breaker defaults.
const (
	DefaultBreakerThreshold   = 5
	DefaultBreakerCooldown    = 30 * time.Second
	DefaultBreakerMaxCooldown = 10 * time.Minute
	DefaultDisableAfter       = 72 * time.Hour
)

// breakerDefaults fills the unset breaker settings.
func (c Config) breakerDefaults() Config {
	if c.BreakerThreshold == 0 {
		c.BreakerThreshold = DefaultBreakerThreshold
	}
	if c.BreakerCooldown == 0 {
		c.BreakerCooldown = DefaultBreakerCooldown
	}
	if c.BreakerMaxCooldown == 0 {
		c.BreakerMaxCooldown = max(DefaultBreakerMaxCooldown, c.BreakerCooldown)
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = DefaultDisableAfter
	}
	return c
}

// health is an endpoint's breaker, as stored on its webhook row.
type health struct {
	ID           string         `db:"id"`
	AppspaceID   string         `db:"appspace_id"`
	URL          string         `db:"url"`
	State        string         `db:"state"`
	Streak       int            `db:"failure_streak"`
	FailingSince sql.NullInt64  `db:"failing_since"`
	Level        int            `db:"pause_level"`
	PausedUntil  sql.NullInt64  `db:"paused_until"`
	HoldUntil    sql.NullInt64  `db:"hold_until"`
	Reason       sql.NullString `db:"disabled_reason"`
	DisabledAt   sql.NullInt64  `db:"disabled_at"`
}

// tally is what one recorded batch says about an endpoint, in attempt order.
type tally struct {
	successes   int
	failsAfter  int   // failures after the last success
	firstFail   int64 // unix ms of the first of those
	probeFailed bool
	holdUntil   int64 // a Retry-After's end, unix ms
}

func (t *tally) add(r recordRow) {
	if r.at.Success {
		t.successes++
		t.failsAfter, t.firstFail = 0, 0
		return
	}
	t.failsAfter++
	if t.firstFail == 0 {
		t.firstFail = r.at.At.UnixMilli()
	}
	t.probeFailed = t.probeFailed || r.probe
	if r.at.RetryAfter > 0 {
		t.holdUntil = max(t.holdUntil, r.at.At.Add(r.at.RetryAfter).UnixMilli())
	}
}

// cooldown is the cooling after the breaker's level-th opening since the
// last success: the base, doubling, up to the maximum.
func (w *worker) cooldown(level int) time.Duration {
	d := w.cfg.BreakerCooldown
	for range min(level, 30) {
		if d >= w.cfg.BreakerMaxCooldown {
			break
		}
		d *= 2
	}
	return min(d, w.cfg.BreakerMaxCooldown)
}

// next is the endpoint's breaker after a batch's attempts; disabled
// reports that it has just been disabled.
func (w *worker) next(h health, t tally, now time.Time) (out health, disabled bool) {
	if h.State == breakerDisabled {
		return h, false // its owner re-enables it; late outcomes change nothing
	}
	if t.holdUntil > 0 {
		h.HoldUntil = sql.NullInt64{Int64: max(h.HoldUntil.Int64, t.holdUntil), Valid: true}
	}
	if t.successes > 0 {
		h.State, h.Level, h.PausedUntil, h.Streak, h.FailingSince = breakerActive, 0, sql.NullInt64{}, 0, sql.NullInt64{}
	}
	if t.failsAfter > 0 {
		h.Streak += t.failsAfter
		if !h.FailingSince.Valid {
			h.FailingSince = sql.NullInt64{Int64: t.firstFail, Valid: true}
		}
	}
	if t.successes == 0 && h.FailingSince.Valid && now.Sub(time.UnixMilli(h.FailingSince.Int64)) >= w.cfg.DisableAfter {
		h.State, h.PausedUntil = breakerDisabled, sql.NullInt64{}
		h.Reason = sql.NullString{String: fmt.Sprintf("every attempt has failed for %s, since %s", w.cfg.DisableAfter,
			time.UnixMilli(h.FailingSince.Int64).UTC().Format(domain.TimeFormat)), Valid: true}
		h.DisabledAt = sql.NullInt64{Int64: now.UnixMilli(), Valid: true}
		return h, true
	}
	open := (h.State == breakerActive && h.Streak >= w.cfg.BreakerThreshold) ||
		(h.State == breakerPaused && t.successes == 0 && t.probeFailed)
	if open {
		h.State = breakerPaused
		h.PausedUntil = sql.NullInt64{Int64: now.Add(w.cooldown(h.Level)).UnixMilli(), Valid: true}
		h.Level++
	}
	return h, false
}

// updateHealth moves the breakers of the endpoints a recorded batch
// attempted, in the batch's transaction. Internal errors are the ledger's
// failures, not the endpoint's, and count for nothing.
func (w *worker) updateHealth(ctx context.Context, tx *sqlx.Tx, won []recordRow) error {
	tallies := map[string]*tally{}
	var order []string
	for _, r := range won {
		if r.at.internal != nil || r.webhook == "" {
			continue
		}
		t, ok := tallies[r.webhook]
		if !ok {
			t = &tally{}
			tallies[r.webhook] = t
			order = append(order, r.webhook)
		}
		t.add(r)
	}
	now := w.now()
	for _, id := range order {
		var h health
		if err := tx.GetContext(ctx, &h, tx.Rebind(`SELECT id, appspace_id, url, state, failure_streak, failing_since,
			pause_level, paused_until, hold_until, disabled_reason, disabled_at FROM webhooks WHERE id = ?`+w.sql.lockHealth), id); err != nil {
			return fmt.Errorf("read the breaker of %s: %w", id, err)
		}
		nh, disabled := w.next(h, *tallies[id], now)
		if nh == h {
			continue
		}
		if _, err := tx.NamedExecContext(ctx, `UPDATE webhooks SET state = :state, failure_streak = :failure_streak,
			failing_since = :failing_since, pause_level = :pause_level, paused_until = :paused_until,
			hold_until = :hold_until, disabled_reason = :disabled_reason, disabled_at = :disabled_at WHERE id = :id`, nh); err != nil {
			return fmt.Errorf("move the breaker of %s: %w", id, err)
		}
		if disabled {
			w.log.WarnContext(ctx, "webhook disabled", "webhook", id, "reason", nh.Reason.String)
			if err := w.announceDisabled(ctx, tx, nh); err != nil {
				return err
			}
		}
	}
	return nil
}
