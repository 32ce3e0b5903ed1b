package domain

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is a referral's lifecycle state.
type Status string

// Statuses.
const (
	StatusPending   Status = "pending"
	StatusCompleted Status = "completed"
	StatusExpired   Status = "expired"
	StatusVoided    Status = "voided"
)

// MilestoneEntry is one step of a referral's milestone_history.
type MilestoneEntry struct {
	Milestone string
	Timestamp time.Time
}

// ReferralView is the state of one referral, as the API shows it.
type ReferralView struct {
	AppspaceID             string
	ReferralID             string
	ReferralCode           string
	ReferralURL            *string
	ReferrerID             string
	ReferrerName           *string
	ReferredUserID         *string
	ReferredUserName       *string
	Status                 Status
	Milestone              *string
	MilestoneHistory       []MilestoneEntry
	RewardType             *string
	RewardValue            *string
	RewardClaimedAt        *time.Time
	RefereeRewardType      *string
	RefereeRewardValue     *string
	RefereeRewardClaimedAt *time.Time
	CreatedAt              time.Time
	ExpiresAt              *time.Time
	CompletedAt            *time.Time
	ExpiredAt              *time.Time
	Metadata               json.RawMessage
	Version                Revision
	// The reward lifecycle (lifecycle_view.go); all zero with the defaults.
	RewardAvailableAt     *time.Time
	RewardReversal        *Reversal
	RefereeRewardReversal *Reversal
	Review                *Review
	VoidedAt              *time.Time
	VoidReason            *string
	// ReferrerIP and ReferrerDeviceID are the create's client details,
	// which the fraud rules compare with the referee's.
	ReferrerIP       string
	ReferrerDeviceID string
}

// Referral is the aggregate of one referral stream.
type Referral struct {
	v       ReferralView
	changes []Event
}

// LoadReferral rebuilds a referral from its stream's events, oldest first.
func LoadReferral(appspaceID string, events []RecordedEvent) (*Referral, error) {
	r := &Referral{v: ReferralView{AppspaceID: appspaceID}}
	for _, re := range events {
		e, err := DecodeEvent(re.Type, re.Data)
		if err != nil {
			return nil, err
		}
		r.v.apply(e)
	}
	return r, nil
}

// RestoreReferral rebuilds a referral from a saved view (a read model's
// row), so that later events can be applied to it with ApplyRecorded.
func RestoreReferral(v ReferralView) *Referral {
	r := &Referral{v: v}
	r.v.MilestoneHistory = append([]MilestoneEntry(nil), v.MilestoneHistory...)
	r.v.Review = v.Review.clone()
	return r
}

// ApplyRecorded applies a stored event of the referral's stream, as the
// command side does when it loads the stream. It reports false, and
// changes nothing, for an event at or below the referral's version (one
// already applied); an event that skips a version is an error.
func (r *Referral) ApplyRecorded(e RecordedEvent) (bool, error) {
	switch {
	case e.Version <= r.v.Version:
		return false, nil
	case e.Version != r.v.Version+1:
		return false, fmt.Errorf("referral %s: event version %d after version %d", r.v.ReferralCode, e.Version, r.v.Version)
	}
	ev, err := DecodeEvent(e.Type, e.Data)
	if err != nil {
		return false, err
	}
	r.v.apply(ev)
	return true, nil
}

// View returns a copy of the referral's current state.
func (r *Referral) View() ReferralView {
	v := r.v
	v.MilestoneHistory = append([]MilestoneEntry(nil), r.v.MilestoneHistory...)
	v.Review = r.v.Review.clone()
	return v
}

// Version is the stream revision the referral was loaded at plus its
// recorded changes.
func (r *Referral) Version() Revision { return r.v.Version }

// Changes returns the events recorded since the referral was loaded.
func (r *Referral) Changes() []Event { return r.changes }

// record applies events and keeps them as changes.
func (r *Referral) record(events ...Event) {
	for _, e := range events {
		r.v.apply(e)
		r.changes = append(r.changes, e)
	}
}

// apply evolves the state by one event of the referral's stream: it only
// changes state and never fails.
func (v *ReferralView) apply(e Event) {
	switch e := e.(type) {
	case *ReferralCreated:
		v.ReferralID, v.ReferralCode, v.ReferralURL = e.ReferralID, e.ReferralCode, e.ReferralURL
		v.ReferrerID, v.ReferrerName, v.Metadata = e.ReferrerID, e.ReferrerName, e.Metadata
		v.CreatedAt, v.ExpiresAt, v.Status = e.CreatedAt, e.ExpiresAt, StatusPending
		v.ReferrerIP, v.ReferrerDeviceID = e.IP, e.DeviceID
	case *MilestoneReached:
		m := e.Milestone
		v.Milestone = &m
		v.MilestoneHistory = append(v.MilestoneHistory, MilestoneEntry{Milestone: m, Timestamp: e.ReachedAt})
	case *RefereeAttributed:
		id := e.ReferredUserID
		v.ReferredUserID, v.ReferredUserName = &id, e.ReferredUserName
	case *ReferralCompleted:
		at := e.CompletedAt
		v.Status, v.CompletedAt = StatusCompleted, &at
		v.RewardType, v.RewardValue = e.RewardType, e.RewardValue
		v.RefereeRewardType, v.RefereeRewardValue = e.RefereeRewardType, e.RefereeRewardValue
		v.RewardAvailableAt = e.RewardAvailableAt
	case *RewardClaimed:
		at := e.ClaimedAt
		if e.Side == SideReferee {
			v.RefereeRewardClaimedAt = &at
		} else {
			v.RewardClaimedAt = &at
		}
	case *ReferralExpired:
		at := e.ExpiredAt
		v.Status, v.ExpiredAt = StatusExpired, &at
	default:
		v.applyLifecycle(e)
	}
	v.Version++
}

// Exists reports whether the referral's stream has been created.
func (r *Referral) Exists() bool { return r.v.Version > 0 }

// ExpireIfDue records ReferralExpired if the referral is pending and its
// expiry has passed. It is applied before every command and read.
func (r *Referral) ExpireIfDue(now time.Time) {
	if r.v.Status == StatusPending && r.v.ExpiresAt != nil && !now.Before(*r.v.ExpiresAt) {
		// The fact is dated at the expiry itself, not when it was noticed.
		r.record(&ReferralExpired{ExpiredAt: *r.v.ExpiresAt})
	}
}
