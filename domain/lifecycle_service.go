package domain

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// VoidReferral voids a referral. Errors: ENotFound and those of
// Referral.Void.
func (s *Service) VoidReferral(ctx context.Context, o Origin, code, reason string) (ReferralView, error) {
	return s.referralCommand(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.Void(now, reason)
	})
}

// ReverseReward reverses one side's reward. Errors: ENotFound and those of
// Referral.ReverseReward.
func (s *Service) ReverseReward(ctx context.Context, o Origin, code, side, reason string) (ReferralView, error) {
	return s.referralCommand(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.ReverseReward(now, side, reason)
	})
}

// ApproveReview approves a referral's review. Errors: ENotFound and those
// of Referral.ApproveReview.
func (s *Service) ApproveReview(ctx context.Context, o Origin, code, note string) (ReferralView, error) {
	return s.referralCommand(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.ApproveReview(now, note)
	})
}

// RejectReview rejects a referral's review, voiding the referral. Errors:
// ENotFound and those of Referral.RejectReview.
func (s *Service) RejectReview(ctx context.Context, o Origin, code, reason string) (ReferralView, error) {
	return s.referralCommand(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.RejectReview(now, reason)
	})
}

// screenedCommand runs a milestone or completion step, then the fraud
// rules. When the step completes the referral while the velocity rule is
// on, the completion is counted on the referrer's stream, whose append
// goes first: a crash before the referral's append leaves a count that the
// command's retry recognises (countCompletion), and at worst, when nobody
// retries, one completion too many for that day.
func (s *Service) screenedCommand(ctx context.Context, o Origin, code string, in MilestoneInput,
	step func(r *Referral, st Settings, sv Revision, now time.Time) error) (ReferralView, error) {
	return s.referralCommandWith(ctx, o, code, func(r *Referral, st Settings, sv Revision, now time.Time) ([]StreamAppend, error) {
		if err := step(r, st, sv, now); err != nil {
			return nil, err
		}
		if !st.countsCompletions() || !r.completedNow() {
			r.Screen(now, in, st, 0)
			return nil, nil
		}
		ref, err := s.readReferrer(ctx, o.AppspaceID, r.v.ReferrerID)
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

// readReferrer loads a referrer from its stream's last event.
func (s *Service) readReferrer(ctx context.Context, appspaceID, referrerID string) (*Referrer, error) {
	stream := ReferrerStream(appspaceID, referrerID)
	var evs []RecordedEvent
	switch rec, err := s.store.ReadLast(ctx, stream); {
	case errors.Is(err, ErrStreamNotFound):
	case err != nil:
		return nil, fmt.Errorf("read last of %s: %w", stream, err)
	default:
		evs = []RecordedEvent{rec}
	}
	return LoadReferrer(appspaceID, referrerID, evs)
}
