package domain

import (
	"errors"
	"fmt"
)

// Error codes. They are the machine codes of the HTTP API's error body; the
// HTTP adapter maps each to a status.
const (
	EInvalid                = "invalid_request"
	EUnauthorized           = "unauthorized"
	EForbidden              = "forbidden"
	ENotFound               = "not_found"
	EReferralsDisabled      = "referrals_disabled"
	EMaxReferralsReached    = "max_referrals_reached"
	EReferralExpired        = "referral_expired"
	EReferralNotPending     = "referral_not_pending"
	EReferralNotCompleted   = "referral_not_completed"
	EMilestoneOutOfOrder    = "milestone_out_of_order"
	EUnknownMilestone       = "unknown_milestone"
	ESelfReferral           = "self_referral"
	ERefereeAlreadyReferred = "referee_already_referred"
	ERefereeMismatch        = "referee_mismatch"
	ENoRewardConfigured     = "no_reward_configured"
	EConflict               = "conflict"
	ERateLimited            = "rate_limited"
	EPayloadTooLarge        = "payload_too_large"
	EInternal               = "internal"
	ERewardOnHold           = "reward_on_hold"
	EReferralUnderReview    = "referral_under_review"
	ERewardReversed         = "reward_reversed"
	EReferralVoided         = "referral_voided"
)

// Error is a domain error a caller can act on: a code from the list above
// and a message safe to show to the API caller.
type Error struct {
	Code    string
	Message string
	// Fields are extra members of the error body, such as when a held
	// reward becomes available; nil for most errors.
	Fields map[string]string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is, or wraps, an *Error, and
// EInternal otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}
