package httpapi

import (
	"net/http"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// reviewItemJSON is one entry of GET /v1/api/reviews.
type reviewItemJSON struct {
	ReferralCode   string   `json:"referral_code"`
	ReferrerID     string   `json:"referrer_id"`
	ReferredUserID *string  `json:"referred_user_id"`
	Reasons        []string `json:"reasons"`
	State          string   `json:"state"`
	FlaggedAt      stamp    `json:"flagged_at"`
	ResolvedAt     *stamp   `json:"resolved_at"`
}

// listReviews serves the review queue from the read models: one state's
// reviews (open by default), oldest flagged first.
func (s *Server) listReviews(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	limit, err := parseUint(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	page, err := s.cfg.ReadModels.Reviews(r.Context(), projections.ReviewsQuery{
		AppspaceID: o.AppspaceID, State: q.Get("state"), Limit: int(min(limit, 1001)), Cursor: q.Get("cursor"),
	})
	if err != nil {
		return err
	}
	out := make([]reviewItemJSON, len(page.Reviews))
	for i, it := range page.Reviews {
		out[i] = reviewItemJSON{ReferralCode: it.ReferralCode, ReferrerID: it.ReferrerID, ReferredUserID: it.ReferredUserID,
			Reasons: it.Reasons, State: it.State, FlaggedAt: stamp(it.FlaggedAt), ResolvedAt: stampPtr(it.ResolvedAt)}
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	writeJSON(w, http.StatusOK, map[string]any{"reviews": out, "next_cursor": next})
	return nil
}
