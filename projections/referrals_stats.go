package projections

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Stats counts an appspace's referrals created in [From, To) (a nil bound
// is open) as they stood at AsOf (nil: now): Total those created at or
// before AsOf, Completed those completed at or before it, Expired those
// whose expiry was recorded at or before it (the sweep records due
// expiries), Pending the rest. Times count at millisecond precision.
//
// It never counts referrals one by one over whole days: the UTC days that
// lie wholly in the window are summed from rm_referral_days (a few rows per
// day), and only the partial days at the window's ends, and the referrals
// settled on AsOf's own day, are counted from rm_referrals, through
// covering indexes. All of it is one round trip.
// Errors: domain.EInvalid (no appspace, To before From).
func (p *Referrals) Stats(ctx context.Context, q StatsQuery) (Stats, error) {
	if q.AppspaceID == "" {
		return Stats{}, domain.Errorf(domain.EInvalid, "appspace is required")
	}
	if q.From != nil && q.To != nil && q.To.Before(*q.From) {
		return Stats{}, domain.Errorf(domain.EInvalid, "to is before from")
	}
	lo, hi, asOf, asOfDay := statsWindow(q)
	if lo >= hi {
		return Stats{}, nil
	}
	// Whole days: [dayLo, dayHi).
	dayLo, dayHi := lo, hi
	if q.From != nil && dayStart(lo) != lo {
		dayLo = dayStart(lo) + dayMillis
	}
	if hi != math.MaxInt64 {
		dayHi = dayStart(hi)
	}

	var parts []string
	var args []any
	// Each part yields (total, completed, expired, voided); the parts add
	// up. A void counts whatever as_of says: the rows do not record when
	// it happened.
	counted := func(from, to int64) {
		parts = append(parts, `SELECT COUNT(*),
			CAST(COALESCE(SUM(CASE WHEN status = 'completed' AND settled_at <= ? THEN 1 ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN status = 'expired' AND settled_at <= ? THEN 1 ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN status = 'voided' THEN 1 ELSE 0 END), 0) AS BIGINT)
			FROM rm_referrals WHERE appspace_id = ? AND created_at >= ? AND created_at < ?`)
		args = append(args, asOf, asOf, q.AppspaceID, from, to)
	}
	if dayLo >= dayHi {
		counted(lo, hi)
	} else {
		if lo < dayLo {
			counted(lo, dayLo)
		}
		if dayHi < hi {
			counted(dayHi, hi)
		}
		// Whole days, with the referrals settled before AsOf's day...
		parts = append(parts, `SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN status = 'completed' AND settled_day < ? THEN n ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN status = 'expired' AND settled_day < ? THEN n ELSE 0 END), 0) AS BIGINT),
			CAST(COALESCE(SUM(CASE WHEN status = 'voided' THEN n ELSE 0 END), 0) AS BIGINT)
			FROM rm_referral_days WHERE appspace_id = ? AND created_day >= ? AND created_day < ?`)
		args = append(args, asOfDay, asOfDay, q.AppspaceID, dayLo, dayHi)
		if q.AsOf != nil {
			// ...and those settled on AsOf's day, up to AsOf.
			parts = append(parts, `SELECT 0,
				CAST(COALESCE(SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS BIGINT),
				CAST(COALESCE(SUM(CASE WHEN status = 'expired' THEN 1 ELSE 0 END), 0) AS BIGINT),
				0
				FROM rm_referrals WHERE appspace_id = ? AND settled_at >= ? AND settled_at <= ?
				AND created_at >= ? AND created_at < ?`)
			args = append(args, q.AppspaceID, asOfDay, asOf, dayLo, dayHi)
		}
	}
	st, err := p.sumStats(ctx, strings.Join(parts, " UNION ALL "), args)
	if err != nil {
		return Stats{}, fmt.Errorf("referrals: stats: %w", err)
	}
	st.Pending = st.Total - st.Completed - st.Expired - st.Voided
	if st.Total > 0 {
		st.ConversionRate = float64(st.Completed) / float64(st.Total)
	}
	return st, nil
}

// statsWindow returns q's window in unix ms, [lo, hi), cut at AsOf, and
// AsOf and its day's start (MaxInt64 without AsOf).
func statsWindow(q StatsQuery) (lo, hi, asOf, asOfDay int64) {
	lo, hi = int64(math.MinInt64), int64(math.MaxInt64)
	if q.From != nil {
		lo = ceilMillis(*q.From)
	}
	if q.To != nil {
		hi = ceilMillis(*q.To)
	}
	asOf, asOfDay = int64(math.MaxInt64), int64(math.MaxInt64)
	if q.AsOf != nil {
		asOf = q.AsOf.UnixMilli()
		asOfDay = dayStart(asOf)
		hi = min(hi, asOf+1)
	}
	return lo, hi, asOf, asOfDay
}

// sumStats adds up the (total, completed, expired, voided) rows of query.
func (p *Referrals) sumStats(ctx context.Context, query string, args []any) (st Stats, err error) {
	rows, err := p.read.QueryContext(ctx, p.read.Rebind(query), args...)
	if err != nil {
		return Stats{}, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var total, completed, expired, voided int64
		if err := rows.Scan(&total, &completed, &expired, &voided); err != nil {
			return Stats{}, err
		}
		st.Voided += int(voided)
		st.Total += int(total)
		st.Completed += int(completed)
		st.Expired += int(expired)
	}
	return st, rows.Err()
}
