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
// before AsOf, Voided those voided at or before it, Completed those
// completed at or before it and not voided by then (a referral voided
// after AsOf counts as it was), Expired those whose expiry was recorded at
// or before it (the sweep records due expiries), Pending the rest;
// UnderReview those whose review was open at AsOf. Times count at
// millisecond precision.
//
// It never counts referrals one by one over whole days: the UTC days that
// lie wholly in the window are summed from rm_referral_days (a few rows per
// day), and only the partial days at the window's ends, the referrals
// settled or voided on AsOf's own day, and the reviewed ones are counted
// from rm_referrals, through covering or partial indexes. All of it is one
// round trip.
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
	sq := statsQuery{appspace: q.AppspaceID, asOf: asOf, asOfDay: asOfDay}
	if dayLo >= dayHi {
		sq.counted(lo, hi)
	} else {
		if lo < dayLo {
			sq.counted(lo, dayLo)
		}
		if dayHi < hi {
			sq.counted(dayHi, hi)
		}
		sq.wholeDays(dayLo, dayHi, q.AsOf != nil)
	}
	sq.underReview(lo, hi)
	st, err := p.sumStats(ctx, strings.Join(sq.parts, " UNION ALL "), sq.args)
	if err != nil {
		return Stats{}, fmt.Errorf("referrals: stats: %w", err)
	}
	st.Pending = st.Total - st.Completed - st.Expired - st.Voided
	if st.Total > 0 {
		st.ConversionRate = float64(st.Completed) / float64(st.Total)
	}
	return st, nil
}

// statsQuery gathers the parts of a stats query. Each part yields
// (total, completed, expired, voided, under_review); the parts add up.
type statsQuery struct {
	appspace      string
	asOf, asOfDay int64
	parts         []string
	args          []any
}

// sum is a part's column: the count of rows (or the sum of n) where cond.
func sum(cond, n string) string {
	return `CAST(COALESCE(SUM(CASE WHEN ` + cond + ` THEN ` + n + ` ELSE 0 END), 0) AS BIGINT)`
}

// completedBy is the condition that a row had completed and was not
// voided at a moment (the first parameter: settled by it; the second:
// not voided by it).
const completedBy = `settled_at <= ? AND (status = 'completed' OR (status = 'voided' AND voided_at > ?))`

// counted counts the referrals created in [from, to) one by one.
func (s *statsQuery) counted(from, to int64) {
	s.parts = append(s.parts, `SELECT COUNT(*), `+sum(completedBy, "1")+`,
		`+sum(`status = 'expired' AND settled_at <= ?`, "1")+`,
		`+sum(`status = 'voided' AND voided_at <= ?`, "1")+`, 0
		FROM rm_referrals WHERE appspace_id = ? AND created_at >= ? AND created_at < ?`)
	s.args = append(s.args, s.asOf, s.asOf, s.asOf, s.asOf, s.appspace, from, to)
}

// wholeDays counts the referrals created on the days [dayLo, dayHi) from
// their day counts, as of the start of AsOf's day; with an AsOf, it then
// corrects them by what was settled or voided on AsOf's day up to AsOf.
func (s *statsQuery) wholeDays(dayLo, dayHi int64, asOf bool) {
	d := s.asOfDay
	s.parts = append(s.parts, `SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT),
		`+sum(`settled_day < ? AND (status = 'completed' OR (status = 'voided' AND voided_day >= ?))`, "n")+`,
		`+sum(`status = 'expired' AND settled_day < ?`, "n")+`,
		`+sum(`status = 'voided' AND voided_day < ?`, "n")+`, 0
		FROM rm_referral_days WHERE appspace_id = ? AND created_day >= ? AND created_day < ?`)
	s.args = append(s.args, d, d, d, d, s.appspace, dayLo, dayHi)
	if !asOf {
		return
	}
	// Settled on AsOf's day, up to AsOf (and not voided by then).
	s.parts = append(s.parts, `SELECT 0, `+sum(`status = 'completed' OR voided_at > ?`, "1")+`,
		`+sum(`status = 'expired'`, "1")+`, 0, 0
		FROM rm_referrals WHERE appspace_id = ? AND settled_at >= ? AND settled_at <= ?
		AND created_at >= ? AND created_at < ?`)
	s.args = append(s.args, s.asOf, s.appspace, d, s.asOf, dayLo, dayHi)
	// Voided on AsOf's day, up to AsOf: the day counts had those completed
	// before that day as completed.
	s.parts = append(s.parts, `SELECT 0, -`+sum(`settled_at < ?`, "1")+`, 0, COUNT(*), 0
		FROM rm_referrals WHERE appspace_id = ? AND voided_at >= ? AND voided_at <= ?
		AND created_at >= ? AND created_at < ?`)
	s.args = append(s.args, d, s.appspace, d, s.asOf, dayLo, dayHi)
}

// underReview counts the referrals created in [lo, hi) whose review was
// open at AsOf: flagged by then and not yet resolved.
func (s *statsQuery) underReview(lo, hi int64) {
	s.parts = append(s.parts, `SELECT 0, 0, 0, 0, COUNT(*) FROM rm_referrals
		WHERE appspace_id = ? AND created_at >= ? AND created_at < ? AND review_flagged_at IS NOT NULL
		AND review_flagged_at <= ? AND (review_resolved_at IS NULL OR review_resolved_at > ?)`)
	s.args = append(s.args, s.appspace, lo, hi, s.asOf, s.asOf)
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

// sumStats adds up the (total, completed, expired, voided, under_review)
// rows of query.
func (p *Referrals) sumStats(ctx context.Context, query string, args []any) (st Stats, err error) {
	rows, err := p.read.QueryContext(ctx, p.read.Rebind(query), args...)
	if err != nil {
		return Stats{}, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var total, completed, expired, voided, review int64
		if err := rows.Scan(&total, &completed, &expired, &voided, &review); err != nil {
			return Stats{}, err
		}
		st.Voided += int(voided)
		st.UnderReview += int(review)
		st.Total += int(total)
		st.Completed += int(completed)
		st.Expired += int(expired)
	}
	return st, rows.Err()
}
