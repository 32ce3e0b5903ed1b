package domain

import (
	"net/url"
	"slices"
	"strings"
)

// Settings are an appspace's referral program terms. The zero value is not
// the default: use DefaultSettings.
type Settings struct {
	ReferralsEnabled        bool     `json:"referrals_enabled"`
	ReferralExpirationDays  *int     `json:"referral_expiration_days"`
	ReferralMaxPerUser      *int     `json:"referral_max_per_user"`
	ReferralMilestones      []string `json:"referral_milestones"`
	ReferralRewardMilestone string   `json:"referral_reward_milestone"`
	RewardType              *string  `json:"reward_type"`
	RewardValue             *string  `json:"reward_value"`
	RefereeRewardType       *string  `json:"referee_reward_type"`
	RefereeRewardValue      *string  `json:"referee_reward_value"`
	ReferralURLTemplate     *string  `json:"referral_url_template"`
	// The reward lifecycle's terms. Their zero values are their defaults
	// (see lifecycle_settings.go), so settings stored before they existed
	// read as the defaults.
	RewardHoldDays           int    `json:"reward_hold_days"`
	ReviewMode               string `json:"review_mode"`
	FraudSameIP              *bool  `json:"fraud_same_ip"`
	FraudSameDevice          *bool  `json:"fraud_same_device"`
	FraudMaxDailyCompletions *int   `json:"fraud_max_daily_completions"`
}

// Reward types accepted in settings.
var RewardTypes = []string{"points", "credit", "discount", "custom"}

// DefaultSettings returns the settings of an appspace that never changed them.
func DefaultSettings() Settings {
	days := 30
	return Settings{
		ReferralsEnabled:        true,
		ReferralExpirationDays:  &days,
		ReferralMilestones:      []string{},
		ReferralRewardMilestone: "completed",
	}
}

const (
	maxMilestones   = 50
	maxRewardValue  = 256
	maxTemplateLen  = 2048
	maxExpiryDays   = 36500
	maxPerUserLimit = 1_000_000
)

// Validate reports the first problem with s as an EInvalid *Error.
func (s Settings) Validate() error {
	if d := s.ReferralExpirationDays; d != nil && (*d < 1 || *d > maxExpiryDays) {
		return Errorf(EInvalid, "referral_expiration_days must be between 1 and %d, or null for no expiry", maxExpiryDays)
	}
	if m := s.ReferralMaxPerUser; m != nil && (*m < 1 || *m > maxPerUserLimit) {
		return Errorf(EInvalid, "referral_max_per_user must be between 1 and %d, or null for no limit", maxPerUserLimit)
	}
	if len(s.ReferralMilestones) > maxMilestones {
		return Errorf(EInvalid, "referral_milestones has more than %d entries", maxMilestones)
	}
	for i, m := range s.ReferralMilestones {
		if err := ValidateID("referral_milestones entry", m); err != nil {
			return err
		}
		if slices.Contains(s.ReferralMilestones[:i], m) {
			return Errorf(EInvalid, "referral_milestones lists %q twice", m)
		}
	}
	if err := ValidateID("referral_reward_milestone", s.ReferralRewardMilestone); err != nil {
		return err
	}
	if len(s.ReferralMilestones) > 0 && !slices.Contains(s.ReferralMilestones, s.ReferralRewardMilestone) {
		return Errorf(EInvalid, "referral_reward_milestone %q is not one of referral_milestones", s.ReferralRewardMilestone)
	}
	if err := validReward("reward", s.RewardType, s.RewardValue); err != nil {
		return err
	}
	if err := validReward("referee_reward", s.RefereeRewardType, s.RefereeRewardValue); err != nil {
		return err
	}
	if err := s.validateLifecycle(); err != nil {
		return err
	}
	if t := s.ReferralURLTemplate; t != nil {
		if err := ValidateText("referral_url_template", *t, maxTemplateLen); err != nil {
			return err
		}
		u, err := url.Parse(strings.ReplaceAll(*t, "{code}", "CODE"))
		if len(*t) > maxTemplateLen || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return Errorf(EInvalid, "referral_url_template must be an http(s) URL")
		}
		if !strings.Contains(*t, "{code}") {
			return Errorf(EInvalid, "referral_url_template must contain {code}")
		}
	}
	return nil
}

func validReward(prefix string, typ, value *string) error {
	if typ != nil && !slices.Contains(RewardTypes, *typ) {
		return Errorf(EInvalid, "%s_type must be one of %s", prefix, strings.Join(RewardTypes, ", "))
	}
	if value != nil {
		if err := ValidateText(prefix+"_value", *value, maxRewardValue); err != nil {
			return err
		}
	}
	if value != nil && typ == nil {
		return Errorf(EInvalid, "%s_value needs %s_type", prefix, prefix)
	}
	return nil
}

// clone returns a deep copy of s, so a change to it leaves s alone.
func (s Settings) clone() Settings {
	c := s
	c.ReferralMilestones = append([]string{}, s.ReferralMilestones...)
	for _, p := range []**string{&c.RewardType, &c.RewardValue, &c.RefereeRewardType, &c.RefereeRewardValue, &c.ReferralURLTemplate} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	for _, p := range []**bool{&c.FraudSameIP, &c.FraudSameDevice} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	for _, p := range []**int{&c.ReferralExpirationDays, &c.ReferralMaxPerUser, &c.FraudMaxDailyCompletions} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return c
}

// milestoneIndex returns the position of name in the pipeline, or -1.
func (s Settings) milestoneIndex(name string) int {
	return slices.Index(s.ReferralMilestones, name)
}

// atOrPastReward reports whether reaching milestone m earns the reward: it is
// the reward milestone, or comes after it in the pipeline (skipping ahead
// past the reward milestone is allowed, and must not strand the referral).
func (s Settings) atOrPastReward(m string) bool {
	if m == s.ReferralRewardMilestone {
		return true
	}
	idx := s.milestoneIndex(m)
	return idx >= 0 && idx > s.milestoneIndex(s.ReferralRewardMilestone)
}

// referralURL fills the template with code, or returns nil without one.
func (s Settings) referralURL(code string) *string {
	if s.ReferralURLTemplate == nil {
		return nil
	}
	u := strings.ReplaceAll(*s.ReferralURLTemplate, "{code}", code)
	return &u
}
