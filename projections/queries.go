package projections

import (
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// ListFilter selects referrals for GET /v1/api/referrals. Referrals come
// newest first (created_at desc, then referral_code desc).
type ListFilter struct {
	AppspaceID string
	// Status is "", "pending", "completed", "expired" or "voided".
	Status string
	// Review is "" or a review state ("open", "approved", "rejected"):
	// the referrals whose review is in that state.
	Review string
	// ReferrerID, when set, selects one referrer's referrals.
	ReferrerID string
	// Limit is 1..1000; 0 means 50.
	Limit int
	// Cursor is a NextCursor from the previous page, or empty.
	Cursor string
}

// ListPage is one page of referrals.
type ListPage struct {
	Referrals []domain.ReferralView
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// Leaderboard periods.
const (
	PeriodAll = "all"
	Period7d  = "7d"
	Period30d = "30d"
	Period90d = "90d"
)

// LeaderboardQuery asks for the top referrers of an appspace: by completed
// desc, total desc, referrer_id asc. A period of n days counts the
// referrals created on the n UTC days before Now's day and on Now's day.
type LeaderboardQuery struct {
	AppspaceID string
	Period     string
	// Limit is 1..100; 0 means 25.
	Limit int
	Now   time.Time
}

// LeaderboardEntry is one referrer's row.
type LeaderboardEntry struct {
	Rank         int
	ReferrerID   string
	ReferrerName *string
	Total        int
	Completed    int
	Pending      int
	Expired      int
	// TotalRewardValue sums the reward values of the completed referrals
	// (of the period) when they are numbers in one format; else nil.
	TotalRewardValue *string
}

// StatsQuery asks for the referrals created in [From, To) (either bound
// may be nil), in the state they had at AsOf (nil: now).
type StatsQuery struct {
	AppspaceID string
	From, To   *time.Time
	AsOf       *time.Time
}

// Stats counts referrals by status. ConversionRate is Completed / Total,
// 0 when Total is 0.
type Stats struct {
	Total     int
	Pending   int
	Completed int
	Expired   int
	// Voided counts voided referrals, which are neither pending nor completed.
	Voided int
	// UnderReview counts referrals whose review is open (at AsOf); they
	// count in their status too.
	UnderReview    int
	ConversionRate float64
}
