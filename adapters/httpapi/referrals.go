package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/referral-ledger/referral-ledger/domain"
)

type createRequest struct {
	UserID   string          `json:"user_id"`
	UserName *string         `json:"user_name"`
	Metadata json.RawMessage `json:"metadata"`
	IP       string          `json:"ip"`
	DeviceID string          `json:"device_id"`
}

func (s *Server) createReferral(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	var req createRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	meta := bytes.TrimSpace(req.Metadata)
	if bytes.Equal(meta, []byte("null")) {
		meta = nil
	}
	res, err := s.svc.CreateReferral(r.Context(), o, domain.CreateInput{
		ReferrerID: req.UserID, ReferrerName: req.UserName, Metadata: meta, IP: req.IP, DeviceID: req.DeviceID,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, createResponse{
		Created: res.Created, Referral: referralOf(res.Referral, s.svc.Now()),
		ReferralCode: res.Referral.ReferralCode, ReferralID: res.Referral.ReferralID, ReferralURL: res.Referral.ReferralURL,
	})
	return nil
}

// createResponse is the body of /referral/create, its members in the
// order a map's encoding gave them (sorted), as before it was a struct.
type createResponse struct {
	Created      bool         `json:"created"`
	Referral     referralJSON `json:"referral"`
	ReferralCode string       `json:"referral_code"`
	ReferralID   string       `json:"referral_id"`
	ReferralURL  *string      `json:"referral_url"`
}

// referralResponse is the body of the endpoints that answer a referral.
type referralResponse struct {
	Referral referralJSON `json:"referral"`
}

func (s *Server) getReferral(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	v, err := s.svc.GetReferral(r.Context(), o, r.PathValue("code"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, referralOf(v, s.svc.Now()))
	return nil
}

type milestoneRequest struct {
	ReferralCode     string  `json:"referral_code"`
	Milestone        string  `json:"milestone"`
	ReferredUserID   string  `json:"referred_user_id"`
	ReferredUserName *string `json:"referred_user_name"`
	ReferredIP       string  `json:"referred_ip"`
	ReferredDeviceID string  `json:"referred_device_id"`
}

func (req milestoneRequest) input() domain.MilestoneInput {
	return domain.MilestoneInput{Milestone: req.Milestone, ReferredUserID: req.ReferredUserID, ReferredUserName: req.ReferredUserName,
		ReferredIP: req.ReferredIP, ReferredDeviceID: req.ReferredDeviceID}
}

func (s *Server) reachMilestone(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	var req milestoneRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.ReferredUserName != nil {
		return domain.Errorf(domain.EInvalid, "referred_user_name is accepted by /referral/complete only")
	}
	v, err := s.svc.ReachMilestone(r.Context(), o, req.ReferralCode, req.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, referralResponse{Referral: referralOf(v, s.svc.Now())})
	return nil
}

func (s *Server) completeReferral(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	var req milestoneRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	v, err := s.svc.CompleteReferral(r.Context(), o, req.ReferralCode, req.input())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, referralResponse{Referral: referralOf(v, s.svc.Now())})
	return nil
}

func (s *Server) claim(side string) handlerFunc {
	claimedField := "reward_claimed"
	if side == domain.SideReferee {
		claimedField = "referee_reward_claimed"
	}
	return func(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
		var req struct {
			ReferralCode string `json:"referral_code"`
		}
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		at, err := s.svc.ClaimReward(r.Context(), o, req.ReferralCode, side)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"success": true, "referral_code": req.ReferralCode, claimedField: true, "claimed_at": stamp(at),
		})
		return nil
	}
}
