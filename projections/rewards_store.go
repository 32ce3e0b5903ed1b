package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jmoiron/sqlx"
)

// saveRewards returns the statements that add a batch's deltas to
// rm_referrer_rewards. Rows that fall to zero stay, as in
// rm_referral_days; readers skip them.
func saveRewards(driver string, t tables, deltas rewardDeltas) ([]stmt, error) {
	keys := make([]rewardKey, 0, len(deltas))
	for k, d := range deltas {
		if d.n != 0 || d.units != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b rewardKey) int { // a stable lock order
		return cmp.Or(cmp.Compare(a.appspace, b.appspace), cmp.Compare(a.days, b.days), cmp.Compare(a.referrer, b.referrer),
			cmp.Compare(a.format.prefix, b.format.prefix), cmp.Compare(a.format.suffix, b.format.suffix),
			cmp.Compare(a.format.decimals, b.format.decimals))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		d := deltas[k]
		rows[i] = []any{k.appspace, k.days, k.referrer, k.format.prefix, k.format.suffix, k.format.decimals, d.n, d.units}
	}
	return upsert(driver, "save reward totals", fmt.Sprintf(`INSERT INTO %s
		(appspace_id, days, referrer_id, prefix, suffix, decimals, n, units)`, t.rewards), rows,
		fmt.Sprintf(` ON CONFLICT (appspace_id, days, referrer_id, prefix, suffix, decimals) DO UPDATE SET
		n = %[1]s.n + excluded.n, units = %[1]s.units + excluded.units`, t.rewards))
}

// addRewardTotals sets the TotalRewardValue of out's rows from their
// referrers' reward rows of the window of days (0: all time), adjusted by
// fix (nil: no adjustment).
func addRewardTotals(ctx context.Context, tx *sqlx.Tx, appspace string, days int64, out []LeaderboardEntry, fix map[string]rewardTotal) (err error) {
	if len(out) == 0 {
		return nil
	}
	args := []any{appspace, days}
	for _, e := range out {
		args = append(args, e.ReferrerID)
	}
	rows, err := tx.QueryContext(ctx, tx.Rebind(`SELECT referrer_id, prefix, suffix, decimals, n, units FROM rm_referrer_rewards
		WHERE appspace_id = ? AND days = ? AND n <> 0 AND referrer_id IN `+placeholders(1, len(out))), args...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	totals := map[string]rewardTotal{}
	for rows.Next() {
		var referrer string
		var f rewardFormat
		var n, units int64
		if err := rows.Scan(&referrer, &f.prefix, &f.suffix, &f.decimals, &n, &units); err != nil {
			return err
		}
		totalOf(totals, referrer).add(f, n, units)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for referrer, t := range fix {
		for f, d := range t {
			totalOf(totals, referrer).add(f, d.n, d.units)
		}
	}
	for i := range out {
		out[i].TotalRewardValue = totals[out[i].ReferrerID].value()
	}
	return nil
}

func totalOf(m map[string]rewardTotal, referrer string) rewardTotal {
	t := m[referrer]
	if t == nil {
		t = rewardTotal{}
		m[referrer] = t
	}
	return t
}

// rewardsCreated counts the completed referrals with a reward value
// created in s, of the referrers given (all when nil), by referrer and
// value, and passes each count to f.
func rewardsCreated(ctx context.Context, q sqlx.QueryerContext, t tables, driver, appspace string, s span, referrers []string,
	f func(referrer, value string, n int64)) (err error) {
	if s.empty() {
		return nil
	}
	query := `SELECT referrer_id, reward_value, COUNT(*) FROM ` + t.referrals + `
		WHERE appspace_id = ? AND created_at >= ? AND created_at < ? AND status = 'completed' AND reward_value IS NOT NULL`
	args := []any{appspace, s.lo, s.hi}
	if referrers != nil {
		if len(referrers) == 0 {
			return nil
		}
		query += ` AND referrer_id IN ` + placeholders(1, len(referrers))
		for _, r := range referrers {
			args = append(args, r)
		}
	}
	query = sqlx.Rebind(sqlx.BindType(driver), query+` GROUP BY referrer_id, reward_value`)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var referrer, value string
		var n int64
		if err := rows.Scan(&referrer, &value, &n); err != nil {
			return err
		}
		f(referrer, value, n)
	}
	return rows.Err()
}

// deriveRewardWindows fills rm_referrer_rewards' window rows (windowDays)
// from rm_referrals, as of each appspace's anchor: a rebuild's way,
// like deriveWindows. The values are parsed here, so the rows are read
// grouped by value and written back in batches, in tx.
func deriveRewardWindows(ctx context.Context, tx *sqlx.Tx, t tables) error {
	var rows []struct {
		Appspace string `db:"appspace_id"`
		Days     int64  `db:"days"`
		Referrer string `db:"referrer_id"`
		Value    string `db:"reward_value"`
		N        int64  `db:"n"`
	}
	err := tx.SelectContext(ctx, &rows, fmt.Sprintf(`SELECT r.appspace_id, p.days, r.referrer_id, r.reward_value, COUNT(*) AS n
		FROM (SELECT appspace_id, MAX(created_day) AS anchor FROM %s GROUP BY appspace_id) a
		CROSS JOIN (%s) p
		JOIN %s r ON r.appspace_id = a.appspace_id
			AND r.created_at >= a.anchor - p.days * CAST(86400000 AS BIGINT) AND r.created_at < a.anchor + 86400000
		WHERE r.status = 'completed' AND r.reward_value IS NOT NULL
		GROUP BY r.appspace_id, p.days, r.referrer_id, r.reward_value`, t.days, windowDaysTable(), t.referrals))
	if err != nil {
		return fmt.Errorf("rebuild: derive the reward windows: %w", err)
	}
	deltas := rewardDeltas{}
	for _, r := range rows {
		f, units := parseReward(r.Value)
		deltas.addFormat(rewardKey{r.Appspace, r.Days, r.Referrer, f}, r.N, r.N*units)
	}
	stmts, err := saveRewards(tx.DriverName(), t, deltas)
	if err != nil {
		return err
	}
	return execAll(ctx, tx, stmts, nil)
}
