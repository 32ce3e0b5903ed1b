package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Event type names as stored in the log. They are stable and append-only:
// never rename or reuse one.
const (
	TypeReferralCreated   = "ReferralCreated"
	TypeMilestoneReached  = "MilestoneReached"
	TypeRefereeAttributed = "RefereeAttributed"
	TypeReferralCompleted = "ReferralCompleted"
	TypeRewardClaimed     = "RewardClaimed"
	TypeReferralExpired   = "ReferralExpired"
	TypeSettingsChanged   = "SettingsChanged"
	// TypeReferrerCodeIssued is the per-referrer stream's event: it reserves
	// a code for the referrer and snapshots what a later create needs.
	TypeReferrerCodeIssued = "ReferrerCodeIssued"
	// TypeRefereeReserved is the per-referee guard stream's event.
	TypeRefereeReserved = "RefereeReserved"
)

// Event is a domain event: one of the structs below.
type Event interface{ EventType() string }

// ReferralCreated starts a referral stream.
type ReferralCreated struct {
	ReferralID   string          `json:"referral_id"`
	ReferralCode string          `json:"referral_code"`
	ReferrerID   string          `json:"referrer_id"`
	ReferrerName *string         `json:"referrer_name"`
	ReferralURL  *string         `json:"referral_url"`
	Metadata     json.RawMessage `json:"metadata,omitempty"`
	IP           string          `json:"ip,omitempty"`
	DeviceID     string          `json:"device_id,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	ExpiresAt    *time.Time      `json:"expires_at"`
}

// MilestoneReached records a step of the referred user.
type MilestoneReached struct {
	Milestone string    `json:"milestone"`
	ReachedAt time.Time `json:"reached_at"`
}

// RefereeAttributed records the referred user of a referral (set once).
type RefereeAttributed struct {
	ReferredUserID   string    `json:"referred_user_id"`
	ReferredUserName *string   `json:"referred_user_name,omitempty"`
	AttributedAt     time.Time `json:"attributed_at"`
}

// ReferralCompleted records completion and stamps the reward terms that
// applied at that moment.
type ReferralCompleted struct {
	Milestone          string    `json:"milestone"`
	ReferredUserID     *string   `json:"referred_user_id"`
	RewardType         *string   `json:"reward_type"`
	RewardValue        *string   `json:"reward_value"`
	RefereeRewardType  *string   `json:"referee_reward_type"`
	RefereeRewardValue *string   `json:"referee_reward_value"`
	SettingsVersion    Revision  `json:"settings_version"`
	CompletedAt        time.Time `json:"completed_at"`
	// RewardAvailableAt is when the hold period (reward_hold_days) ends,
	// stamped here so a later settings change does not move it; absent
	// without a hold.
	RewardAvailableAt *time.Time `json:"reward_available_at,omitempty"`
}

// Reward sides.
const (
	SideReferrer = "referrer"
	SideReferee  = "referee"
)

// RewardClaimed records that one side's reward was fulfilled.
type RewardClaimed struct {
	Side      string    `json:"side"`
	ClaimedAt time.Time `json:"claimed_at"`
}

// ReferralExpired records that a pending referral passed its expiry.
type ReferralExpired struct {
	ExpiredAt time.Time `json:"expired_at"`
}

// SettingsChanged records an appspace's complete settings after a change.
type SettingsChanged struct {
	Settings  Settings  `json:"settings"`
	Changed   []string  `json:"changed"`
	ChangedAt time.Time `json:"changed_at"`
}

// ReferrerCodeIssued is appended to the referrer's stream when a code is
// issued. It carries the referrer's running state, so a create reads only
// this last event, and the ReferralCreated event itself, so a create
// interrupted between the two appends is repaired by the next one.
type ReferrerCodeIssued struct {
	ReferralCode string `json:"referral_code"`
	// CompletedBefore counts completed referrals among the codes issued
	// before this one.
	CompletedBefore int             `json:"completed_before"`
	Issued          int             `json:"issued"`
	Created         ReferralCreated `json:"created"`
	// Day and DayCompletions carry the velocity count forward (see
	// ReferrerCompletionCounted); empty while it was never kept.
	Day            string `json:"day,omitempty"`
	DayCompletions int    `json:"day_completions,omitempty"`
}

// RefereeReserved is appended to a referred user's guard stream when the
// user is attributed to a referral.
type RefereeReserved struct {
	ReferralCode string    `json:"referral_code"`
	ReservedAt   time.Time `json:"reserved_at"`
}

// EventType implementations.
func (ReferralCreated) EventType() string    { return TypeReferralCreated }
func (MilestoneReached) EventType() string   { return TypeMilestoneReached }
func (RefereeAttributed) EventType() string  { return TypeRefereeAttributed }
func (ReferralCompleted) EventType() string  { return TypeReferralCompleted }
func (RewardClaimed) EventType() string      { return TypeRewardClaimed }
func (ReferralExpired) EventType() string    { return TypeReferralExpired }
func (SettingsChanged) EventType() string    { return TypeSettingsChanged }
func (ReferrerCodeIssued) EventType() string { return TypeReferrerCodeIssued }
func (RefereeReserved) EventType() string    { return TypeRefereeReserved }

// DecodeEvent turns a stored event into its struct (a pointer).
func DecodeEvent(typ string, data []byte) (Event, error) {
	switch typ {
	case TypeReferralCreated:
		return decodeAs[ReferralCreated](typ, data)
	case TypeMilestoneReached:
		return decodeAs[MilestoneReached](typ, data)
	case TypeRefereeAttributed:
		return decodeAs[RefereeAttributed](typ, data)
	case TypeReferralCompleted:
		return decodeAs[ReferralCompleted](typ, data)
	case TypeRewardClaimed:
		return decodeAs[RewardClaimed](typ, data)
	case TypeReferralExpired:
		return decodeAs[ReferralExpired](typ, data)
	case TypeSettingsChanged:
		return decodeAs[SettingsChanged](typ, data)
	case TypeReferrerCodeIssued:
		return decodeAs[ReferrerCodeIssued](typ, data)
	case TypeRefereeReserved:
		return decodeAs[RefereeReserved](typ, data)
	case TypeReferralFlagged:
		return decodeAs[ReferralFlagged](typ, data)
	case TypeReviewResolved:
		return decodeAs[ReviewResolved](typ, data)
	case TypeRewardReversed:
		return decodeAs[RewardReversed](typ, data)
	case TypeReferralVoided:
		return decodeAs[ReferralVoided](typ, data)
	case TypeReferrerCompletionCounted:
		return decodeAs[ReferrerCompletionCounted](typ, data)
	}
	return nil, fmt.Errorf("unknown event type %q", typ)
}

func decodeAs[T any, P interface {
	*T
	Event
}](typ string, data []byte) (Event, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	return P(&v), nil
}

// Metadata is stored beside every event: who acted, and why.
type Metadata struct {
	ActorKeyID    string `json:"actor_key_id,omitempty"`
	RequestID     string `json:"request_id,omitempty"`
	CorrelationID string `json:"correlation_id,omitempty"`
	CausationID   string `json:"causation_id,omitempty"`
	// Reason says why the system acted on its own (for example "expiry").
	Reason string `json:"reason,omitempty"`
}
