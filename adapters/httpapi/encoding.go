package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// stamp is a timestamp in the API's format.
type stamp time.Time

// MarshalText makes a stamp a JSON string. (A MarshalJSON's output is
// scanned again by encoding/json to validate it; text is only quoted.)
func (t stamp) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(make([]byte, 0, len(domain.TimeFormat)), domain.TimeFormat), nil
}

func stampPtr(t *time.Time) *stamp {
	if t == nil {
		return nil
	}
	s := stamp(*t)
	return &s
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone; nothing to do
}

// decodeBody reads a JSON object into v, rejecting unknown fields, trailing
// data, other content types and bodies over the limit.
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && ct != "application/json" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return domain.Errorf(domain.EInvalid, "Content-Type must be application/json")
		}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return domain.Errorf(domain.EPayloadTooLarge, "request body is larger than %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return domain.Errorf(domain.EInvalid, "request body must be a JSON object")
	default:
		return domain.Errorf(domain.EInvalid, "invalid JSON body: %v", err)
	}
}

type milestoneJSON struct {
	Milestone string `json:"milestone"`
	Timestamp stamp  `json:"timestamp"`
}

// referralJSON is the API's referral object. ID repeats ReferralID:
// Tolinku's SDKs read a referral's id as "id".
type referralJSON struct {
	ID                     string          `json:"id"`
	ReferralID             string          `json:"referral_id"`
	ReferralCode           string          `json:"referral_code"`
	ReferralURL            *string         `json:"referral_url"`
	ReferrerID             string          `json:"referrer_id"`
	ReferrerName           *string         `json:"referrer_name"`
	ReferredUserID         *string         `json:"referred_user_id"`
	ReferredUserName       *string         `json:"referred_user_name"`
	Status                 domain.Status   `json:"status"`
	Milestone              *string         `json:"milestone"`
	MilestoneHistory       []milestoneJSON `json:"milestone_history"`
	RewardType             *string         `json:"reward_type"`
	RewardValue            *string         `json:"reward_value"`
	RewardClaimed          bool            `json:"reward_claimed"`
	RewardClaimedAt        *stamp          `json:"reward_claimed_at"`
	RefereeRewardType      *string         `json:"referee_reward_type"`
	RefereeRewardValue     *string         `json:"referee_reward_value"`
	RefereeRewardClaimed   bool            `json:"referee_reward_claimed"`
	RefereeRewardClaimedAt *stamp          `json:"referee_reward_claimed_at"`
	CreatedAt              stamp           `json:"created_at"`
	ExpiresAt              *stamp          `json:"expires_at"`
	CompletedAt            *stamp          `json:"completed_at"`
	ExpiredAt              *stamp          `json:"expired_at"`
	Metadata               json.RawMessage `json:"metadata"`
	Version                uint64          `json:"version"`
	// The lifecycle's fields; a read model's row holds them too, so a list
	// item equals GET /referral/{code}.
	*lifecycleJSON
}

// referralOf renders a referral; now judges whether a held reward is
// still held.
func referralOf(v domain.ReferralView, now time.Time) referralJSON {
	hist := make([]milestoneJSON, len(v.MilestoneHistory))
	for i, m := range v.MilestoneHistory {
		hist[i] = milestoneJSON{Milestone: m.Milestone, Timestamp: stamp(m.Timestamp)}
	}
	meta := v.Metadata
	if len(meta) == 0 {
		meta = json.RawMessage(`{}`)
	}
	return referralJSON{
		ID: v.ReferralID, ReferralID: v.ReferralID, ReferralCode: v.ReferralCode, ReferralURL: v.ReferralURL,
		ReferrerID: v.ReferrerID, ReferrerName: v.ReferrerName,
		ReferredUserID: v.ReferredUserID, ReferredUserName: v.ReferredUserName,
		Status: v.Status, Milestone: v.Milestone, MilestoneHistory: hist,
		RewardType: v.RewardType, RewardValue: v.RewardValue,
		RewardClaimed: v.RewardClaimedAt != nil, RewardClaimedAt: stampPtr(v.RewardClaimedAt),
		RefereeRewardType: v.RefereeRewardType, RefereeRewardValue: v.RefereeRewardValue,
		RefereeRewardClaimed: v.RefereeRewardClaimedAt != nil, RefereeRewardClaimedAt: stampPtr(v.RefereeRewardClaimedAt),
		CreatedAt: stamp(v.CreatedAt), ExpiresAt: stampPtr(v.ExpiresAt),
		CompletedAt: stampPtr(v.CompletedAt), ExpiredAt: stampPtr(v.ExpiredAt),
		Metadata: meta, Version: v.Version,
		lifecycleJSON: lifecycleOf(v, now),
	}
}
