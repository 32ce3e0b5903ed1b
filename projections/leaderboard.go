package projections

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// periodDays are the leaderboard periods other than "all", in days: one
// per window of windowDays, named "<n>d".
var periodDays = func() map[string]int64 {
	m := make(map[string]int64, len(windowDays))
	for _, n := range windowDays {
		m[fmt.Sprintf("%dd", n)] = n
	}
	return m
}()

// Leaderboard ranks an appspace's referrers by completed desc, total desc,
// referrer_id asc (byte order). Period "all" (or empty) reads the running
// counts per referrer. A period of n days ("7d", "30d", "90d") counts the
// referrals created on the UTC days D-n .. D, where D is the UTC day of
// Now (a zero Now is the current time): the n whole days before Now's day
// and Now's day itself, so at least the last n × 24 hours. Referrals count
// in their current status. Names are the latest a referrer gave, in any
// period.
//
// A period reads rm_referrer_windows, the windows as of the appspace's
// anchor day: the top rows of an index when D is the anchor (the usual
// case: the appspace had a referral created today). On another day it
// counts, from rm_referrals, the referrals of the days in which D's window
// and the anchor's differ, and merges those referrers' corrected counts
// with the top of the others'.
// Errors: domain.EInvalid (unknown period, limit outside 1..100).
func (p *Referrals) Leaderboard(ctx context.Context, q LeaderboardQuery) ([]LeaderboardEntry, error) {
	if q.AppspaceID == "" {
		return nil, domain.Errorf(domain.EInvalid, "appspace is required")
	}
	limit := q.Limit
	if limit == 0 {
		limit = 25
	}
	if limit < 1 || limit > 100 {
		return nil, domain.Errorf(domain.EInvalid, "limit must be between 1 and 100")
	}
	var out []LeaderboardEntry
	var err error
	if q.Period == PeriodAll || q.Period == "" {
		out, err = p.allLeaderboard(ctx, q.AppspaceID, limit)
	} else {
		n, ok := periodDays[q.Period]
		if !ok {
			return nil, domain.Errorf(domain.EInvalid, "period must be all, 7d, 30d or 90d")
		}
		now := q.Now
		if now.IsZero() {
			now = time.Now()
		}
		out, err = p.windowLeaderboard(ctx, q.AppspaceID, n, dayStart(now.UnixMilli()), limit)
	}
	if err != nil {
		return nil, fmt.Errorf("referrals: leaderboard: %w", err)
	}
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}

// readTx begins a read transaction: on PostgreSQL a snapshot, so the
// counts and the reward totals agree.
func (p *Referrals) readTx(ctx context.Context) (*sqlx.Tx, error) {
	var opts *sql.TxOptions
	if p.read.DriverName() == "postgres" {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	return p.read.BeginTxx(ctx, opts)
}

// allLeaderboard returns the top limit referrers of all time.
func (p *Referrals) allLeaderboard(ctx context.Context, appspace string, limit int) (out []LeaderboardEntry, err error) {
	tx, err := p.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, tx.Rollback()) }()
	out, err = leaderboardRows(ctx, tx, tx.Rebind(`SELECT referrer_id, referrer_name, total, completed, pending, expired
		FROM rm_referrers WHERE appspace_id = ?
		ORDER BY completed DESC, total DESC, referrer_id LIMIT ?`), appspace, limit)
	if err != nil {
		return nil, err
	}
	return out, addRewardTotals(ctx, tx, appspace, 0, out, nil)
}

// windowLeaderboard returns the top limit referrers of the n-day window as
// of day, in one read transaction (a snapshot of the rows and the anchor).
func (p *Referrals) windowLeaderboard(ctx context.Context, appspace string, n, day int64, limit int) (out []LeaderboardEntry, err error) {
	tx, err := p.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, tx.Rollback()) }()
	var anchor sql.NullInt64
	if err := tx.GetContext(ctx, &anchor, tx.Rebind(`SELECT MAX(created_day) FROM rm_referral_days WHERE appspace_id = ?`), appspace); err != nil {
		return nil, err
	}
	if !anchor.Valid {
		return nil, nil // no referrals
	}
	want, have := windowOf(day, n), windowOf(anchor.Int64, n)
	add, sub := want.minus(have), have.minus(want)
	top := tx.Rebind(`SELECT w.referrer_id, r.referrer_name, w.total, w.completed, w.pending, w.expired
		FROM rm_referrer_windows w LEFT JOIN rm_referrers r ON r.appspace_id = w.appspace_id AND r.referrer_id = w.referrer_id
		WHERE w.appspace_id = ? AND w.days = ?
		ORDER BY w.completed DESC, w.total DESC, w.referrer_id LIMIT ?`)
	if add.empty() && sub.empty() {
		if out, err = leaderboardRows(ctx, tx, top, appspace, n, limit); err != nil {
			return nil, err
		}
		return out, addRewardTotals(ctx, tx, appspace, n, out, nil)
	}
	// The referrers with referrals on the days that differ, with their
	// stored counts corrected: + those created on days only in want, -
	// those only in have.
	// Names come last, for the top rows only.
	fixed, err := correctedCounts(ctx, tx, appspace, n, add, sub)
	if err != nil {
		return nil, err
	}
	// The others keep their stored counts: the top limit of them are among
	// the top limit + len(fixed) rows.
	touched := make(map[string]bool, len(fixed))
	for _, e := range fixed {
		touched[e.ReferrerID] = true
		if e.Total > 0 {
			out = append(out, e)
		}
	}
	rest, err := leaderboardRows(ctx, tx, tx.Rebind(`SELECT referrer_id, NULL, total, completed, pending, expired
		FROM rm_referrer_windows WHERE appspace_id = ? AND days = ?
		ORDER BY completed DESC, total DESC, referrer_id LIMIT ?`), appspace, n, limit+len(fixed))
	if err != nil {
		return nil, err
	}
	for _, e := range rest {
		if !touched[e.ReferrerID] {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b LeaderboardEntry) int {
		return cmp.Or(cmp.Compare(b.Completed, a.Completed), cmp.Compare(b.Total, a.Total), cmp.Compare(a.ReferrerID, b.ReferrerID))
	})
	out = out[:min(limit, len(out))]
	if err := addNames(ctx, tx, appspace, out); err != nil {
		return nil, err
	}
	return out, p.addCorrectedRewards(ctx, tx, appspace, n, add, sub, out)
}

// correctedCounts returns the stored window counts of the referrers with
// referrals created in add or sub, corrected by those referrals: + those
// created in add, - those in sub. Names are left NULL.
func correctedCounts(ctx context.Context, tx *sqlx.Tx, appspace string, n int64, add, sub span) ([]LeaderboardEntry, error) {
	return leaderboardRows(ctx, tx, tx.Rebind(`SELECT c.referrer_id, NULL,
			COALESCE(w.total, 0) + c.total, COALESCE(w.completed, 0) + c.completed,
			COALESCE(w.pending, 0) + c.pending, COALESCE(w.expired, 0) + c.expired
		FROM (SELECT referrer_id, SUM(s) AS total,
				SUM(CASE WHEN status = 'completed' THEN s ELSE 0 END) AS completed,
				SUM(CASE WHEN status = 'pending' THEN s ELSE 0 END) AS pending,
				SUM(CASE WHEN status = 'expired' THEN s ELSE 0 END) AS expired
			FROM (SELECT referrer_id, status, 1 AS s FROM rm_referrals
					WHERE appspace_id = ? AND created_at >= ? AND created_at < ?
				UNION ALL SELECT referrer_id, status, -1 FROM rm_referrals
					WHERE appspace_id = ? AND created_at >= ? AND created_at < ?) d
			GROUP BY referrer_id) c
		LEFT JOIN rm_referrer_windows w ON w.appspace_id = ? AND w.days = ? AND w.referrer_id = c.referrer_id`),
		appspace, add.lo, add.hi, appspace, sub.lo, sub.hi, appspace, n)
}

// addCorrectedRewards sets the reward totals of out's rows, for the window
// of n days that differs from the stored one by add and sub.
func (p *Referrals) addCorrectedRewards(ctx context.Context, tx *sqlx.Tx, appspace string, n int64, add, sub span, out []LeaderboardEntry) error {
	referrers := make([]string, len(out))
	for i, e := range out {
		referrers[i] = e.ReferrerID
	}
	fix := map[string]rewardTotal{}
	for _, d := range []struct {
		s    span
		sign int64
	}{{add, 1}, {sub, -1}} {
		err := rewardsCreated(ctx, tx, liveTables, tx.DriverName(), appspace, d.s, referrers, func(referrer, value string, k int64) {
			f, units := parseReward(value)
			totalOf(fix, referrer).add(f, d.sign*k, d.sign*k*units)
		})
		if err != nil {
			return err
		}
	}
	return addRewardTotals(ctx, tx, appspace, n, out, fix)
}

// addNames sets the referrers' names from rm_referrers.
func addNames(ctx context.Context, tx *sqlx.Tx, appspace string, out []LeaderboardEntry) error {
	if len(out) == 0 {
		return nil
	}
	args := []any{appspace}
	at := make(map[string]int, len(out))
	for i, e := range out {
		args, at[e.ReferrerID] = append(args, e.ReferrerID), i
	}
	var names []struct {
		ID   string  `db:"referrer_id"`
		Name *string `db:"referrer_name"`
	}
	if err := tx.SelectContext(ctx, &names, tx.Rebind(`SELECT referrer_id, referrer_name FROM rm_referrers
		WHERE appspace_id = ? AND referrer_id IN `+placeholders(1, len(out))), args...); err != nil {
		return err
	}
	for _, n := range names {
		out[at[n.ID]].ReferrerName = n.Name
	}
	return nil
}

// leaderboardRows runs a query selecting (referrer_id, referrer_name,
// total, completed, pending, expired).
func leaderboardRows(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) (out []LeaderboardEntry, err error) {
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var e LeaderboardEntry
		if err := rows.Scan(&e.ReferrerID, &e.ReferrerName, &e.Total, &e.Completed, &e.Pending, &e.Expired); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
