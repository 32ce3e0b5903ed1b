package httpapi

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// ReadModels answers the list, leaderboard and stats endpoints from the
// projections. They may lag the log by a moment; /readyz reports the lag.
type ReadModels interface {
	// List returns a page of referrals. Errors: domain.EInvalid.
	List(ctx context.Context, f projections.ListFilter) (projections.ListPage, error)
	// Leaderboard ranks referrers. Errors: domain.EInvalid.
	Leaderboard(ctx context.Context, q projections.LeaderboardQuery) ([]projections.LeaderboardEntry, error)
	// Stats counts referrals by status. Errors: domain.EInvalid.
	Stats(ctx context.Context, q projections.StatsQuery) (projections.Stats, error)
	// Series counts referrals per UTC day. Errors: domain.EInvalid.
	Series(ctx context.Context, q projections.SeriesQuery) ([]projections.SeriesPoint, error)
	// Reviews returns a page of fraud reviews. Errors: domain.EInvalid.
	Reviews(ctx context.Context, q projections.ReviewsQuery) (projections.ReviewsPage, error)
}

type leaderboardJSON struct {
	Rank           int     `json:"rank"`
	ReferrerID     string  `json:"referrer_id"`
	ReferrerName   *string `json:"referrer_name"`
	Total          int     `json:"total"`
	Completed      int     `json:"completed"`
	CompletedCount int     `json:"completed_count"`
	Pending        int     `json:"pending"`
	Expired        int     `json:"expired"`
	// TotalRewardValue is null unless the values sum (see projections).
	TotalRewardValue *string `json:"total_reward_value"`
}

func (s *Server) leaderboard(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	limit, err := parseUint(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	if limit > 100 {
		return domain.Errorf(domain.EInvalid, "limit must be at most 100")
	}
	period := q.Get("period")
	if period == "" {
		period = projections.PeriodAll
	}
	rows, err := s.cfg.ReadModels.Leaderboard(r.Context(), projections.LeaderboardQuery{
		AppspaceID: o.AppspaceID, Period: period, Limit: int(limit), Now: time.Now(),
	})
	if err != nil {
		return err
	}
	out := make([]leaderboardJSON, len(rows))
	for i, e := range rows {
		out[i] = leaderboardJSON{Rank: e.Rank, ReferrerID: e.ReferrerID, ReferrerName: e.ReferrerName, Total: e.Total,
			Completed: e.Completed, CompletedCount: e.Completed, Pending: e.Pending, Expired: e.Expired,
			TotalRewardValue: e.TotalRewardValue}
	}
	writeJSON(w, http.StatusOK, map[string]any{"leaderboard": out, "count": len(out)})
	return nil
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	sq := projections.StatsQuery{AppspaceID: o.AppspaceID}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &sq.From}, {"to", &sq.To}, {"as_of", &sq.AsOf}} {
		t, err := parseTime(q.Get(p.name), p.name)
		if err != nil {
			return err
		}
		*p.dst = t
	}
	st, err := s.cfg.ReadModels.Stats(r.Context(), sq)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": st.Total, "pending": st.Pending, "completed": st.Completed,
		"expired": st.Expired, "voided": st.Voided, "under_review": st.UnderReview, "conversion_rate": st.ConversionRate})
	return nil
}

// parseTime reads an RFC 3339 timestamp or a date (midnight UTC); empty is nil.
func parseTime(v, name string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return &t, nil
		}
	}
	return nil, domain.Errorf(domain.EInvalid, "%s must be an RFC 3339 timestamp or a YYYY-MM-DD date", name)
}

func (s *Server) listReferrals(w http.ResponseWriter, r *http.Request, o domain.Origin) error {
	q := r.URL.Query()
	limit, err := parseUint(q.Get("limit"), "limit")
	if err != nil {
		return err
	}
	f := projections.ListFilter{AppspaceID: o.AppspaceID, Status: q.Get("status"), Review: q.Get("review"), ReferrerID: q.Get("referrer_id"),
		Limit: int(min(limit, 1001)), Cursor: q.Get("cursor")}
	if accepts(r, "text/csv") {
		release, err := s.streams.acquire(w, o.KeyID)
		if err != nil {
			return err
		}
		defer release()
		return s.exportCSV(w, r, f)
	}
	page, err := s.cfg.ReadModels.List(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]referralJSON, len(page.Referrals))
	for i, v := range page.Referrals {
		out[i] = referralOf(v, s.svc.Now())
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	writeJSON(w, http.StatusOK, map[string]any{"referrals": out, "count": len(out), "next_cursor": next})
	return nil
}

var csvHeader = []string{"referral_id", "referral_code", "referral_url", "referrer_id", "referrer_name",
	"referred_user_id", "referred_user_name", "status", "milestone", "reward_type", "reward_value",
	"reward_claimed_at", "referee_reward_type", "referee_reward_value", "referee_reward_claimed_at",
	"created_at", "expires_at", "completed_at", "expired_at", "version",
	// The reward lifecycle's, after the first columns so readers of those keep working.
	"reward_status", "referee_reward_status", "reward_available_at", "review_state", "review_reasons",
	"voided_at", "void_reason"}

// exportCSV streams every referral the filter selects (from its cursor on,
// page by page), not one page.
func (s *Server) exportCSV(w http.ResponseWriter, r *http.Request, f projections.ListFilter) error {
	f.Limit = 1000
	page, err := s.cfg.ReadModels.List(r.Context(), f)
	if err != nil {
		return err // nothing sent yet: a proper error response
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="referrals.csv"`)
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return nil // client gone
	}
	for {
		for _, v := range page.Referrals {
			if err := cw.Write(csvRow(v, s.svc.Now())); err != nil {
				return nil
			}
		}
		cw.Flush()
		if page.NextCursor == "" || cw.Error() != nil {
			return nil
		}
		f.Cursor = page.NextCursor
		if page, err = s.cfg.ReadModels.List(r.Context(), f); err != nil {
			s.log.ErrorContext(r.Context(), "csv export", "err", err)
			return nil // the status line is sent; the export just ends
		}
	}
}

// csvRow is a referral's row: the referral object's fields, review_reasons
// joined by spaces; now judges whether a held reward is still held.
func csvRow(v domain.ReferralView, now time.Time) []string {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format(domain.TimeFormat)
	}
	row := []string{v.ReferralID, v.ReferralCode, str(v.ReferralURL), v.ReferrerID, str(v.ReferrerName),
		str(v.ReferredUserID), str(v.ReferredUserName), string(v.Status), str(v.Milestone), str(v.RewardType),
		str(v.RewardValue), ts(v.RewardClaimedAt), str(v.RefereeRewardType), str(v.RefereeRewardValue),
		ts(v.RefereeRewardClaimedAt), ts(&v.CreatedAt), ts(v.ExpiresAt), ts(v.CompletedAt), ts(v.ExpiredAt),
		strconv.FormatUint(v.Version, 10),
		v.RewardStatus(domain.SideReferrer, now), v.RewardStatus(domain.SideReferee, now), ts(v.RewardAvailableAt)}
	var state, reasons string
	if v.Review != nil {
		state, reasons = v.Review.State, strings.Join(v.Review.Reasons, " ")
	}
	row = append(row, state, reasons, ts(v.VoidedAt), str(v.VoidReason))
	for i, cell := range row {
		row[i] = neutralise(cell)
	}
	return row
}

// neutralise prefixes a cell that a spreadsheet would run as a formula
// (it begins with = + - @, a tab or a carriage return) with a quote, as
// OWASP advises for CSV injection. The export is for spreadsheets; a
// program reading it back strips the quote from such cells.
func neutralise(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// accepts reports whether the request's Accept header names mediaType.
func accepts(r *http.Request, mediaType string) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), mediaType) {
			return true
		}
	}
	return false
}
