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
// when there is none. It bisects positions (about 20 primary-key lookups
// for a million events) rather than indexing recorded_at, which every
// append would pay for. recorded_at (a transaction's start) grows with
// position and with commit order only up to the length of a transaction
// and steps of the clock, so callers ask for a margin before the time they
// need (webhook replay asks a minute early).
func (s *Store) PositionBefore(ctx context.Context, t time.Time) (domain.Position, error) {
	var lo, hi int64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(min(position), 0), coalesce(max(position), 0) FROM events`).Scan(&lo, &hi)
	if err != nil {
		return 0, fmt.Errorf("position before %s: %w", t, err)
	}
	var found int64
	for lo <= hi {
		mid := lo + (hi-lo)/2
		var pos int64
		var at time.Time
		err := s.db.QueryRowContext(ctx, `SELECT position, recorded_at FROM events WHERE position >= $1 ORDER BY position LIMIT 1`,
			mid).Scan(&pos, &at)
		switch {
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return 0, fmt.Errorf("position before %s: %w", t, err)
		case err != nil || pos > hi: // no event in [mid, hi]
			hi = mid - 1
		case at.Before(t):
			found, lo = pos, pos+1
		default:
			hi = mid - 1
		}
	}
	return domain.Position(found), nil
}
