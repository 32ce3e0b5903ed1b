package domain

import "time"

// lifecycleCommand is a command of the reward lifecycle: void a referral,
// reverse a reward, approve or reject a review. Referral.decide runs it:
// it checks its own input, then decides on the referral's state, its
// expiry recorded, which events to record.
type lifecycleCommand interface {
	validate() error
	decide(v *ReferralView, now time.Time) ([]Event, error)
}

// decide runs a lifecycle command on the referral and records its events
// (those of a refusal too: none, or the expiry).
func (r *Referral) decide(now time.Time, c lifecycleCommand) error {
	if err := c.validate(); err != nil {
		return err
	}
	r.ExpireIfDue(now)
	evs, err := c.decide(&r.v, now)
	r.record(evs...)
	return err
}

// voidCommand voids a pending or completed referral: its unclaimed rewards
// are reversed, its claimed ones reversed with clawback, and an open
// review is resolved as rejected. Voiding a voided referral records
// nothing. Errors: EInvalid, EReferralExpired.
type voidCommand struct{ reason string }

func (c voidCommand) validate() error { return requiredReason("reason", c.reason) }

func (c voidCommand) decide(v *ReferralView, now time.Time) ([]Event, error) {
	switch v.Status {
	case StatusVoided:
		return nil, nil
	case StatusExpired:
		return nil, Errorf(EReferralExpired, "referral %s has expired and cannot be voided", v.ReferralCode)
	}
	var evs []Event
	if v.UnderReview() {
		evs = append(evs, &ReviewResolved{Decision: DecisionRejected, Note: c.reason, ResolvedAt: now})
	}
	return append(evs, voiding(v, now, c.reason)...), nil
}

// voiding is the events that void a referral in state v: the reversal of
// what remains of its rewards, then the void.
func voiding(v *ReferralView, now time.Time, reason string) []Event {
	var evs []Event
	for _, side := range []string{SideReferrer, SideReferee} {
		if typ, claimed, reversed := v.sideState(side); v.CompletedAt != nil && typ != nil && reversed == nil {
			evs = append(evs, &RewardReversed{Side: side, Reason: reason, Clawback: claimed != nil, ReversedAt: now})
		}
	}
	return append(evs, &ReferralVoided{Reason: reason, VoidedAt: now})
}

// reverseCommand reverses one side's reward of a completed referral, with
// clawback when it was claimed. Reversing it again records nothing.
// Errors: EInvalid, EReferralNotCompleted, ENoRewardConfigured,
// EReferralVoided.
type reverseCommand struct{ side, reason string }

func (c reverseCommand) validate() error {
	if c.side != SideReferrer && c.side != SideReferee {
		return Errorf(EInvalid, "side must be %q or %q", SideReferrer, SideReferee)
	}
	return ValidateReason("reason", c.reason)
}

func (c reverseCommand) decide(v *ReferralView, now time.Time) ([]Event, error) {
	typ, claimed, reversed := v.sideState(c.side)
	switch {
	case reversed != nil:
		return nil, nil
	case v.Status == StatusVoided:
		return nil, Errorf(EReferralVoided, "referral %s is voided", v.ReferralCode)
	case v.Status != StatusCompleted:
		return nil, Errorf(EReferralNotCompleted, "referral %s is %s, not completed", v.ReferralCode, v.Status)
	case typ == nil:
		return nil, Errorf(ENoRewardConfigured, "no %s reward was configured when referral %s completed", c.side, v.ReferralCode)
	}
	return []Event{&RewardReversed{Side: c.side, Reason: c.reason, Clawback: claimed != nil, ReversedAt: now}}, nil
}

// approveCommand approves the referral's open review: rewards it held
// become available (or stay held until the hold period ends). Approving an
// approved review records nothing.
// Errors: EInvalid, ENotFound (no review), EReferralVoided.
type approveCommand struct{ note string }

func (c approveCommand) validate() error { return ValidateReason("note", c.note) }

func (c approveCommand) decide(v *ReferralView, now time.Time) ([]Event, error) {
	switch {
	case v.Review == nil:
		return nil, Errorf(ENotFound, "referral %s has no review", v.ReferralCode)
	case v.Review.State == ReviewApproved:
		return nil, nil
	case v.Status == StatusVoided || v.Review.State == ReviewRejected:
		return nil, Errorf(EReferralVoided, "referral %s is voided", v.ReferralCode)
	}
	return []Event{&ReviewResolved{Decision: DecisionApproved, Note: c.note, ResolvedAt: now}}, nil
}

// rejectCommand rejects the referral's open review and voids the referral
// (an expired one stays expired). Rejecting a rejected review records
// nothing. Errors: EInvalid, ENotFound (no review), EConflict (approved),
// EReferralVoided.
type rejectCommand struct{ reason string }

func (c rejectCommand) validate() error { return ValidateReason("reason", c.reason) }

func (c rejectCommand) decide(v *ReferralView, now time.Time) ([]Event, error) {
	switch {
	case v.Review == nil:
		return nil, Errorf(ENotFound, "referral %s has no review", v.ReferralCode)
	case v.Review.State == ReviewRejected:
		return nil, nil
	case v.Status == StatusVoided:
		return nil, Errorf(EReferralVoided, "referral %s is voided", v.ReferralCode)
	case v.Review.State == ReviewApproved:
		return nil, Errorf(EConflict, "the review of referral %s was already approved", v.ReferralCode)
	}
	evs := []Event{&ReviewResolved{Decision: DecisionRejected, Note: c.reason, ResolvedAt: now}}
	if v.Status == StatusExpired {
		return evs, nil
	}
	reason := c.reason
	if reason == "" {
		reason = "review rejected"
	}
	return append(evs, voiding(v, now, reason)...), nil
}

func requiredReason(field, v string) error {
	if v == "" {
		return Errorf(EInvalid, "%s is required", field)
	}
	return ValidateReason(field, v)
}
