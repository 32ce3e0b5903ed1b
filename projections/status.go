package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Checkpoint is where a projection has read the log to.
type Checkpoint struct {
	Name     string `db:"name"`
	Position int64  `db:"position"`
	Applied  int64  `db:"applied"`
	// LastEventAt is when the last applied event was recorded (unix ms).
	LastEventAt sql.NullInt64 `db:"last_event_at"`
	UpdatedAt   int64         `db:"updated_at"`
}

// Lag is how long the oldest event the projection has not applied has
// been in the log (zero when it has applied everything readable).
func Lag(ctx context.Context, store domain.EventStore, c Checkpoint, now time.Time) (time.Duration, error) {
	next, err := store.ReadAll(ctx, domain.ReadAllOptions{After: domain.Position(c.Position), Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("projection %s lag: %w", c.Name, err)
	}
	if len(next) == 0 {
		return 0, nil
	}
	return max(0, now.Sub(next[0].RecordedAt)), nil
}

// Checkpoint returns the runner's checkpoint (zero before its first batch).
func (r *Runner) Checkpoint(ctx context.Context) (Checkpoint, error) {
	var c Checkpoint
	err := r.db.GetContext(ctx, &c, r.db.Rebind(`SELECT name, position, applied, last_event_at, updated_at
		FROM projection_checkpoints WHERE name = ?`), r.cfg.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{Name: r.cfg.Name}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("projection %s: read checkpoint: %w", r.cfg.Name, err)
	}
	return c, nil
}

// Checkpoints returns every projection's checkpoint, by name.
func Checkpoints(ctx context.Context, db *sqlx.DB) ([]Checkpoint, error) {
	var cs []Checkpoint
	if err := db.SelectContext(ctx, &cs, `SELECT name, position, applied, last_event_at, updated_at
		FROM projection_checkpoints ORDER BY name`); err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return cs, nil
}
