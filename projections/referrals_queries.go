package projections

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// List returns a page of an appspace's referrals, newest first (created_at
// desc, then referral_code desc), optionally of one status or one referrer.
// Pages are keyset-paginated: a cursor names the last referral of the page
// before, so referrals created meanwhile never shift a page.
// Errors: domain.EInvalid (unknown status, limit outside 1..1000, bad cursor).
func (p *Referrals) List(ctx context.Context, f ListFilter) (ListPage, error) {
	if f.AppspaceID == "" {
		return ListPage{}, domain.Errorf(domain.EInvalid, "appspace is required")
	}
	limit := f.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 1000 {
		return ListPage{}, domain.Errorf(domain.EInvalid, "limit must be between 1 and 1000")
	}
	where := []string{"appspace_id = ?"}
	args := []any{f.AppspaceID}
	switch domain.Status(f.Status) {
	case "":
	case domain.StatusPending, domain.StatusCompleted, domain.StatusExpired:
		where, args = append(where, "status = ?"), append(args, f.Status)
	default:
		return ListPage{}, domain.Errorf(domain.EInvalid, "status must be pending, completed or expired")
	}
	if f.ReferrerID != "" {
		where, args = append(where, "referrer_id = ?"), append(args, f.ReferrerID)
	}
	if f.Cursor != "" {
		created, code, err := decodeCursor(f.Cursor)
		if err != nil {
			return ListPage{}, err
		}
		where, args = append(where, "(created_at, referral_code) < (?, ?)"), append(args, created, code)
	}
	q := `SELECT ` + referralColumns + ` FROM rm_referrals WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at DESC, referral_code DESC LIMIT ?`
	var page ListPage
	err := scanReferrals(ctx, p.read, p.read.Rebind(q), append(args, limit+1), func(v domain.ReferralView) {
		page.Referrals = append(page.Referrals, v)
	})
	if err != nil {
		return ListPage{}, fmt.Errorf("referrals: list: %w", err)
	}
	if len(page.Referrals) > limit {
		page.Referrals = page.Referrals[:limit]
		last := page.Referrals[limit-1]
		page.NextCursor = encodeCursor(last.CreatedAt.UnixMilli(), last.ReferralCode)
	}
	return page, nil
}

// encodeCursor returns the opaque cursor after the referral (created, code).
func encodeCursor(created int64, code string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(created, 10) + "." + code))
}

func decodeCursor(c string) (int64, string, error) {
	bad := domain.Errorf(domain.EInvalid, "cursor is malformed")
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", bad
	}
	ms, code, ok := strings.Cut(string(raw), ".")
	created, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || code == "" {
		return 0, "", bad
	}
	return created, code, nil
}

// periods are the leaderboard windows other than "all".
var periods = map[string]time.Duration{
	Period7d:  7 * 24 * time.Hour,
	Period30d: 30 * 24 * time.Hour,
	Period90d: 90 * 24 * time.Hour,
}

// Leaderboard ranks an appspace's referrers by completed desc, total desc,
// referrer_id asc (byte order). Period "all" (or empty) reads the running
// counts per referrer; 7d, 30d and 90d count the referrals created in
// [Now - period, Now] (a zero Now is the current time), in their current
// status. Names are the latest a referrer gave, in any period.
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
	var query string
	var args []any
	if q.Period == PeriodAll || q.Period == "" {
		query = `SELECT referrer_id, referrer_name, total, completed, pending, expired
			FROM rm_referrers WHERE appspace_id = ?
			ORDER BY completed DESC, total DESC, referrer_id LIMIT ?`
		args = []any{q.AppspaceID, limit}
	} else {
		d, ok := periods[q.Period]
		if !ok {
			return nil, domain.Errorf(domain.EInvalid, "period must be all, 7d, 30d or 90d")
		}
		now := q.Now
		if now.IsZero() {
			now = time.Now()
		}
		query = `SELECT w.referrer_id, r.referrer_name, w.total, w.completed, w.pending, w.expired
			FROM (SELECT referrer_id, COUNT(*) AS total,
					SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed,
					SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) AS pending,
					SUM(CASE WHEN status = 'expired' THEN 1 ELSE 0 END) AS expired
				FROM rm_referrals WHERE appspace_id = ? AND created_at >= ? AND created_at <= ?
				GROUP BY referrer_id
				ORDER BY completed DESC, total DESC, referrer_id LIMIT ?) w
			LEFT JOIN rm_referrers r ON r.appspace_id = ? AND r.referrer_id = w.referrer_id
			ORDER BY w.completed DESC, w.total DESC, w.referrer_id`
		// The names are joined to the top rows only.
		args = []any{q.AppspaceID, ceilMillis(now.Add(-d)), now.UnixMilli(), limit, q.AppspaceID}
	}
	out, err := p.leaderboardRows(ctx, query, args)
	if err != nil {
		return nil, fmt.Errorf("referrals: leaderboard: %w", err)
	}
	return out, nil
}

func (p *Referrals) leaderboardRows(ctx context.Context, query string, args []any) (out []LeaderboardEntry, err error) {
	rows, err := p.read.QueryxContext(ctx, p.read.Rebind(query), args...)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		e := LeaderboardEntry{Rank: len(out) + 1}
		if err := rows.Scan(&e.ReferrerID, &e.ReferrerName, &e.Total, &e.Completed, &e.Pending, &e.Expired); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
