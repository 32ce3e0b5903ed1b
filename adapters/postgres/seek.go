package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// PositionBefore returns the position of an event recorded before t such
// that ReadAll after it returns every event recorded at or after t, or 0
// when there is none (see domain.SeekBefore). recorded_at (a transaction's
// start) grows with position and with commit order only up to the length
// of a transaction and steps of the clock, so callers ask for a margin
// before the time they need (webhook replay asks a minute early).
func (s *Store) PositionBefore(ctx context.Context, t time.Time) (domain.Position, error) {
	var lo, hi int64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(min(position), 0), coalesce(max(position), 0) FROM events`).Scan(&lo, &hi)
	if err != nil {
		return 0, fmt.Errorf("position before %s: %w", t, err)
	}
	pos, err := domain.SeekBefore(lo, hi, t, func(mid int64) (int64, time.Time, bool, error) {
		var pos int64
		var at time.Time
		err := s.db.QueryRowContext(ctx, `SELECT position, recorded_at FROM events WHERE position >= $1 ORDER BY position LIMIT 1`,
			mid).Scan(&pos, &at)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, time.Time{}, false, nil
		}
		return pos, at, err == nil, err
	})
	if err != nil {
		return 0, fmt.Errorf("position before %s: %w", t, err)
	}
	return pos, nil
}
