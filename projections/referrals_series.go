package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// MaxSeriesDays bounds a series query, so one request reads a bounded
// number of day rows.
const MaxSeriesDays = 366

// SeriesQuery asks for an appspace's referrals per UTC day in [From, To);
// both are UTC midnights.
type SeriesQuery struct {
	AppspaceID string
	From, To   time.Time
}

// SeriesPoint is one UTC day: referrals created on it, and referrals that
// completed, expired or were voided on it. A referral completed on one
// day and voided on a later one counts on both: a day's point says what
// happened that day, and does not change once the day is over.
type SeriesPoint struct {
	Day                                 time.Time
	Created, Completed, Expired, Voided int
}

// Series returns one point per UTC day of q, oldest first, read from the
// per-day counts that stats sums (rm_referral_days), never from the
// referrals themselves. A referral settles after it is created, so the
// settled counts need only the rows created before To.
// Errors: domain.EInvalid (no appspace, bounds not midnights, To not after
// From, more than MaxSeriesDays days).
func (p *Referrals) Series(ctx context.Context, q SeriesQuery) (points []SeriesPoint, err error) {
	lo, hi := q.From.UnixMilli(), q.To.UnixMilli()
	switch {
	case q.AppspaceID == "":
		return nil, domain.Errorf(domain.EInvalid, "appspace is required")
	case dayStart(lo) != lo || dayStart(hi) != hi:
		return nil, domain.Errorf(domain.EInvalid, "from and to must be UTC midnights")
	case hi <= lo:
		return nil, domain.Errorf(domain.EInvalid, "to must be after from")
	case (hi-lo)/dayMillis > MaxSeriesDays:
		return nil, domain.Errorf(domain.EInvalid, "a series spans at most %d days", MaxSeriesDays)
	}
	points = make([]SeriesPoint, (hi-lo)/dayMillis)
	for i := range points {
		points[i].Day = time.UnixMilli(lo + int64(i)*dayMillis).UTC()
	}
	rows, err := p.read.QueryContext(ctx, p.read.Rebind(`
		SELECT 'created', created_day, CAST(SUM(n) AS BIGINT) FROM rm_referral_days
			WHERE appspace_id = ? AND created_day >= ? AND created_day < ? GROUP BY created_day
		UNION ALL
		SELECT CASE WHEN status = 'expired' THEN 'expired' ELSE 'completed' END, settled_day, CAST(SUM(n) AS BIGINT)
			FROM rm_referral_days WHERE appspace_id = ? AND created_day < ? AND settled_day <> -1
			AND settled_day >= ? AND settled_day < ? GROUP BY 1, settled_day
		UNION ALL
		SELECT 'voided', voided_day, CAST(SUM(n) AS BIGINT) FROM rm_referral_days
			WHERE appspace_id = ? AND created_day < ? AND status = 'voided'
			AND voided_day >= ? AND voided_day < ? GROUP BY voided_day`),
		q.AppspaceID, lo, hi, q.AppspaceID, hi, lo, hi, q.AppspaceID, hi, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("referrals: series: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var kind string
		var day, n int64
		if err := rows.Scan(&kind, &day, &n); err != nil {
			return nil, fmt.Errorf("referrals: series: %w", err)
		}
		pt := &points[(day-lo)/dayMillis]
		switch kind {
		case "created":
			pt.Created += int(n)
		case "completed":
			pt.Completed += int(n)
		case "expired":
			pt.Expired += int(n)
		case "voided":
			pt.Voided += int(n)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("referrals: series: %w", err)
	}
	return points, nil
}
