package domain

import "time"

// Review modes: what happens when a fraud rule fires.
const (
	// ReviewOff ignores the fraud rules.
	ReviewOff = "off"
	// ReviewFlag opens a review and lets rewards flow.
	ReviewFlag = "flag"
	// ReviewHold opens a review and holds both rewards until it is approved.
	ReviewHold = "hold"
)

// Fraud reasons a review lists.
const (
	ReasonSameIP     = "same_ip"
	ReasonSameDevice = "same_device"
	ReasonVelocity   = "velocity"
)

const (
	maxHoldDays        = 3650
	maxDailyCompletion = 1_000_000
)

// Mode returns the review mode; the zero value is ReviewOff.
func (s Settings) Mode() string {
	if s.ReviewMode == "" {
		return ReviewOff
	}
	return s.ReviewMode
}

// SameIPRule reports whether the same-IP rule is on (the default).
func (s Settings) SameIPRule() bool { return s.FraudSameIP == nil || *s.FraudSameIP }

// SameDeviceRule reports whether the same-device rule is on (the default).
func (s Settings) SameDeviceRule() bool { return s.FraudSameDevice == nil || *s.FraudSameDevice }

// countsCompletions reports whether completions are counted on the
// referrer's stream: only while the velocity rule can fire, so that with
// the defaults a completion appends to the referral's stream alone.
func (s Settings) countsCompletions() bool {
	return s.Mode() != ReviewOff && s.FraudMaxDailyCompletions != nil
}

// holdEnd is when a reward completed at completedAt stops being held by
// the hold period; nil without one.
func (s Settings) holdEnd(completedAt time.Time) *time.Time {
	if s.RewardHoldDays <= 0 {
		return nil
	}
	end := completedAt.AddDate(0, 0, s.RewardHoldDays)
	return &end
}

func (s Settings) validateLifecycle() error {
	if s.RewardHoldDays < 0 || s.RewardHoldDays > maxHoldDays {
		return Errorf(EInvalid, "reward_hold_days must be between 0 and %d", maxHoldDays)
	}
	switch s.ReviewMode {
	case "", ReviewOff, ReviewFlag, ReviewHold:
	default:
		return Errorf(EInvalid, "review_mode must be one of off, flag, hold")
	}
	if m := s.FraudMaxDailyCompletions; m != nil && (*m < 1 || *m > maxDailyCompletion) {
		return Errorf(EInvalid, "fraud_max_daily_completions must be between 1 and %d, or null for no limit", maxDailyCompletion)
	}
	return nil
}

// Shown returns s as the API shows it: the lifecycle defaults as values
// (review_mode "off", the rules true) rather than the zero values that
// stand for them in the log.
func (s Settings) Shown() Settings {
	c := s.clone()
	on, dev := s.SameIPRule(), s.SameDeviceRule()
	c.ReviewMode, c.FraudSameIP, c.FraudSameDevice = s.Mode(), &on, &dev
	return c
}

// canonical returns s with the lifecycle defaults as their zero values, so
// that naming a default changes nothing and settings stored before these
// fields existed read the same as the defaults.
func (s Settings) canonical() Settings {
	if s.ReviewMode == ReviewOff {
		s.ReviewMode = ""
	}
	if s.FraudSameIP != nil && *s.FraudSameIP {
		s.FraudSameIP = nil
	}
	if s.FraudSameDevice != nil && *s.FraudSameDevice {
		s.FraudSameDevice = nil
	}
	return s
}
