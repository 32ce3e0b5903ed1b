package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/domain"
)

// referralColumns are rm_referrals' columns, in the order of referralRow's
// values and scan targets.
const referralColumns = `appspace_id, referral_code, referral_id, referrer_id, referrer_name,
	referred_user_id, referred_user_name, referral_url, status, milestone, milestone_history,
	reward_type, reward_value, referee_reward_type, referee_reward_value,
	reward_claimed_at, referee_reward_claimed_at, created_at, expires_at, completed_at,
	expired_at, settled_at, metadata, version, ` + lifecycleColumns

// referralUpdates sets every non-key column of rm_referrals from excluded.
var referralUpdates = func() string {
	var sets []string
	for _, c := range strings.Split(referralColumns, ",")[2:] {
		c = strings.TrimSpace(c)
		sets = append(sets, c+" = excluded."+c)
	}
	return strings.Join(sets, ", ")
}()

// prefixed qualifies each of a list of columns with prefix.
func prefixed(prefix, columns string) string {
	cs := strings.Split(columns, ",")
	for i, c := range cs {
		cs[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cs, ", ")
}

// maxParams bounds the parameters of one statement, under SQLite's limit
// (32766) and PostgreSQL's (65535).
const maxParams = 30000

// historyEntry is one milestone_history element as stored.
type historyEntry struct {
	Milestone string `json:"milestone"`
	Timestamp int64  `json:"timestamp"` // unix ms
}

// referralValues returns a view's row, in referralColumns order.
func referralValues(v domain.ReferralView) ([]any, error) {
	hist := make([]historyEntry, len(v.MilestoneHistory))
	for i, m := range v.MilestoneHistory {
		hist[i] = historyEntry{Milestone: m.Milestone, Timestamp: m.Timestamp.UnixMilli()}
	}
	h, err := json.Marshal(hist)
	if err != nil {
		return nil, fmt.Errorf("encode milestone history of %s: %w", v.ReferralCode, err)
	}
	var meta *string
	if v.Metadata != nil {
		s := string(v.Metadata)
		meta = &s
	}
	row := []any{v.AppspaceID, v.ReferralCode, v.ReferralID, v.ReferrerID, v.ReferrerName,
		v.ReferredUserID, v.ReferredUserName, v.ReferralURL, string(v.Status), v.Milestone, string(h),
		v.RewardType, v.RewardValue, v.RefereeRewardType, v.RefereeRewardValue,
		millis(v.RewardClaimedAt), millis(v.RefereeRewardClaimedAt), v.CreatedAt.UnixMilli(), millis(v.ExpiresAt),
		millis(v.CompletedAt), millis(v.ExpiredAt), millis(settledAt(v)), meta, int64(v.Version)}
	life, err := lifecycleValues(v)
	if err != nil {
		return nil, err
	}
	return append(row, life...), nil
}

// scanReferral reads a row selected with referralColumns.
func scanReferral(rows *sqlx.Rows) (domain.ReferralView, error) {
	var (
		v                                                      domain.ReferralView
		status, hist                                           string
		created, version                                       int64
		rewardClaimed, refereeClaimed, expires, completed, exp sql.NullInt64
		settled                                                sql.NullInt64
		meta                                                   sql.NullString
		life                                                   lifecycleScan
	)
	err := rows.Scan(append([]any{&v.AppspaceID, &v.ReferralCode, &v.ReferralID, &v.ReferrerID, &v.ReferrerName,
		&v.ReferredUserID, &v.ReferredUserName, &v.ReferralURL, &status, &v.Milestone, &hist,
		&v.RewardType, &v.RewardValue, &v.RefereeRewardType, &v.RefereeRewardValue,
		&rewardClaimed, &refereeClaimed, &created, &expires, &completed, &exp, &settled, &meta, &version},
		life.targets()...)...)
	if err != nil {
		return v, fmt.Errorf("scan referral: %w", err)
	}
	var entries []historyEntry
	if err := json.Unmarshal([]byte(hist), &entries); err != nil {
		return v, fmt.Errorf("decode milestone history of %s: %w", v.ReferralCode, err)
	}
	for _, e := range entries {
		v.MilestoneHistory = append(v.MilestoneHistory, domain.MilestoneEntry{Milestone: e.Milestone, Timestamp: fromMillis(e.Timestamp)})
	}
	v.Status = domain.Status(status)
	v.RewardClaimedAt, v.RefereeRewardClaimedAt = timeOf(rewardClaimed), timeOf(refereeClaimed)
	v.CreatedAt, v.ExpiresAt = fromMillis(created), timeOf(expires)
	v.CompletedAt, v.ExpiredAt = timeOf(completed), timeOf(exp)
	if meta.Valid {
		v.Metadata = json.RawMessage(meta.String)
	}
	v.Version = domain.Revision(version)
	return v, life.into(&v)
}

// queryer is a pool or a transaction.
type queryer interface {
	sqlx.QueryerContext
	DriverName() string
	Rebind(string) string
}

// loadReferrals reads the rows of keys that exist.
func loadReferrals(ctx context.Context, tx queryer, t tables, keys []referralKey) (map[referralKey]domain.ReferralView, error) {
	out := make(map[referralKey]domain.ReferralView, len(keys))
	if tx.DriverName() == "postgres" { // two arrays: one cheap statement for any number of keys
		spaces, codes := make([]string, len(keys)), make([]string, len(keys))
		for i, k := range keys {
			spaces[i], codes[i] = k.appspace, k.code
		}
		// A lateral lookup per key (its LIMIT keeps the planner from
		// flattening it into a join), not a join: a rebuild's table has no
		// statistics while the bulk fills it, and the planner, taking it for
		// small, hashed the whole table for every batch: a scan per batch,
		// quadratic in the log (380 ms for 2000 keys at 80k rows; 8 ms so).
		q := `SELECT ` + prefixed("r.", referralColumns) + ` FROM unnest($1::text[], $2::text[]) AS k (appspace_id, code)
			CROSS JOIN LATERAL (SELECT * FROM ` + t.referrals + ` r WHERE r.appspace_id = k.appspace_id AND r.referral_code = k.code LIMIT 1) r`
		err := scanReferrals(ctx, tx, q, []any{pq.Array(spaces), pq.Array(codes)}, func(v domain.ReferralView) {
			out[referralKey{v.AppspaceID, v.ReferralCode}] = v
		})
		if err != nil {
			return nil, fmt.Errorf("referrals: load rows: %w", err)
		}
		return out, nil
	}
	for chunk := range chunks(keys, maxParams/2) {
		args := make([]any, 0, 2*len(chunk))
		for _, k := range chunk {
			args = append(args, k.appspace, k.code)
		}
		// A join, not "(a, b) IN (VALUES ...)": SQLite scans the table for that.
		q := `SELECT ` + prefixed("r.", referralColumns) + ` FROM (VALUES ` + placeholders(len(chunk), 2) + `) AS k
			JOIN ` + t.referrals + ` r ON r.appspace_id = k.column1 AND r.referral_code = k.column2`
		if err := scanReferrals(ctx, tx, tx.Rebind(q), args, func(v domain.ReferralView) {
			out[referralKey{v.AppspaceID, v.ReferralCode}] = v
		}); err != nil {
			return nil, fmt.Errorf("referrals: load rows: %w", err)
		}
	}
	return out, nil
}

// scanReferrals runs a query selecting referralColumns and passes each row
// to f.
func scanReferrals(ctx context.Context, q sqlx.QueryerContext, query string, args []any, f func(domain.ReferralView)) (err error) {
	rows, err := q.QueryxContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		v, err := scanReferral(rows)
		if err != nil {
			return err
		}
		f(v)
	}
	return rows.Err()
}

// saveReferrals returns the statements that write changed referrals,
// inserting or replacing their rows.
func saveReferrals(driver string, t tables, views []domain.ReferralView) ([]stmt, error) {
	rows, err := referralRows(views)
	if err != nil {
		return nil, err
	}
	return upsert(driver, "save rows", `INSERT INTO `+t.referrals+` (`+referralColumns+`)`, rows,
		` ON CONFLICT (appspace_id, referral_code) DO UPDATE SET `+referralUpdates)
}

// copyReferrals returns the statement that copies new referrals' rows
// into rm_referrals on PostgreSQL: a bulk replay's, for the referrals it
// knows no row of. COPY costs the server less than the upsert, which
// parses an array per column and probes the key for a conflict per row.
func copyReferrals(t tables, views []domain.ReferralView) (stmt, error) {
	rows, err := referralRows(views)
	return stmt{what: "copy new rows", rows: rows, copyInto: t.referrals, copyColumns: referralColumnList}, err
}

// referralColumnList is referralColumns as a list, for COPY.
var referralColumnList = func() []string {
	cols := strings.Split(referralColumns, ",")
	for i, c := range cols {
		cols[i] = strings.TrimSpace(c)
	}
	return cols
}()

// referralRows returns the values of views' rows, in referralColumns'
// order.
func referralRows(views []domain.ReferralView) ([][]any, error) {
	rows := make([][]any, len(views))
	for i, v := range views {
		vals, err := referralValues(v)
		if err != nil {
			return nil, fmt.Errorf("referrals: %w", err)
		}
		rows[i] = vals
	}
	return rows, nil
}

// settledAt is when a referral left pending, or nil while it is pending.
func settledAt(v domain.ReferralView) *time.Time {
	if v.CompletedAt != nil {
		return v.CompletedAt
	}
	return v.ExpiredAt
}

const dayMillis = int64(24 * time.Hour / time.Millisecond)

// dayStart returns the unix ms of the UTC midnight at or before ms.
func dayStart(ms int64) int64 {
	d := ms / dayMillis
	if ms%dayMillis < 0 {
		d--
	}
	return d * dayMillis
}

// millis returns t in unix ms, or nil.
func millis(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// ceilMillis returns the first unix millisecond at or after t.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli() // rounds down
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func timeOf(ms sql.NullInt64) *time.Time {
	if !ms.Valid {
		return nil
	}
	t := fromMillis(ms.Int64)
	return &t
}
