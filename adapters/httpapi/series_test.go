package httpapi_test

import (
	"net/http"
	"testing"
	"time"
)

// TestStatsSeries counts referrals created, completed and expired per UTC
// day from the read models, and bounds the range.
func TestStatsSeries(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, map[string]any{"referral_expiration_days": 1})
		day0 := s.now().UTC().Truncate(24 * time.Hour)
		done := s.create(t, "series-a")
		s.create(t, "series-b")
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": done, "referred_user_id": "series-friend"})
		late := s.create(t, "series-c")
		s.advance(3 * 24 * time.Hour) // series-b and series-c expire, swept on read
		for _, code := range []string{late} {
			s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
		}
		s.project(t)
		from := day0.AddDate(0, 0, -1).Format(time.DateOnly)
		to := day0.AddDate(0, 0, 5).Format(time.DateOnly)
		out := s.must(t, http.StatusOK, "GET", "/v1/api/referral/stats/series?interval=day&from="+from+"&to="+to, nil)
		points := out["points"].([]any)
		if len(points) != 6 {
			t.Fatalf("%d points, want 6 (one per day)", len(points))
		}
		var created, completed, expired float64
		for i, p := range points {
			pt := p.(map[string]any)
			if want := day0.AddDate(0, 0, i-1).Format("2006-01-02T15:04:05.000Z"); pt["t"] != want {
				t.Errorf("point %d at %v, want %s", i, pt["t"], want)
			}
			created += pt["created"].(float64)
			completed += pt["completed"].(float64)
			expired += pt["expired"].(float64)
			if pt["voided"] != 0.0 {
				t.Errorf("point %d voided %v, want 0", i, pt["voided"])
			}
		}
		if p := points[1].(map[string]any); p["created"] != 3.0 || p["completed"] != 1.0 {
			t.Errorf("day 0: %v, want 3 created and 1 completed", p)
		}
		if created != 3 || completed != 1 || expired < 1 {
			t.Errorf("totals created %v completed %v expired %v, want 3, 1, at least 1", created, completed, expired)
		}
		for _, bad := range []string{"?interval=week", "?from=2020-01-01&to=2022-01-01", "?from=2026-02-01&to=2026-01-01", "?from=yesterday"} {
			status, body := s.call(t, s.key, "GET", "/v1/api/referral/stats/series"+bad, nil)
			wantError(t, status, body, http.StatusBadRequest, "invalid_request")
		}
	})
}
