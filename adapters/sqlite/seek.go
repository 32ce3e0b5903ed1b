package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// PositionBefore returns the position of the last event recorded before t,
// or 0 when there is none: ReadAll after it returns every event recorded at
// or after t. It bisects positions (about 20 primary-key lookups for a
// million events) rather than indexing recorded_at, which every append
// would pay for; that relies on recorded_at growing with position, which
// holds up to steps of the clock, so callers ask for a margin before the
// time they need (webhook replay asks a minute early).
func (s *Store) PositionBefore(ctx context.Context, t time.Time) (domain.Position, error) {
	var lo, hi int64
	err := s.read.QueryRowContext(ctx, `SELECT coalesce(min(position), 0), coalesce(max(position), 0) FROM events`).Scan(&lo, &hi)
	if err != nil {
		return 0, fmt.Errorf("position before %s: %w", t, err)
	}
	var found int64
	for lo <= hi {
		mid := lo + (hi-lo)/2
		var pos int64
		var recordedAt string
		err := s.read.QueryRowContext(ctx, `SELECT position, recorded_at FROM events WHERE position >= ? ORDER BY position LIMIT 1`,
			mid).Scan(&pos, &recordedAt)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("position before %s: %w", t, err)
		}
		at, perr := time.Parse(time.RFC3339Nano, recordedAt)
		switch {
		case errors.Is(err, sql.ErrNoRows) || pos > hi: // no event in [mid, hi]
			hi = mid - 1
		case perr != nil:
			return 0, fmt.Errorf("position before %s: event %d: %w", t, pos, perr)
		case at.Before(t):
			found, lo = pos, pos+1
		default:
			hi = mid - 1
		}
	}
	return domain.Position(found), nil
}
