package domain

import (
	"context"
	"time"
)

// VoidReferral voids a referral. Errors: ENotFound and those of
// voidCommand.
func (s *Service) VoidReferral(ctx context.Context, o Origin, code, reason string) (ReferralView, error) {
	return s.referrals.run(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.decide(now, voidCommand{reason: reason})
	})
}

// ReverseReward reverses one side's reward. Errors: ENotFound and those of
// reverseCommand.
func (s *Service) ReverseReward(ctx context.Context, o Origin, code, side, reason string) (ReferralView, error) {
	return s.referrals.run(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.decide(now, reverseCommand{side: side, reason: reason})
	})
}

// ApproveReview approves a referral's review. Errors: ENotFound and those
// of approveCommand.
func (s *Service) ApproveReview(ctx context.Context, o Origin, code, note string) (ReferralView, error) {
	return s.referrals.run(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.decide(now, approveCommand{note: note})
	})
}

// RejectReview rejects a referral's review, voiding the referral. Errors:
// ENotFound and those of rejectCommand.
func (s *Service) RejectReview(ctx context.Context, o Origin, code, reason string) (ReferralView, error) {
	return s.referrals.run(ctx, o, code, func(r *Referral, _ Settings, _ Revision, now time.Time) error {
		return r.decide(now, rejectCommand{reason: reason})
	})
}
