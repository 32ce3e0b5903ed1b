package domain

import "time"

// SeekBefore bisects the positions lo..hi of a log for the last event
// recorded before t, and returns its position (0 when there is none), so
// that reading after it returns every event recorded at or after t.
// atOrAfter returns the first event at or after a position: its position,
// when it was recorded, and false when there is none. It costs about 20
// lookups for a million events, where an index on the recorded time would
// cost every append; the price is that recorded times grow with position
// only up to clock steps (and, on PostgreSQL, a transaction's length), so
// callers ask for a margin before the time they need.
func SeekBefore(lo, hi int64, t time.Time, atOrAfter func(pos int64) (int64, time.Time, bool, error)) (Position, error) {
	var found int64
	for lo <= hi {
		mid := lo + (hi-lo)/2
		pos, at, ok, err := atOrAfter(mid)
		switch {
		case err != nil:
			return 0, err
		case !ok || pos > hi: // no event in [mid, hi]
			hi = mid - 1
		case at.Before(t):
			found, lo = pos, pos+1
		default:
			hi = mid - 1
		}
	}
	return Position(found), nil
}
