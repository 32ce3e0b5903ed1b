package domain

import "time"

// claimable refuses a claim of side that the lifecycle does not allow: a
// reversed reward, or one held by an open review in hold mode or by the
// hold period. A claimed reward stays claimable, so a repeat answers the
// first claim.
func (r *Referral) claimable(now time.Time, side string) error {
	_, claimed, reversed := r.v.sideState(side)
	switch {
	case reversed != nil:
		return Errorf(ERewardReversed, "the %s reward of referral %s was reversed", side, r.v.ReferralCode)
	case claimed != nil:
		return nil
	case r.v.reviewHolds():
		return Errorf(EReferralUnderReview, "referral %s is under review; its rewards are held until a reviewer approves", r.v.ReferralCode)
	case r.v.RewardAvailableAt != nil && now.Before(*r.v.RewardAvailableAt):
		at := r.v.RewardAvailableAt.UTC().Format(TimeFormat)
		e := Errorf(ERewardOnHold, "the %s reward of referral %s is on hold until %s", side, r.v.ReferralCode, at)
		e.Fields = map[string]string{"available_at": at}
		return e
	}
	return nil
}

// Void voids a pending or completed referral: its unclaimed rewards are
// reversed, its claimed ones reversed with clawback, and an open review is
// resolved as rejected. Voiding a voided referral records nothing.
// Errors: EInvalid, EReferralExpired.
func (r *Referral) Void(now time.Time, reason string) error {
	if err := requiredReason("reason", reason); err != nil {
		return err
	}
	r.ExpireIfDue(now)
	switch r.v.Status {
	case StatusVoided:
		return nil
	case StatusExpired:
		return Errorf(EReferralExpired, "referral %s has expired and cannot be voided", r.v.ReferralCode)
	}
	if r.v.UnderReview() {
		r.record(&ReviewResolved{Decision: DecisionRejected, Note: reason, ResolvedAt: now})
	}
	r.void(now, reason)
	return nil
}

// void reverses what remains of the rewards and records the void.
func (r *Referral) void(now time.Time, reason string) {
	for _, side := range []string{SideReferrer, SideReferee} {
		if typ, claimed, reversed := r.v.sideState(side); r.v.CompletedAt != nil && typ != nil && reversed == nil {
			r.record(&RewardReversed{Side: side, Reason: reason, Clawback: claimed != nil, ReversedAt: now})
		}
	}
	r.record(&ReferralVoided{Reason: reason, VoidedAt: now})
}

// ReverseReward reverses one side's reward of a completed referral, with
// clawback when it was claimed. Reversing it again records nothing.
// Errors: EInvalid, EReferralNotCompleted, ENoRewardConfigured,
// EReferralVoided.
func (r *Referral) ReverseReward(now time.Time, side, reason string) error {
	if side != SideReferrer && side != SideReferee {
		return Errorf(EInvalid, "side must be %q or %q", SideReferrer, SideReferee)
	}
	if err := ValidateReason("reason", reason); err != nil {
		return err
	}
	r.ExpireIfDue(now)
	typ, claimed, reversed := r.v.sideState(side)
	switch {
	case reversed != nil:
		return nil
	case r.v.Status == StatusVoided:
		return Errorf(EReferralVoided, "referral %s is voided", r.v.ReferralCode)
	case r.v.Status != StatusCompleted:
		return Errorf(EReferralNotCompleted, "referral %s is %s, not completed", r.v.ReferralCode, r.v.Status)
	case typ == nil:
		return Errorf(ENoRewardConfigured, "no %s reward was configured when referral %s completed", side, r.v.ReferralCode)
	}
	r.record(&RewardReversed{Side: side, Reason: reason, Clawback: claimed != nil, ReversedAt: now})
	return nil
}

// ApproveReview approves the referral's open review: rewards it held
// become available (or stay held until the hold period ends). Approving an
// approved review records nothing.
// Errors: EInvalid, ENotFound (no review), EReferralVoided.
func (r *Referral) ApproveReview(now time.Time, note string) error {
	if err := ValidateReason("note", note); err != nil {
		return err
	}
	r.ExpireIfDue(now)
	switch {
	case r.v.Review == nil:
		return Errorf(ENotFound, "referral %s has no review", r.v.ReferralCode)
	case r.v.Review.State == ReviewApproved:
		return nil
	case r.v.Status == StatusVoided || r.v.Review.State == ReviewRejected:
		return Errorf(EReferralVoided, "referral %s is voided", r.v.ReferralCode)
	}
	r.record(&ReviewResolved{Decision: DecisionApproved, Note: note, ResolvedAt: now})
	return nil
}

// RejectReview rejects the referral's open review and voids the referral
// (an expired one stays expired). Rejecting a rejected review records
// nothing. Errors: EInvalid, ENotFound (no review), EConflict (approved),
// EReferralVoided.
func (r *Referral) RejectReview(now time.Time, reason string) error {
	if err := ValidateReason("reason", reason); err != nil {
		return err
	}
	r.ExpireIfDue(now)
	switch {
	case r.v.Review == nil:
		return Errorf(ENotFound, "referral %s has no review", r.v.ReferralCode)
	case r.v.Review.State == ReviewRejected:
		return nil
	case r.v.Status == StatusVoided:
		return Errorf(EReferralVoided, "referral %s is voided", r.v.ReferralCode)
	case r.v.Review.State == ReviewApproved:
		return Errorf(EConflict, "the review of referral %s was already approved", r.v.ReferralCode)
	}
	r.record(&ReviewResolved{Decision: DecisionRejected, Note: reason, ResolvedAt: now})
	if r.v.Status != StatusExpired {
		if reason == "" {
			reason = "review rejected"
		}
		r.void(now, reason)
	}
	return nil
}

func requiredReason(field, v string) error {
	if v == "" {
		return Errorf(EInvalid, "%s is required", field)
	}
	return ValidateReason(field, v)
}
