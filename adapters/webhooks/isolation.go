package webhooks

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
)

// isolationRow is the isolation part of a webhook row.
type isolationRow struct {
	MaxInFlight    int             `db:"max_in_flight"`
	RateLimit      sql.NullFloat64 `db:"rate_limit"`
	State          string          `db:"state"`
	FailureStreak  int             `db:"failure_streak"`
	DisabledReason sql.NullString  `db:"disabled_reason"`
	DisabledAt     sql.NullInt64   `db:"disabled_at"`
	PausedUntil    sql.NullInt64   `db:"paused_until"`
	HoldUntil      sql.NullInt64   `db:"hold_until"`
}

const (
	isolationColumns = `max_in_flight, rate_limit, state, failure_streak, disabled_reason, disabled_at,
	paused_until, hold_until`
	isolationValues = `:max_in_flight, :rate_limit, :state, :failure_streak, :disabled_reason, :disabled_at,
	:paused_until, :hold_until`
)

func newIsolationRow(l Limits) isolationRow {
	r := isolationRow{MaxInFlight: DefaultMaxInFlight, State: breakerActive}
	r.apply(l)
	return r
}

func (r *isolationRow) apply(l Limits) {
	if l.MaxInFlight != nil {
		r.MaxInFlight = *l.MaxInFlight
	}
	if l.RateLimit != nil {
		r.RateLimit = sql.NullFloat64{Float64: *l.RateLimit, Valid: true}
	}
	if l.ClearRateLimit {
		r.RateLimit = sql.NullFloat64{}
	}
}

func (r isolationRow) isolation() Isolation {
	out := Isolation{MaxInFlight: r.MaxInFlight, State: r.State, FailureStreak: r.FailureStreak}
	if r.RateLimit.Valid {
		out.RateLimit = &r.RateLimit.Float64
	}
	if r.DisabledReason.Valid {
		out.DisabledReason = &r.DisabledReason.String
	}
	if r.DisabledAt.Valid {
		t := time.UnixMilli(r.DisabledAt.Int64).UTC()
		out.DisabledAt = &t
	}
	return out
}

// patchIsolation saves a patch's limits; {active: true} also closes the
// breaker of a paused or disabled endpoint, whose pending deliveries then
// go out again (they waited, due, with their attempts unspent).
func (w *Endpoints) patchIsolation(ctx context.Context, tx *sqlx.Tx, r *webhookRow, p WebhookPatch) error {
	r.apply(p.Limits)
	reset := p.Active != nil && *p.Active && r.State != breakerActive
	if reset {
		r.State, r.FailureStreak, r.PausedUntil, r.HoldUntil = breakerActive, 0, sql.NullInt64{}, sql.NullInt64{}
		r.DisabledReason, r.DisabledAt = sql.NullString{}, sql.NullInt64{}
	}
	q := `UPDATE webhooks SET max_in_flight = ?, rate_limit = ? WHERE id = ?`
	args := []any{r.MaxInFlight, r.RateLimit, r.ID}
	if reset {
		q = `UPDATE webhooks SET max_in_flight = ?, rate_limit = ?, state = 'active', failure_streak = 0,
			failing_since = NULL, pause_level = 0, paused_until = NULL, hold_until = NULL, disabled_reason = NULL,
			disabled_at = NULL WHERE id = ?`
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
		return fmt.Errorf("update the limits of webhook %s: %w", r.ID, err)
	}
	if reset {
		wake(w.workWake)
	}
	return nil
}

// Why a pending delivery waits (Delivery.WaitingReason).
const (
	waitDisabled    = "endpoint_disabled"
	waitInactive    = "endpoint_inactive"
	waitCircuitOpen = "circuit_open"
	waitRetryAfter  = "retry_after"
	waitInFlightCap = "in_flight_cap"
	waitRateLimited = "rate_limited"
)

// annotateWaiting says why each pending delivery waits, and when a paused
// endpoint or a Retry-After holds it, moves its next attempt time there.
// The cap and rate reasons are this replica's view.
func (w *DeliveryLog) annotateWaiting(ctx context.Context, ds []Delivery) error {
	ids := map[string]bool{}
	for _, d := range ds {
		if d.State == statePending {
			ids[d.WebhookID] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	q, args, err := sqlx.In(`SELECT id, active, `+isolationColumns+` FROM webhooks WHERE id IN (?)`, slices.Collect(maps.Keys(ids)))
	if err != nil {
		return err
	}
	var rows []struct {
		ID     string `db:"id"`
		Active bool   `db:"active"`
		isolationRow
	}
	if err := w.read.SelectContext(ctx, &rows, w.read.Rebind(q), args...); err != nil {
		return fmt.Errorf("read the endpoints of deliveries: %w", err)
	}
	byID := map[string]isolationRow{}
	active := map[string]bool{}
	for _, r := range rows {
		byID[r.ID], active[r.ID] = r.isolationRow, r.Active
	}
	now := w.now()
	for i := range ds {
		d := &ds[i]
		if d.State != statePending {
			continue
		}
		r := byID[d.WebhookID]
		hold := func(until int64) {
			if t := time.UnixMilli(until).UTC(); d.NextAttemptAt == nil || d.NextAttemptAt.Before(t) {
				d.NextAttemptAt = &t
			}
		}
		switch {
		case r.State == breakerDisabled:
			d.WaitingReason = waitDisabled
		case !active[d.WebhookID]:
			d.WaitingReason = waitInactive
		case r.State == breakerPaused && r.PausedUntil.Int64 > now.UnixMilli():
			d.WaitingReason = waitCircuitOpen
			hold(r.PausedUntil.Int64)
		case r.HoldUntil.Int64 > now.UnixMilli():
			d.WaitingReason = waitRetryAfter
			hold(r.HoldUntil.Int64)
		case d.NextAttemptAt != nil && !d.NextAttemptAt.After(now):
			d.WaitingReason = w.ends.waiting(d.WebhookID, now)
		}
	}
	return nil
}
