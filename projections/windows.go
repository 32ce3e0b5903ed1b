package projections

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// windowDays are the lengths, in days, of the windowed leaderboards that
// rm_referrer_windows and rm_referrer_rewards keep: the one home of the
// window sizes. The leaderboard periods ("7d", ...), the rebuild's
// derivations (windowDaysTable) and the roll in Apply all read it. The
// migrations that first filled the tables wrote the sizes out as they
// were then; they have run and stay as they are.
var windowDays = []int64{7, 30, 90}

// windowDaysTable is windowDays as a one-column SQL table of "days":
// SELECT 7 AS days UNION ALL SELECT 30 ...
func windowDaysTable() string {
	parts := make([]string, len(windowDays))
	for i, n := range windowDays {
		parts[i] = fmt.Sprintf("SELECT %d AS days", n)
	}
	return strings.Join(parts, " UNION ALL ")
}

// A window of n days as of day D holds the referrals created on the UTC
// days D-n .. D: the n whole days before D and D itself. As of now, it
// holds at least everything created in the last n × 24 hours.
//
// rm_referrer_windows holds each appspace's windows as of its anchor: the
// latest UTC day any of its referrals was created on. The anchor is a fact
// of the log, so a replay builds the same rows; Apply moves the windows
// when a batch moves the anchor, and a query as of another day corrects
// the rows by the days in which the two windows differ.

// span is the created_at range [lo, hi) in unix ms; empty when lo >= hi.
type span struct{ lo, hi int64 }

// windowOf returns the window of n days as of the day starting at day.
func windowOf(day, n int64) span { return span{day - n*dayMillis, day + dayMillis} }

func (s span) empty() bool            { return s.lo >= s.hi }
func (s span) contains(ms int64) bool { return s.lo <= ms && ms < s.hi }
func (s span) overlaps(o span) bool   { return s.lo < o.hi && o.lo < s.hi }

// minus returns s less o, for windows of one length: one span.
func (s span) minus(o span) span {
	switch {
	case !s.overlaps(o):
		return s
	case o.lo <= s.lo:
		return span{max(s.lo, o.hi), s.hi}
	default:
		return span{s.lo, min(s.hi, o.lo)}
	}
}

// windowKey is a row of rm_referrer_windows.
type windowKey struct {
	appspace string
	days     int64
	referrer string
}

// change is a referral a batch changed: as it was (nil if new) and is.
type change struct {
	old *domain.ReferralView
	now domain.ReferralView
}

// windowDeltas returns what a batch's changes do to rm_referrer_windows,
// and adds what they do to the window rows of rm_referrer_rewards to
// rewards. It reads the appspaces' anchors and, where the batch moves an
// anchor, the rows of rm_referrals created on the days that leave the
// windows: it must run before the batch's rows are saved.
func windowDeltas(ctx context.Context, tx *sqlx.Tx, t tables, changes []change, rewards rewardDeltas) (map[windowKey]*referrerDelta, error) {
	spaces, moved := latestDays(changes)
	anchors, err := loadAnchors(ctx, tx, t, spaces)
	if err != nil {
		return nil, err
	}
	deltas := map[windowKey]*referrerDelta{}
	delta := func(k windowKey) *referrerDelta {
		d := deltas[k]
		if d == nil {
			d = &referrerDelta{}
			deltas[k] = d
		}
		return d
	}
	for _, s := range spaces {
		a, had := anchors[s]
		if had && moved[s] < a {
			moved[s] = a
		}
		if !had || moved[s] == a {
			continue
		}
		for _, n := range windowDays { // the days that leave the window
			out := windowOf(a, n).minus(windowOf(moved[s], n))
			if out.empty() {
				continue
			}
			err := countCreated(ctx, tx, tx.Rebind(`SELECT referrer_id, status, COUNT(*) FROM `+t.referrals+`
				WHERE appspace_id = ? AND created_at >= ? AND created_at < ? GROUP BY referrer_id, status`),
				[]any{s, out.lo, out.hi}, func(referrer string, st domain.Status, k int64) {
					delta(windowKey{s, n, referrer}).count(st, -k)
				})
			if err == nil {
				err = rewardsCreated(ctx, tx, t, tx.DriverName(), s, out, nil, func(referrer, value string, k int64) {
					f, units := parseReward(value)
					rewards.addFormat(rewardKey{s, n, referrer, f}, -k, -k*units)
				})
			}
			if err != nil {
				return nil, fmt.Errorf("referrals: roll the %d-day window: %w", n, err)
			}
		}
	}
	for _, c := range changes {
		s, created := c.now.AppspaceID, c.now.CreatedAt.UnixMilli()
		a, had := anchors[s]
		for _, n := range windowDays {
			w := windowOf(moved[s], n)
			if !w.contains(created) {
				continue // not in the window; if it was, the roll took its old state out
			}
			k := windowKey{s, n, c.now.ReferrerID}
			if c.old != nil && had && windowOf(a, n).contains(created) {
				delta(k).count(c.old.Status, -1)
				rewards.add(*c.old, n, -1)
			}
			delta(k).count(c.now.Status, 1)
			rewards.add(c.now, n, 1)
		}
	}
	return deltas, nil
}

// latestDays returns the appspaces of changes, in order, and the latest
// creation day of each one's changed referrals.
func latestDays(changes []change) ([]string, map[string]int64) {
	var spaces []string
	moved := map[string]int64{}
	for _, c := range changes {
		day := dayStart(c.now.CreatedAt.UnixMilli())
		a, seen := moved[c.now.AppspaceID]
		if !seen {
			spaces = append(spaces, c.now.AppspaceID)
		}
		if !seen || day > a {
			moved[c.now.AppspaceID] = day
		}
	}
	return spaces, moved
}

// loadAnchors returns the anchor day of each appspace that has referrals.
// One MAX per appspace, not a GROUP BY, so each reads one index entry.
func loadAnchors(ctx context.Context, tx *sqlx.Tx, t tables, spaces []string) (map[string]int64, error) {
	out := make(map[string]int64, len(spaces))
	for chunk := range chunks(spaces, maxParams/2) {
		args := make([]any, 0, 2*len(chunk))
		parts := make([]string, len(chunk))
		for i, s := range chunk {
			args = append(args, s, s)
			parts[i] = `SELECT CAST(? AS TEXT) AS appspace_id,
				(SELECT MAX(created_day) FROM ` + t.days + ` WHERE appspace_id = ?) AS anchor`
		}
		var rows []struct {
			Appspace string        `db:"appspace_id"`
			Anchor   sql.NullInt64 `db:"anchor"`
		}
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(strings.Join(parts, " UNION ALL ")), args...); err != nil {
			return nil, fmt.Errorf("referrals: load window anchors: %w", err)
		}
		for _, r := range rows {
			if r.Anchor.Valid {
				out[r.Appspace] = r.Anchor.Int64
			}
		}
	}
	return out, nil
}

// countCreated runs a query yielding (referrer_id, status, count) rows.
func countCreated(ctx context.Context, q sqlx.QueryerContext, query string, args []any, f func(string, domain.Status, int64)) (err error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var referrer, status string
		var n int64
		if err := rows.Scan(&referrer, &status, &n); err != nil {
			return err
		}
		f(referrer, domain.Status(status), n)
	}
	return rows.Err()
}

// saveWindows returns the statements that add the batch's deltas to
// rm_referrer_windows and delete the rows that fall to zero, so the table
// holds exactly the referrers with referrals in a window.
func saveWindows(driver string, t tables, deltas map[windowKey]*referrerDelta) ([]stmt, error) {
	keys := make([]windowKey, 0, len(deltas))
	shrunk := map[windowKey]bool{} // (appspace, days) whose rows may have reached zero
	for k, d := range deltas {
		if d.total != 0 || d.completed != 0 || d.pending != 0 || d.expired != 0 {
			keys = append(keys, k)
		}
		if d.total < 0 {
			shrunk[windowKey{appspace: k.appspace, days: k.days}] = true
		}
	}
	slices.SortFunc(keys, func(a, b windowKey) int {
		return cmp.Or(cmp.Compare(a.appspace, b.appspace), cmp.Compare(a.days, b.days), cmp.Compare(a.referrer, b.referrer))
	})
	rows := make([][]any, len(keys))
	for i, k := range keys {
		d := deltas[k]
		rows[i] = []any{k.appspace, k.days, k.referrer, d.total, d.completed, d.pending, d.expired}
	}
	stmts, err := upsert(driver, "save windows", fmt.Sprintf(`INSERT INTO %s
		(appspace_id, days, referrer_id, total, completed, pending, expired)`, t.windows), rows,
		fmt.Sprintf(` ON CONFLICT (appspace_id, days, referrer_id) DO UPDATE SET
		total = %[1]s.total + excluded.total,
		completed = %[1]s.completed + excluded.completed,
		pending = %[1]s.pending + excluded.pending,
		expired = %[1]s.expired + excluded.expired`, t.windows))
	for k := range shrunk {
		// completed = 0 too, so the rank index finds the rows.
		stmts = append(stmts, stmt{what: "prune windows", q: sqlx.Rebind(sqlx.BindType(driver), `DELETE FROM `+t.windows+`
			WHERE appspace_id = ? AND days = ? AND completed = 0 AND total = 0`), args: []any{k.appspace, k.days}})
	}
	return stmts, err
}

// deriveWindows fills an empty rm_referrer_windows from rm_referrals and
// rm_referral_days, as the migration that made it does: a rebuild's way,
// one statement after the bulk of the log instead of a roll per day. Its
// window lengths are windowDays.
func deriveWindows(ctx context.Context, db sqlx.ExecerContext, t tables) error {
	_, err := db.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s
		(appspace_id, days, referrer_id, total, completed, pending, expired)
		SELECT r.appspace_id, p.days, r.referrer_id, COUNT(*),
			SUM(CASE WHEN r.status = 'completed' THEN 1 ELSE 0 END),
			SUM(CASE WHEN r.status = 'pending' THEN 1 ELSE 0 END),
			SUM(CASE WHEN r.status = 'expired' THEN 1 ELSE 0 END)
		FROM (SELECT appspace_id, MAX(created_day) AS anchor FROM %s GROUP BY appspace_id) a
		CROSS JOIN (%s) p
		JOIN %s r ON r.appspace_id = a.appspace_id
			AND r.created_at >= a.anchor - p.days * CAST(86400000 AS BIGINT) AND r.created_at < a.anchor + 86400000
		GROUP BY r.appspace_id, p.days, r.referrer_id`, t.windows, t.days, windowDaysTable(), t.referrals))
	if err != nil {
		return fmt.Errorf("rebuild: derive the leaderboard windows: %w", err)
	}
	return nil
}
