package projections

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/referral-ledger/referral-ledger/domain"
)

// List returns a page of an appspace's referrals, newest first (created_at
// desc, then referral_code desc), optionally of one status, one review
// state or one referrer.
// Pages are keyset-paginated: a cursor names the last referral of the page
// before, so referrals created meanwhile never shift a page.
// Errors: domain.EInvalid (unknown status or review state, limit outside 1..1000, bad cursor,
// a referrer_id that is no valid ID).
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
	case domain.StatusPending, domain.StatusCompleted, domain.StatusExpired, domain.StatusVoided:
		where, args = append(where, "status = ?"), append(args, f.Status)
	default:
		return ListPage{}, domain.Errorf(domain.EInvalid, "status must be pending, completed, expired or voided")
	}
	if f.Review != "" {
		if !validReviewState(f.Review) {
			return ListPage{}, domain.Errorf(domain.EInvalid, "review must be open, approved or rejected")
		}
		where, args = append(where, "review_state = ?"), append(args, f.Review)
	}
	if f.ReferrerID != "" {
		if err := domain.ValidateID("referrer_id", f.ReferrerID); err != nil {
			return ListPage{}, err
		}
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
	if !ok || err != nil || domain.ValidateCode("cursor", code) != nil {
		return 0, "", bad
	}
	return created, code, nil
}
