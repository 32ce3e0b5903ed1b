package httpapi

import (
	"net/http"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// lifecycleJSON is the reward lifecycle's part of the referral object.
type lifecycleJSON struct {
	RewardStatus        string      `json:"reward_status"`
	RefereeRewardStatus string      `json:"referee_reward_status"`
	RewardAvailableAt   *stamp      `json:"reward_available_at"`
	Review              *reviewJSON `json:"review"`
	VoidedAt            *stamp      `json:"voided_at"`
	VoidReason          *string     `json:"void_reason"`
}

type reviewJSON struct {
	State      string   `json:"state"`
	Reasons    []string `json:"reasons"`
	FlaggedAt  stamp    `json:"flagged_at"`
	ResolvedAt *stamp   `json:"resolved_at"`
}

func lifecycleOf(v domain.ReferralView, now time.Time) *lifecycleJSON {
	out := &lifecycleJSON{
		RewardStatus:        v.RewardStatus(domain.SideReferrer, now),
		RefereeRewardStatus: v.RewardStatus(domain.SideReferee, now),
		RewardAvailableAt:   stampPtr(v.RewardAvailableAt),
		VoidedAt:            stampPtr(v.VoidedAt), VoidReason: v.VoidReason,
	}
	if rv := v.Review; rv != nil {
		out.Review = &reviewJSON{State: rv.State, Reasons: rv.Reasons, FlaggedAt: stamp(rv.FlaggedAt), ResolvedAt: stampPtr(rv.ResolvedAt)}
		if out.Review.Reasons == nil {
			out.Review.Reasons = []string{}
		}
	}
	return out
}

func (s *Server) voidReferral(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	var req struct {
		ReferralCode string `json:"referral_code"`
		Reason       string `json:"reason"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	v, err := s.svc.VoidReferral(r.Context(), o, req.ReferralCode, req.Reason)
	return s.writeReferral(w, v, err)
}

func (s *Server) reverseReward(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	var req struct {
		ReferralCode string `json:"referral_code"`
		Side         string `json:"side"`
		Reason       string `json:"reason"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	v, err := s.svc.ReverseReward(r.Context(), o, req.ReferralCode, req.Side, req.Reason)
	return s.writeReferral(w, v, err)
}

// resolveReview approves (with a note) or rejects (with a reason) the
// review of the path's referral.
func (s *Server) resolveReview(approve bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
		code := r.PathValue("code")
		if approve {
			var req struct {
				Note string `json:"note"`
			}
			if err := decodeOptionalBody(r, &req); err != nil {
				return err
			}
			v, err := s.svc.ApproveReview(r.Context(), o, code, req.Note)
			return s.writeReferral(w, v, err)
		}
		var req struct {
			Reason string `json:"reason"`
		}
		if err := decodeOptionalBody(r, &req); err != nil {
			return err
		}
		v, err := s.svc.RejectReview(r.Context(), o, code, req.Reason)
		return s.writeReferral(w, v, err)
	}
}

// decodeOptionalBody decodes a JSON body, or leaves v alone without one.
func decodeOptionalBody(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	return decodeBody(r, v)
}

func (s *Server) writeReferral(w http.ResponseWriter, v domain.ReferralView, err error) error {
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, referralResponse{Referral: referralOf(v, s.svc.Now())})
	return nil
}
