package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// ReviewsQuery asks for a page of an appspace's fraud reviews in one
// state, oldest flagged first (flagged_at, then referral_code).
type ReviewsQuery struct {
	AppspaceID string
	// State is "open" (the default, when empty), "approved" or "rejected".
	State string
	// Limit is 1..1000; 0 means 50.
	Limit int
	// Cursor is a NextCursor from the previous page, or empty.
	Cursor string
}

// ReviewItem is one referral's review.
type ReviewItem struct {
	ReferralCode   string
	ReferrerID     string
	ReferredUserID *string
	Reasons        []string
	State          string
	FlaggedAt      time.Time
	ResolvedAt     *time.Time
}

// ReviewsPage is one page of reviews.
type ReviewsPage struct {
	Reviews []ReviewItem
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// reviewStates are the states a review can be in, for the filters.
var reviewStates = []string{domain.ReviewOpen, domain.ReviewApproved, domain.ReviewRejected}

// validReviewState reports whether s names a review state.
func validReviewState(s string) bool {
	for _, st := range reviewStates {
		if s == st {
			return true
		}
	}
	return false
}

// Reviews returns a page of the appspace's reviews in q.State, oldest
// flagged first, keyset-paginated like List: reviews flagged meanwhile
// join the end, and none shifts a page. A review resolved between two
// pages leaves the open queue, so a later page never repeats it.
// Errors: domain.EInvalid (unknown state, limit outside 1..1000, bad cursor).
func (p *Referrals) Reviews(ctx context.Context, q ReviewsQuery) (page ReviewsPage, err error) {
	if q.AppspaceID == "" {
		return ReviewsPage{}, domain.Errorf(domain.EInvalid, "appspace is required")
	}
	state := q.State
	if state == "" {
		state = domain.ReviewOpen
	}
	if !validReviewState(state) {
		return ReviewsPage{}, domain.Errorf(domain.EInvalid, "state must be open, approved or rejected")
	}
	limit := q.Limit
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 1000 {
		return ReviewsPage{}, domain.Errorf(domain.EInvalid, "limit must be between 1 and 1000")
	}
	where := []string{"appspace_id = ?", "review_state = ?"}
	args := []any{q.AppspaceID, state}
	if q.Cursor != "" {
		flagged, code, err := decodeCursor(q.Cursor)
		if err != nil {
			return ReviewsPage{}, err
		}
		where, args = append(where, "(review_flagged_at, referral_code) > (?, ?)"), append(args, flagged, code)
	}
	rows, err := p.read.QueryxContext(ctx, p.read.Rebind(`SELECT referral_code, referrer_id, referred_user_id,
		review_state, review_flagged_at, review_resolved_at, review FROM rm_referrals WHERE `+strings.Join(where, " AND ")+
		` ORDER BY review_flagged_at, referral_code LIMIT ?`), append(args, limit+1)...)
	if err != nil {
		return ReviewsPage{}, fmt.Errorf("referrals: reviews: %w", err)
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		it, err := scanReview(rows.Scan)
		if err != nil {
			return ReviewsPage{}, fmt.Errorf("referrals: reviews: %w", err)
		}
		page.Reviews = append(page.Reviews, it)
	}
	if err := rows.Err(); err != nil {
		return ReviewsPage{}, fmt.Errorf("referrals: reviews: %w", err)
	}
	if len(page.Reviews) > limit {
		page.Reviews = page.Reviews[:limit]
		last := page.Reviews[limit-1]
		page.NextCursor = encodeCursor(last.FlaggedAt.UnixMilli(), last.ReferralCode)
	}
	return page, nil
}

// scanReview reads a row of Reviews' query.
func scanReview(scan func(...any) error) (ReviewItem, error) {
	var (
		it       ReviewItem
		flagged  int64
		l        lifecycleScan
		reviewJS string
	)
	if err := scan(&it.ReferralCode, &it.ReferrerID, &it.ReferredUserID, &it.State, &flagged, &l.resolved, &reviewJS); err != nil {
		return it, err
	}
	var r reviewRow
	if err := json.Unmarshal([]byte(reviewJS), &r); err != nil {
		return it, fmt.Errorf("decode the review of %s: %w", it.ReferralCode, err)
	}
	it.Reasons, it.FlaggedAt, it.ResolvedAt = r.Reasons, fromMillis(flagged), timeOf(l.resolved)
	if it.Reasons == nil {
		it.Reasons = []string{}
	}
	return it, nil
}
