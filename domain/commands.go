package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"time"
)

// Settings returns an appspace's current settings and the revision of its
// settings stream (0 while it has the defaults).
func (s *Service) Settings(ctx context.Context, appspaceID string) (Settings, Revision, error) {
	return s.load.settings(ctx, appspaceID)
}

// UpdateSettings applies change to the current settings, validates the
// result and records it. A change that changes nothing records nothing.
// Errors: EInvalid, and whatever change returns.
func (s *Service) UpdateSettings(ctx context.Context, o Origin, change func(*Settings) error) (Settings, error) {
	var out Settings
	err := retry(ctx, s.attempts, func() error {
		cur, rev, err := s.load.settings(ctx, o.AppspaceID)
		if err != nil {
			return err
		}
		next := cur.clone()
		if err := change(&next); err != nil {
			return err
		}
		if next.ReferralMilestones == nil {
			next.ReferralMilestones = []string{}
		}
		next = next.canonical()
		if err := next.Validate(); err != nil {
			return err
		}
		changed, err := changedFields(cur, next)
		if err != nil || len(changed) == 0 {
			out = cur
			return err
		}
		evs, err := encode(o, []Event{&SettingsChanged{Settings: next, Changed: changed, ChangedAt: s.clock.now()}})
		if err != nil {
			return err
		}
		if err := s.app.appendAll(ctx, []StreamAppend{{Stream: SettingsStream(o.AppspaceID), Expected: Exact(rev), Events: evs}}); err != nil {
			return err
		}
		out = next
		return nil
	})
	return out, err
}

// changedFields lists the JSON names of the fields that differ.
func changedFields(a, b Settings) ([]string, error) {
	var ma, mb map[string]json.RawMessage
	for _, x := range []struct {
		v   Settings
		out *map[string]json.RawMessage
	}{{a, &ma}, {b, &mb}} {
		raw, err := json.Marshal(x.v)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, x.out); err != nil {
			return nil, err
		}
	}
	var changed []string
	for _, k := range settingsFieldOrder {
		if !bytes.Equal(ma[k], mb[k]) {
			changed = append(changed, k)
		}
	}
	return changed, nil
}

var settingsFieldOrder = []string{
	"referrals_enabled", "referral_expiration_days", "referral_max_per_user",
	"referral_milestones", "referral_reward_milestone", "reward_type", "reward_value",
	"referee_reward_type", "referee_reward_value", "referral_url_template",
	"reward_hold_days", "review_mode", "fraud_same_ip", "fraud_same_device", "fraud_max_daily_completions",
}

// GetReferral returns a referral's current state, recording its expiry
// first if it is due. Errors: ENotFound.
func (s *Service) GetReferral(ctx context.Context, o Origin, code string) (ReferralView, error) {
	return s.referrals.run(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		r.ExpireIfDue(now)
		return nil
	})
}

// ReachMilestone reports a milestone of the referred user. Errors: ENotFound
// and those of Referral.ReachMilestone, ERefereeAlreadyReferred.
func (s *Service) ReachMilestone(ctx context.Context, o Origin, code string, in MilestoneInput) (ReferralView, error) {
	return s.referrals.screened(ctx, o, code, in, func(r *Referral, st Settings, sv Revision, now time.Time) error {
		return r.ReachMilestone(now, in, st, sv)
	})
}

// CompleteReferral completes a referral by hand. Errors: as ReachMilestone.
func (s *Service) CompleteReferral(ctx context.Context, o Origin, code string, in MilestoneInput) (ReferralView, error) {
	return s.referrals.screened(ctx, o, code, in, func(r *Referral, st Settings, sv Revision, now time.Time) error {
		return r.Complete(now, in, st, sv)
	})
}

// ClaimReward claims one side's reward and returns when it was first
// claimed. Errors: ENotFound and those of Referral.ClaimReward.
func (s *Service) ClaimReward(ctx context.Context, o Origin, code, side string) (time.Time, error) {
	var at time.Time
	_, err := s.referrals.run(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		var err error
		at, err = r.ClaimReward(now, side)
		return err
	})
	return at, err
}
