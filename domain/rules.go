package domain

import "time"

// MilestoneInput is what a milestone or completion command says.
type MilestoneInput struct {
	Milestone        string
	ReferredUserID   string
	ReferredUserName *string
	// ReferredIP and ReferredDeviceID are the referee's client details,
	// which the fraud rules compare with the referrer's; not stored.
	ReferredIP       string
	ReferredDeviceID string
}

// ReachMilestone applies a reported milestone: it attributes the referred
// user if one is given for the first time, records the milestone, and
// completes the referral when the milestone is the reward milestone.
// Errors: EInvalid, ESelfReferral, EReferralExpired, EReferralNotPending,
// ERefereeMismatch, EUnknownMilestone, EMilestoneOutOfOrder, EConflict
// (MaxReferralMilestones reached).
func (r *Referral) ReachMilestone(now time.Time, in MilestoneInput, s Settings, settingsVersion Revision) error {
	if err := in.validate(true); err != nil {
		return err
	}
	if err := r.preflight(now, in, in.Milestone); err != nil || r.v.Status != StatusPending {
		return err
	}
	if err := checkOrder(&r.v, in.Milestone, s); err != nil {
		return err
	}
	if err := r.roomFor(in.Milestone); err != nil {
		return err
	}
	r.record(attribution(&r.v, now, in)...)
	if r.v.Milestone == nil || *r.v.Milestone != in.Milestone {
		r.record(&MilestoneReached{Milestone: in.Milestone, ReachedAt: now})
	}
	if s.atOrPastReward(*r.v.Milestone) {
		r.record(completion(&r.v, now, s, settingsVersion))
	}
	return nil
}

// Complete completes a pending referral by hand, recording the milestone
// (the reward milestone when none is given) if it is new. The referral must
// have a referred user, or the input must name one.
// Errors: as ReachMilestone.
func (r *Referral) Complete(now time.Time, in MilestoneInput, s Settings, settingsVersion Revision) error {
	if err := in.validate(false); err != nil {
		return err
	}
	if err := r.preflight(now, in, in.Milestone); err != nil || r.v.Status != StatusPending {
		return err
	}
	if in.ReferredUserID == "" && r.v.ReferredUserID == nil {
		return Errorf(EInvalid, "referred_user_id is required to complete a referral without a referred user")
	}
	m := in.Milestone
	if m == "" {
		m = s.ReferralRewardMilestone
		if r.v.Milestone != nil && s.atOrPastReward(*r.v.Milestone) {
			m = *r.v.Milestone // already past the reward milestone in the pipeline
		}
	}
	if err := checkOrder(&r.v, m, s); err != nil {
		return err
	}
	if err := r.roomFor(m); err != nil {
		return err
	}
	r.record(attribution(&r.v, now, in)...)
	if r.v.Milestone == nil || *r.v.Milestone != m {
		r.record(&MilestoneReached{Milestone: m, ReachedAt: now})
	}
	r.record(completion(&r.v, now, s, settingsVersion))
	return nil
}

// MaxReferralMilestones bounds the milestones a referral records. Without
// a pipeline any name is accepted and moving "back" is allowed, so a
// caller alternating two names grew one referral's stream, and its
// milestone_history, by an event a call without end; every later command
// on it, its GET and each of its webhook payloads read that whole stream.
// A pipeline has at most maxMilestones (50) steps, which it passes once.
const MaxReferralMilestones = 2 * maxMilestones

// roomFor refuses a milestone m that would be recorded (it is not the
// current one) on a referral that already has MaxReferralMilestones.
// Errors: EConflict.
func (r *Referral) roomFor(m string) error {
	if (r.v.Milestone == nil || *r.v.Milestone != m) && len(r.v.MilestoneHistory) >= MaxReferralMilestones {
		return Errorf(EConflict, "referral %s already has %d milestones, the most a referral may record",
			r.v.ReferralCode, MaxReferralMilestones)
	}
	return nil
}

// validate applies the text rules; the milestone may be empty unless
// required.
func (in MilestoneInput) validate(requireMilestone bool) error {
	if requireMilestone || in.Milestone != "" {
		if err := ValidateID("milestone", in.Milestone); err != nil {
			return err
		}
	}
	if in.ReferredUserID != "" {
		if err := ValidateID("referred_user_id", in.ReferredUserID); err != nil {
			return err
		}
	}
	if err := ValidateText("referred_ip", in.ReferredIP, maxIPLen); err != nil {
		return err
	}
	if err := ValidateText("referred_device_id", in.ReferredDeviceID, maxDeviceIDLen); err != nil {
		return err
	}
	return ValidateName("referred_user_name", in.ReferredUserName)
}

// preflight applies the checks shared by milestone and completion. It
// returns nil with a non-pending status only for an exact repeat of what
// completed the referral: the caller then has nothing to do.
func (r *Referral) preflight(now time.Time, in MilestoneInput, milestone string) error {
	if in.ReferredUserID != "" && in.ReferredUserID == r.v.ReferrerID {
		return Errorf(ESelfReferral, "a user cannot refer themselves")
	}
	r.ExpireIfDue(now)
	switch r.v.Status {
	case StatusExpired:
		return Errorf(EReferralExpired, "referral %s has expired", r.v.ReferralCode)
	case StatusVoided:
		return Errorf(EReferralVoided, "referral %s is voided", r.v.ReferralCode)
	case StatusCompleted:
		sameUser := in.ReferredUserID == "" || (r.v.ReferredUserID != nil && *r.v.ReferredUserID == in.ReferredUserID)
		sameMilestone := milestone == "" || (r.v.Milestone != nil && *r.v.Milestone == milestone)
		if sameUser && sameMilestone {
			return nil
		}
		return Errorf(EReferralNotPending, "referral %s is already completed", r.v.ReferralCode)
	}
	if in.ReferredUserID != "" && r.v.ReferredUserID != nil && *r.v.ReferredUserID != in.ReferredUserID {
		return Errorf(ERefereeMismatch, "referral %s is attributed to another referred user", r.v.ReferralCode)
	}
	return nil
}

// checkOrder enforces the milestone pipeline, if the settings have one,
// on a referral in state v reaching milestone m.
func checkOrder(v *ReferralView, m string, s Settings) error {
	if len(s.ReferralMilestones) == 0 {
		return nil
	}
	idx := s.milestoneIndex(m)
	if idx < 0 {
		return Errorf(EUnknownMilestone, "milestone %q is not one of referral_milestones", m)
	}
	if v.Milestone != nil && idx < s.milestoneIndex(*v.Milestone) {
		return Errorf(EMilestoneOutOfOrder, "milestone %q comes before the current milestone %q", m, *v.Milestone)
	}
	return nil
}

// attribution is the event that attributes in's referred user to a
// referral in state v, if it names one and v has none yet.
func attribution(v *ReferralView, now time.Time, in MilestoneInput) []Event {
	if in.ReferredUserID == "" || v.ReferredUserID != nil {
		return nil
	}
	return []Event{&RefereeAttributed{ReferredUserID: in.ReferredUserID, ReferredUserName: in.ReferredUserName, AttributedAt: now}}
}

// completion is the event that completes a referral in state v, stamping
// the rewards of settings s (at settingsVersion) and their hold.
func completion(v *ReferralView, now time.Time, s Settings, settingsVersion Revision) *ReferralCompleted {
	return &ReferralCompleted{
		Milestone:          *v.Milestone,
		ReferredUserID:     v.ReferredUserID,
		RewardType:         s.RewardType,
		RewardValue:        s.RewardValue,
		RefereeRewardType:  s.RefereeRewardType,
		RefereeRewardValue: s.RefereeRewardValue,
		SettingsVersion:    settingsVersion,
		CompletedAt:        now,
		RewardAvailableAt:  s.holdEnd(now),
	}
}

// ClaimReward records that side's reward as claimed and returns when it was
// claimed; a second claim returns the first time and records nothing.
// Errors: EInvalid, EReferralNotCompleted, ENoRewardConfigured,
// EReferralVoided, ERewardReversed, EReferralUnderReview, ERewardOnHold.
func (r *Referral) ClaimReward(now time.Time, side string) (time.Time, error) {
	r.ExpireIfDue(now)
	if r.v.Status == StatusVoided {
		return time.Time{}, Errorf(EReferralVoided, "referral %s is voided", r.v.ReferralCode)
	}
	if r.v.Status != StatusCompleted {
		return time.Time{}, Errorf(EReferralNotCompleted, "referral %s is %s, not completed", r.v.ReferralCode, r.v.Status)
	}
	typ, claimed := r.v.RewardType, r.v.RewardClaimedAt
	switch side {
	case SideReferee:
		typ, claimed = r.v.RefereeRewardType, r.v.RefereeRewardClaimedAt
	case SideReferrer:
	default:
		return time.Time{}, Errorf(EInvalid, "side must be %q or %q", SideReferrer, SideReferee)
	}
	if typ == nil {
		return time.Time{}, Errorf(ENoRewardConfigured, "no %s reward was configured when referral %s completed", side, r.v.ReferralCode)
	}
	if err := claimable(&r.v, now, side); err != nil {
		return time.Time{}, err
	}
	if claimed != nil {
		return *claimed, nil
	}
	r.record(&RewardClaimed{Side: side, ClaimedAt: now})
	return now, nil
}
