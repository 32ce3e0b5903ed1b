package domain

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Settings returns an appspace's current settings and the revision of its
// settings stream (0 while it has the defaults).
func (s *Service) Settings(ctx context.Context, appspaceID string) (Settings, Revision, error) {
	rec, e, ok, err := s.readLast(ctx, SettingsStream(appspaceID))
	if err != nil || !ok {
		return DefaultSettings(), 0, err
	}
	sc, isSettings := e.(*SettingsChanged)
	if !isSettings {
		return Settings{}, 0, fmt.Errorf("settings stream holds a %s event", rec.Type)
	}
	return sc.Settings, rec.Version, nil
}

// UpdateSettings applies change to the current settings, validates the
// result and records it. A change that changes nothing records nothing.
// Errors: EInvalid, and whatever change returns.
func (s *Service) UpdateSettings(ctx context.Context, o Origin, change func(*Settings) error) (Settings, error) {
	var out Settings
	err := s.retry(ctx, func() error {
		cur, rev, err := s.Settings(ctx, o.AppspaceID)
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
		evs, err := encode(o, []Event{&SettingsChanged{Settings: next, Changed: changed, ChangedAt: s.clock()}})
		if err != nil {
			return err
		}
		if err := s.appendAll(ctx, []StreamAppend{{Stream: SettingsStream(o.AppspaceID), Expected: Exact(rev), Events: evs}}); err != nil {
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
	return s.referralCommand(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		r.ExpireIfDue(now)
		return nil
	})
}

// ReachMilestone reports a milestone of the referred user. Errors: ENotFound
// and those of Referral.ReachMilestone, ERefereeAlreadyReferred.
func (s *Service) ReachMilestone(ctx context.Context, o Origin, code string, in MilestoneInput) (ReferralView, error) {
	return s.screenedCommand(ctx, o, code, in, func(r *Referral, st Settings, sv Revision, now time.Time) error {
		return r.ReachMilestone(now, in, st, sv)
	})
}

// CompleteReferral completes a referral by hand. Errors: as ReachMilestone.
func (s *Service) CompleteReferral(ctx context.Context, o Origin, code string, in MilestoneInput) (ReferralView, error) {
	return s.screenedCommand(ctx, o, code, in, func(r *Referral, st Settings, sv Revision, now time.Time) error {
		return r.Complete(now, in, st, sv)
	})
}

// ClaimReward claims one side's reward and returns when it was first
// claimed. Errors: ENotFound and those of Referral.ClaimReward.
func (s *Service) ClaimReward(ctx context.Context, o Origin, code, side string) (time.Time, error) {
	var at time.Time
	_, err := s.referralCommand(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		var err error
		at, err = r.ClaimReward(now, side)
		return err
	})
	return at, err
}

// referralCommand loads a referral, lets decide record changes, and appends
// them (with the referee guard, when a referred user is attributed). Changes
// recorded before decide returns an error (an expiry) are appended too, and
// the error is returned after.
func (s *Service) referralCommand(ctx context.Context, o Origin, code string,
	decide func(r *Referral, st Settings, settingsVersion Revision, now time.Time) error) (ReferralView, error) {
	return s.referralCommandWith(ctx, o, code, func(r *Referral, st Settings, sv Revision, now time.Time) ([]StreamAppend, error) {
		return nil, decide(r, st, sv, now)
	})
}

// referralCommandWith is referralCommand for a decide that also returns
// appends to other streams, made before the referee guard's and the
// referral's own (in that order, for the repair without transactions).
func (s *Service) referralCommandWith(ctx context.Context, o Origin, code string,
	decide func(r *Referral, st Settings, settingsVersion Revision, now time.Time) ([]StreamAppend, error)) (ReferralView, error) {
	if err := ValidateCode("referral_code", code); err != nil {
		return ReferralView{}, err
	}
	var view ReferralView
	var verdict error
	err := s.retry(ctx, func() error {
		st, sv, err := s.Settings(ctx, o.AppspaceID)
		if err != nil {
			return err
		}
		r, err := s.loadReferral(ctx, o.AppspaceID, code)
		if err != nil {
			return err
		}
		if !r.Exists() {
			return Errorf(ENotFound, "referral %s not found", code)
		}
		loaded := r.Version()
		now := s.clock()
		var appends []StreamAppend
		appends, verdict = decide(r, st, sv, now)
		view = r.View()
		if len(r.Changes()) == 0 {
			return nil
		}
		guard, err := s.refereeGuard(ctx, o, r, now)
		if err != nil {
			return err
		}
		appends = append(appends, guard...)
		evs, err := encode(o, r.Changes())
		if err != nil {
			return err
		}
		return s.appendAll(ctx, append(appends, StreamAppend{Stream: ReferralStream(o.AppspaceID, code), Expected: Exact(loaded), Events: evs}))
	})
	if err == nil {
		err = verdict
	}
	if err != nil {
		return ReferralView{}, err
	}
	return view, nil
}
