package domain

import (
	"context"
	"time"
)

// referralCommands runs a decision on one referral: it loads the referral
// and the settings, lets the decision record changes, and appends them
// with the referral's expected revision (and the referee guard's),
// retrying on conflicts.
type referralCommands struct {
	load     loader
	app      appender
	clock    clock
	attempts int
}

// run loads a referral, lets decide record changes, and appends
// them (with the referee guard, when a referred user is attributed). Changes
// recorded before decide returns an error (an expiry) are appended too, and
// the error is returned after.
func (c referralCommands) run(ctx context.Context, o Origin, code string,
	decide func(r *Referral, st Settings, settingsVersion Revision, now time.Time) error) (ReferralView, error) {
	return c.runWith(ctx, o, code, "", func(r *Referral, st Settings, sv Revision, now time.Time) ([]StreamAppend, error) {
		return nil, decide(r, st, sv, now)
	})
}

// runWith is run for a decide that also returns
// appends to other streams, made before the referee guard's and the
// referral's own (in that order, for the repair without transactions).
// referee, if set, is the referred user the command may attribute: the
// last event of its guard stream is read with the settings and the
// referral, in one batch.
func (c referralCommands) runWith(ctx context.Context, o Origin, code, referee string,
	decide func(r *Referral, st Settings, settingsVersion Revision, now time.Time) ([]StreamAppend, error)) (ReferralView, error) {
	if err := ValidateCode("referral_code", code); err != nil {
		return ReferralView{}, err
	}
	var view ReferralView
	var verdict error
	err := retry(ctx, c.attempts, func() error {
		st, sv, r, guard, err := c.load.referralAndSettings(ctx, o.AppspaceID, code, referee)
		if err != nil {
			return err
		}
		if !r.Exists() {
			return Errorf(ENotFound, "referral %s not found", code)
		}
		loaded := r.Version()
		now := c.clock.now()
		var appends []StreamAppend
		appends, verdict = decide(r, st, sv, now)
		view = r.View()
		if len(r.Changes()) == 0 {
			return nil
		}
		reserve, err := c.refereeGuard(ctx, o, r, now, guard)
		if err != nil {
			return err
		}
		appends = append(appends, reserve...)
		evs, err := encode(o, r.Changes())
		if err != nil {
			return err
		}
		return c.app.appendAll(ctx, append(appends, StreamAppend{Stream: ReferralStream(o.AppspaceID, code), Expected: Exact(loaded), Events: evs}))
	})
	if err == nil {
		err = verdict
	}
	if err != nil {
		return ReferralView{}, err
	}
	return view, nil
}

// screened runs a milestone or completion step, then the fraud
// rules. When the step completes the referral while the velocity rule is
// on, the completion is counted on the referrer's stream, whose append
// goes first: a crash before the referral's append leaves a count that the
// command's retry recognises (countCompletion), and at worst, when nobody
// retries, one completion too many for that day.
func (c referralCommands) screened(ctx context.Context, o Origin, code string, in MilestoneInput,
	step func(r *Referral, st Settings, sv Revision, now time.Time) error) (ReferralView, error) {
	referee := in.ReferredUserID // read ahead only if valid: the step rejects the others
	if ValidateID("referred_user_id", referee) != nil {
		referee = ""
	}
	return c.runWith(ctx, o, code, referee, func(r *Referral, st Settings, sv Revision, now time.Time) ([]StreamAppend, error) {
		if err := step(r, st, sv, now); err != nil {
			return nil, err
		}
		if !st.countsCompletions() || !completes(r.Changes()) {
			r.Screen(now, in, st, 0)
			return nil, nil
		}
		ref, err := c.load.referrer(ctx, o.AppspaceID, r.v.ReferrerID)
		if err != nil {
			return nil, err
		}
		r.Screen(now, in, st, ref.countCompletion(code, now))
		if len(ref.Changes()) == 0 {
			return nil, nil
		}
		evs, err := encode(o, ref.Changes())
		return []StreamAppend{{Stream: ref.Stream(), Expected: Exact(ref.Version()), Events: evs}}, err
	})
}
