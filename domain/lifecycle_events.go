package domain

import "time"

// The reward lifecycle's event type names; stable and append-only like
// the others.
const (
	TypeReferralFlagged = "ReferralFlagged"
	TypeReviewResolved  = "ReviewResolved"
	TypeRewardReversed  = "RewardReversed"
	TypeReferralVoided  = "ReferralVoided"
	// TypeReferrerCompletionCounted is the per-referrer stream's count of
	// the referrer's completions in one UTC day, for the velocity rule.
	TypeReferrerCompletionCounted = "ReferrerCompletionCounted"
)

// Review decisions.
const (
	DecisionApproved = "approved"
	DecisionRejected = "rejected"
)

// ReferralFlagged records that fraud rules fired. While the review is open
// a later flag adds only reasons not listed yet.
type ReferralFlagged struct {
	Reasons []string `json:"reasons"`
	// HoldsRewards is stamped from review_mode (hold) when the review
	// opens, so a later settings change does not release or hold rewards.
	HoldsRewards bool      `json:"holds_rewards"`
	FlaggedAt    time.Time `json:"flagged_at"`
}

// ReviewResolved records a reviewer's decision; a rejection is followed by
// ReferralVoided unless the referral had already expired.
type ReviewResolved struct {
	Decision   string    `json:"decision"`
	Note       string    `json:"note"`
	ResolvedAt time.Time `json:"resolved_at"`
}

// RewardReversed records that one side's reward is taken back. Clawback is
// true when it had been claimed: the application must recover it.
type RewardReversed struct {
	Side       string    `json:"side"`
	Reason     string    `json:"reason"`
	Clawback   bool      `json:"clawback"`
	ReversedAt time.Time `json:"reversed_at"`
}

// ReferralVoided records that a pending or completed referral is void.
type ReferralVoided struct {
	Reason   string    `json:"reason"`
	VoidedAt time.Time `json:"voided_at"`
}

// ReferrerCompletionCounted is appended to the referrer's stream when one
// of the referrer's referrals completes while the velocity rule is on. It
// carries the last code issued, so the referrer still loads from its
// stream's last event alone.
type ReferrerCompletionCounted struct {
	ReferralCode string `json:"referral_code"`
	// Day is the UTC day (2006-01-02) and DayCompletions the referrer's
	// completions counted on it, this one included.
	Day            string              `json:"day"`
	DayCompletions int                 `json:"day_completions"`
	LastIssued     *ReferrerCodeIssued `json:"last_issued"`
	LastIssuedID   string              `json:"last_issued_id"`
}

// EventType implementations.
func (ReferralFlagged) EventType() string           { return TypeReferralFlagged }
func (ReviewResolved) EventType() string            { return TypeReviewResolved }
func (RewardReversed) EventType() string            { return TypeRewardReversed }
func (ReferralVoided) EventType() string            { return TypeReferralVoided }
func (ReferrerCompletionCounted) EventType() string { return TypeReferrerCompletionCounted }
