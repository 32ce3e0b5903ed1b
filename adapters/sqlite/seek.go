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
// or 0 when there is none (see domain.SeekBefore: callers ask for a margin
// before the time they need; webhook replay asks a minute early).
func (s *Store) PositionBefore(ctx context.Context, t time.Time) (domain.Position, error) {
	var lo, hi int64
	err := s.read.QueryRowContext(ctx, `SELECT coalesce(min(position), 0), coalesce(max(position), 0) FROM events`).Scan(&lo, &hi)
	if err != nil {
		return 0, fmt.Errorf("position before %s: %w", t, err)
	}
	pos, err := domain.SeekBefore(lo, hi, t, func(mid int64) (int64, time.Time, bool, error) {
		var pos int64
		var recordedAt string
		err := s.read.QueryRowContext(ctx, `SELECT position, recorded_at FROM events WHERE position >= ? ORDER BY position LIMIT 1`,
			mid).Scan(&pos, &recordedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, time.Time{}, false, nil
		}
		if err != nil {
			return 0, time.Time{}, false, err
		}
		at, err := time.Parse(time.RFC3339Nano, recordedAt)
		if err != nil {
			return 0, time.Time{}, false, fmt.Errorf("event %d: %w", pos, err)
		}
		return pos, at, true, nil
	})
	if err != nil {
		return 0, fmt.Errorf("position before %s: %w", t, err)
	}
	return pos, nil
}
