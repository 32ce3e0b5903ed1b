package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
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

// Lag is how far behind now the last applied event was recorded; zero
// before any event was applied.
func (c Checkpoint) Lag(now time.Time) time.Duration {
	if !c.LastEventAt.Valid {
		return 0
	}
	return now.Sub(time.UnixMilli(c.LastEventAt.Int64))
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
