package httpapi_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// The list, leaderboard and stats endpoints answer from the read models,
// which the projection runner keeps equal to the log.
func TestReadModelEndpoints(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, map[string]any{"referral_expiration_days": 5})
		// tom: 2 completed; uma: 1 completed, 1 pending; vic: 1 expired.
		complete := func(code, user string) {
			s.must(t, http.StatusOK, "POST", "/v1/api/referral/complete", map[string]any{"referral_code": code, "referred_user_id": user})
		}
		complete(s.create(t, "tom"), "f1")
		complete(s.create(t, "tom"), "f2")
		complete(s.create(t, "uma"), "f3")
		vic := s.create(t, "vic")
		s.advance(6 * 24 * time.Hour)
		s.must(t, http.StatusOK, "GET", "/v1/api/referral/"+vic, nil) // records the expiry
		s.create(t, "uma")
		s.project(t)

		out := s.must(t, http.StatusOK, "GET", "/v1/api/referral/leaderboard?limit=10", nil)
		var got []string
		for _, e := range out["leaderboard"].([]any) {
			row := e.(map[string]any)
			got = append(got, fmt.Sprintf("%v:%v/%v/%v/%v/%v", row["referrer_id"], row["completed"], row["completed_count"], row["total"], row["pending"], row["expired"]))
		}
		want := []string{"tom:2/2/2/0/0", "uma:1/1/2/1/0", "vic:0/0/1/0/1"}
		if fmt.Sprint(got) != fmt.Sprint(want) || out["count"] != float64(3) {
			t.Errorf("leaderboard %v (count %v), want %v", got, out["count"], want)
		}
		status, body := s.call(t, s.key, "GET", "/v1/api/referral/leaderboard?period=1y", nil)
		wantError(t, status, body, http.StatusBadRequest, "invalid_request")

		st := s.must(t, http.StatusOK, "GET", "/v1/api/referral/stats", nil)
		if st["total"] != float64(5) || st["completed"] != float64(3) || st["pending"] != float64(1) || st["expired"] != float64(1) || st["conversion_rate"] != 0.6 {
			t.Errorf("stats %v", st)
		}
		past := s.must(t, http.StatusOK, "GET", "/v1/api/referral/stats?as_of=2000-01-01", nil)
		if past["total"] != float64(0) || past["conversion_rate"] != float64(0) {
			t.Errorf("stats as of 2000: %v", past)
		}

		page := s.must(t, http.StatusOK, "GET", "/v1/api/referrals?status=pending", nil)
		refs := page["referrals"].([]any)
		if len(refs) != 1 || refs[0].(map[string]any)["referrer_id"] != "uma" || page["next_cursor"] != nil {
			t.Errorf("pending referrals: %v", page)
		}
		first := s.must(t, http.StatusOK, "GET", "/v1/api/referrals?limit=2", nil)
		if len(first["referrals"].([]any)) != 2 || first["next_cursor"] == nil {
			t.Fatalf("first page: %v", first)
		}
		rest := s.must(t, http.StatusOK, "GET", fmt.Sprintf("/v1/api/referrals?limit=10&cursor=%v", first["next_cursor"]), nil)
		if n := len(rest["referrals"].([]any)); n != 3 {
			t.Errorf("second page has %d referrals, want 3", n)
		}

		resp := s.get(t, context.Background(), s.key, "/v1/api/referrals?referrer_id=tom", "text/csv")
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			raw, _ := io.ReadAll(resp.Body)
			t.Fatalf("csv: %v %s", err, raw)
		}
		if len(rows) != 3 || rows[0][1] != "referral_code" || rows[1][3] != "tom" || rows[1][7] != "completed" {
			t.Errorf("csv export: %v", rows)
		}
	})
}
