package domain

import (
	"slices"
	"time"
)

// Reward statuses of one side of a referral.
const (
	RewardStatusNone      = "none"
	RewardStatusHeld      = "held"
	RewardStatusAvailable = "available"
	RewardStatusClaimed   = "claimed"
	RewardStatusReversed  = "reversed"
)

// Review states.
const (
	ReviewOpen     = "open"
	ReviewApproved = DecisionApproved
	ReviewRejected = DecisionRejected
)

// Reversal is how one side's reward was reversed.
type Reversal struct {
	Reason     string
	Clawback   bool
	ReversedAt time.Time
}

// Review is a referral's fraud review.
type Review struct {
	State      string
	Reasons    []string
	FlaggedAt  time.Time
	ResolvedAt *time.Time
	Note       string
	// HoldsRewards: the review opened in hold mode, so while it is open
	// both rewards are held.
	HoldsRewards bool
}

func (rv *Review) clone() *Review {
	if rv == nil {
		return nil
	}
	c := *rv
	c.Reasons = slices.Clone(rv.Reasons)
	return &c
}

// applyLifecycle applies the lifecycle's events; it never fails. It
// replaces rather than edits the review, whose copies a View shares.
func (v *ReferralView) applyLifecycle(e Event) {
	switch e := e.(type) {
	case *ReferralFlagged:
		rv := v.Review.clone()
		if rv == nil {
			rv = &Review{State: ReviewOpen, FlaggedAt: e.FlaggedAt, HoldsRewards: e.HoldsRewards, Reasons: []string{}}
		}
		for _, reason := range e.Reasons {
			if !slices.Contains(rv.Reasons, reason) {
				rv.Reasons = append(rv.Reasons, reason)
			}
		}
		v.Review = rv
	case *ReviewResolved:
		rv := v.Review.clone()
		if rv == nil {
			rv = &Review{Reasons: []string{}, FlaggedAt: e.ResolvedAt}
		}
		at := e.ResolvedAt
		rv.State, rv.ResolvedAt, rv.Note = e.Decision, &at, e.Note
		v.Review = rv
	case *RewardReversed:
		rev := &Reversal{Reason: e.Reason, Clawback: e.Clawback, ReversedAt: e.ReversedAt}
		if e.Side == SideReferee {
			v.RefereeRewardReversal = rev
		} else {
			v.RewardReversal = rev
		}
	case *ReferralVoided:
		at, reason := e.VoidedAt, e.Reason
		v.Status, v.VoidedAt, v.VoidReason = StatusVoided, &at, &reason
	}
}

// UnderReview reports whether the referral's review is open.
func (v ReferralView) UnderReview() bool { return v.Review != nil && v.Review.State == ReviewOpen }

// reviewHolds reports whether an open review holds the rewards.
func (v ReferralView) reviewHolds() bool { return v.UnderReview() && v.Review.HoldsRewards }

// sideState returns one side's stamped reward type, claim and reversal.
func (v ReferralView) sideState(side string) (typ *string, claimed *time.Time, reversed *Reversal) {
	if side == SideReferee {
		return v.RefereeRewardType, v.RefereeRewardClaimedAt, v.RefereeRewardReversal
	}
	return v.RewardType, v.RewardClaimedAt, v.RewardReversal
}

// RewardStatus returns one side's reward status at now: none (not
// completed, or no reward for that side), held (the hold period has not
// ended, or an open review in hold mode holds it), available, claimed or
// reversed.
func (v ReferralView) RewardStatus(side string, now time.Time) string {
	typ, claimed, reversed := v.sideState(side)
	switch {
	case v.CompletedAt == nil || typ == nil:
		return RewardStatusNone
	case reversed != nil:
		return RewardStatusReversed
	case claimed != nil:
		return RewardStatusClaimed
	case v.Status == StatusVoided:
		return RewardStatusReversed // a void reverses every reward; kept for safety
	case v.reviewHolds(), v.RewardAvailableAt != nil && now.Before(*v.RewardAvailableAt):
		return RewardStatusHeld
	}
	return RewardStatusAvailable
}

// claimable refuses a claim of side that the lifecycle does not allow on a
// referral in state v: a reversed reward, or one held by an open review in
// hold mode or by the hold period. A claimed reward stays claimable, so a
// repeat answers the first claim.
func claimable(v *ReferralView, now time.Time, side string) error {
	_, claimed, reversed := v.sideState(side)
	switch {
	case reversed != nil:
		return Errorf(ERewardReversed, "the %s reward of referral %s was reversed", side, v.ReferralCode)
	case claimed != nil:
		return nil
	case v.reviewHolds():
		return Errorf(EReferralUnderReview, "referral %s is under review; its rewards are held until a reviewer approves", v.ReferralCode)
	case v.RewardAvailableAt != nil && now.Before(*v.RewardAvailableAt):
		at := v.RewardAvailableAt.UTC().Format(TimeFormat)
		e := Errorf(ERewardOnHold, "the %s reward of referral %s is on hold until %s", side, v.ReferralCode, at)
		e.Fields = map[string]string{"available_at": at}
		return e
	}
	return nil
}
