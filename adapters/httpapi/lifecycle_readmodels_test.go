package httpapi_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"testing"
	"time"
)

// lifecycleRun drives referrals through holds, reviews, reversals, voids
// and expiry over several days, through the API, and returns their codes
// and the UTC day of each void.
func (s *stack) lifecycleRun(t *testing.T) (codes []string, voidDays []time.Time) {
	t.Helper()
	post := func(path string, body map[string]any) { s.must(t, http.StatusOK, "POST", path, body) }
	s.setSettings(t, lifecycleRewards)
	s.setSettings(t, map[string]any{"review_mode": "hold", "reward_hold_days": 2})
	approved := s.flagged(t, "lr-approved", "lr-approved-f")
	rejected := s.flagged(t, "lr-rejected", "lr-rejected-f")
	open := s.flagged(t, "lr-open", "lr-open-f")
	held := s.completed(t, "lr-held", "lr-held-f", nil)
	clawed := s.completed(t, "lr-clawed", "lr-clawed-f", nil)
	reversed := s.completed(t, "lr-reversed", "lr-reversed-f", nil)
	voidDone := s.completed(t, "lr-void-done", "lr-void-done-f", nil)
	voidPending := s.create(t, "lr-void-pending")
	expires := s.create(t, "lr-expires")
	plain := s.create(t, "lr-plain")
	codes = []string{approved, rejected, open, held, clawed, reversed, voidDone, voidPending, expires, plain}
	s.project(t) // the next batches continue these referrals from their rows
	post("/v1/api/reviews/"+approved+"/approve", map[string]any{"note": "ok"})
	post("/v1/api/referral/reverse-reward", map[string]any{"referral_code": reversed, "side": "referee", "reason": "refund"})
	post("/v1/api/referral/void", map[string]any{"referral_code": voidPending, "reason": "spam"})
	voidDays = append(voidDays, s.now().UTC().Truncate(24*time.Hour))
	s.advance(3 * 24 * time.Hour) // the holds end
	post("/v1/api/referral/claim-reward", map[string]any{"referral_code": clawed})
	post("/v1/api/referral/claim-referee-reward", map[string]any{"referral_code": voidDone})
	s.project(t)
	post("/v1/api/reviews/"+rejected+"/reject", map[string]any{"reason": "fraud"})
	post("/v1/api/referral/reverse-reward", map[string]any{"referral_code": clawed, "side": "referrer", "reason": "chargeback"})
	voidDays = append(voidDays, s.now().UTC().Truncate(24*time.Hour))
	s.advance(24 * time.Hour)
	post("/v1/api/referral/void", map[string]any{"referral_code": voidDone, "reason": "refund"})
	voidDays = append(voidDays, s.now().UTC().Truncate(24*time.Hour))
	s.advance(30 * 24 * time.Hour)
	for _, code := range []string{expires, plain} { // records their expiry
		s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
	}
	s.project(t)
	return codes, voidDays
}

// After a mixed lifecycle run every list item equals GET /referral/{code}
// (reward statuses, review, hold end, void included), and every CSV row
// shows the same lifecycle fields.
func TestListItemsMatchReferralsAfterLifecycle(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		codes, _ := s.lifecycleRun(t)
		out := s.must(t, http.StatusOK, "GET", "/v1/api/referrals?limit=100", nil)
		items := out["referrals"].([]any)
		if len(items) != len(codes) {
			t.Fatalf("%d list items, want %d", len(items), len(codes))
		}
		byCode := map[string]map[string]any{}
		statuses := map[string]bool{}
		for _, it := range items {
			item := it.(map[string]any)
			code := item["referral_code"].(string)
			ref := s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
			if !equalJSON(item, ref) {
				t.Errorf("list item of %s:\n%v\nGET /referral/%s:\n%v", code, item, code, ref)
			}
			byCode[code] = ref
			statuses[ref["status"].(string)+"/"+ref["reward_status"].(string)+"/"+ref["referee_reward_status"].(string)] = true
		}
		if len(statuses) < 6 {
			t.Errorf("the run reached only %d kinds of referral: %v", len(statuses), statuses)
		}

		resp := s.get(t, context.Background(), s.key, "/v1/api/referrals", "text/csv")
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		str := func(v any) string {
			if v == nil {
				return ""
			}
			return v.(string)
		}
		for _, row := range rows[1:] {
			ref := byCode[row[col["referral_code"]]]
			want := map[string]string{"status": str(ref["status"]), "reward_status": str(ref["reward_status"]),
				"referee_reward_status": str(ref["referee_reward_status"]), "reward_available_at": str(ref["reward_available_at"]),
				"voided_at": str(ref["voided_at"]), "void_reason": str(ref["void_reason"])}
			if rv, ok := ref["review"].(map[string]any); ok {
				want["review_state"] = rv["state"].(string)
				for i, r := range rv["reasons"].([]any) {
					if i > 0 {
						want["review_reasons"] += " "
					}
					want["review_reasons"] += r.(string)
				}
			}
			for name, w := range want {
				if i, ok := col[name]; !ok || row[i] != w {
					t.Errorf("CSV row of %s: %s = %q, want %q", row[col["referral_code"]], name, row[min(i, len(row)-1)], w)
				}
			}
		}
		if len(rows)-1 != len(codes) {
			t.Errorf("CSV has %d rows, want %d", len(rows)-1, len(codes))
		}
	})
}

// The stats series counts voids on the UTC day they happened; a
// referral completed and later voided counts as completed on its day.
func TestStatsSeriesVoided(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		day0 := s.now().UTC().Truncate(24 * time.Hour)
		codes, voidDays := s.lifecycleRun(t)
		want := map[string]float64{}
		for _, d := range voidDays {
			want[d.Format("2006-01-02T15:04:05.000Z")]++
		}
		q := "?from=" + day0.Format(time.DateOnly) + "&to=" + day0.AddDate(0, 0, 40).Format(time.DateOnly)
		points := s.must(t, http.StatusOK, "GET", "/v1/api/referral/stats/series"+q, nil)["points"].([]any)
		var created, completed, voided float64
		for _, p := range points {
			pt := p.(map[string]any)
			if pt["voided"] != want[pt["t"].(string)] {
				t.Errorf("day %v: voided %v, want %v", pt["t"], pt["voided"], want[pt["t"].(string)])
			}
			created += pt["created"].(float64)
			completed += pt["completed"].(float64)
			voided += pt["voided"].(float64)
		}
		// Seven completed (the rejected and the voided one too, on their days).
		if created != float64(len(codes)) || completed != 7 || voided != 3 {
			t.Errorf("series totals: created %v, completed %v, voided %v; want %d, 7, 3", created, completed, voided, len(codes))
		}
		st := s.must(t, http.StatusOK, "GET", "/v1/api/referral/stats", nil)
		if st["voided"] != 3.0 || st["completed"] != 5.0 || st["under_review"] != 1.0 || st["expired"] != 2.0 || st["pending"] != 0.0 {
			t.Errorf("stats %v, want voided 3, completed 5, under_review 1, expired 2, pending 0", st)
		}
	})
}
