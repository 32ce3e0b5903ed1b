package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// flagged creates a referral of referrer whose completion by referee trips
// the same-device rule, and returns its code.
func (s *stack) flagged(tb testing.TB, referrer, referee string) string {
	tb.Helper()
	code := s.createBody(tb, map[string]any{"user_id": referrer, "device_id": "dev-" + referrer})
	s.must(tb, http.StatusOK, "POST", "/v1/api/referral/complete",
		map[string]any{"referral_code": code, "referred_user_id": referee, "referred_device_id": "dev-" + referrer})
	return code
}

// reviewCodes pages through GET /v1/api/reviews with query and returns the
// codes in order, checking each item against the referral.
func (s *stack) reviewCodes(tb testing.TB, key string, query url.Values) []string {
	tb.Helper()
	var codes []string
	for page := 0; ; page++ {
		status, out := s.call(tb, key, "GET", "/v1/api/reviews?"+query.Encode(), nil)
		if status != http.StatusOK {
			tb.Fatalf("GET /v1/api/reviews?%s: %d %v", query.Encode(), status, out)
		}
		for _, it := range out["reviews"].([]any) {
			item := it.(map[string]any)
			code := item["referral_code"].(string)
			ref := s.must(tb, http.StatusOK, "GET", "/v1/api/referral/"+code, nil)
			review := ref["review"].(map[string]any)
			for _, k := range []string{"state", "reasons", "flagged_at", "resolved_at"} {
				if !equalJSON(item[k], review[k]) {
					tb.Errorf("review of %s: %s = %v, the referral says %v", code, k, item[k], review[k])
				}
			}
			if item["referrer_id"] != ref["referrer_id"] || item["referred_user_id"] != ref["referred_user_id"] {
				tb.Errorf("review of %s: %v, the referral says referrer %v, referee %v", code, item, ref["referrer_id"], ref["referred_user_id"])
			}
			codes = append(codes, code)
		}
		next, _ := out["next_cursor"].(string)
		if next == "" {
			return codes
		}
		if page > 10 {
			tb.Fatal("the review pages never end")
		}
		query.Set("cursor", next)
	}
}

// The review queue lists one state's reviews oldest flagged first, a page
// at a time, as the referrals show them; the list's review filter and the
// stats' under_review agree with it; a reviewer key reads it, an analyst
// key does not.
func TestReviewQueue(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.setSettings(t, lifecycleRewards)
		s.setSettings(t, map[string]any{"review_mode": "flag"})
		var codes []string
		for _, who := range []string{"rq-a", "rq-b", "rq-c", "rq-d", "rq-e"} {
			codes = append(codes, s.flagged(t, who, who+"-friend"))
			s.advance(time.Second)
		}
		s.create(t, "rq-clean") // no review: in no queue
		s.must(t, http.StatusOK, "POST", "/v1/api/reviews/"+codes[1]+"/approve", map[string]any{"note": "ok"})
		s.must(t, http.StatusOK, "POST", "/v1/api/reviews/"+codes[3]+"/reject", map[string]any{"reason": "fraud"})
		s.project(t)

		reviewer := s.newKey(t, s.space, domain.RoleReviewer)
		cases := []struct {
			state string
			want  []string
		}{
			{"", []string{codes[0], codes[2], codes[4]}},
			{"open", []string{codes[0], codes[2], codes[4]}},
			{"approved", []string{codes[1]}},
			{"rejected", []string{codes[3]}},
		}
		for _, c := range cases {
			q := url.Values{"limit": {"2"}}
			if c.state != "" {
				q.Set("state", c.state)
			}
			if got := s.reviewCodes(t, reviewer, q); !equalJSON(got, c.want) {
				t.Errorf("reviews in state %q: %v, want %v", c.state, got, c.want)
			}
			// The list's review filter selects the same referrals (newest first).
			if c.state == "" {
				continue
			}
			out := s.must(t, http.StatusOK, "GET", "/v1/api/referrals?review="+c.state, nil)
			var listed []string
			for _, r := range out["referrals"].([]any) {
				listed = append([]string{r.(map[string]any)["referral_code"].(string)}, listed...)
			}
			if !equalJSON(listed, c.want) {
				t.Errorf("referrals with review=%s: %v, want %v", c.state, listed, c.want)
			}
		}
		if st := s.must(t, http.StatusOK, "GET", "/v1/api/referral/stats", nil); st["under_review"] != 3.0 || st["voided"] != 1.0 {
			t.Errorf("stats %v, want under_review 3 and voided 1", st)
		}

		for _, bad := range []string{"?state=closed", "?limit=1001", "?cursor=%21%21", "?limit=x"} {
			status, body := s.call(t, reviewer, "GET", "/v1/api/reviews"+bad, nil)
			wantError(t, status, body, http.StatusBadRequest, "invalid_request")
		}
		status, body := s.call(t, s.key, "GET", "/v1/api/referrals?review=closed", nil)
		wantError(t, status, body, http.StatusBadRequest, "invalid_request")
		status, body = s.call(t, s.newKey(t, s.space, domain.RoleAnalyst), "GET", "/v1/api/reviews", nil)
		wantError(t, status, body, http.StatusForbidden, "forbidden")
		// Another appspace's reviewer sees none of these.
		_, otherKey := s.newAppspace(t, "other", domain.RoleReviewer)
		if got := s.reviewCodes(t, otherKey, url.Values{}); len(got) != 0 {
			t.Errorf("another appspace's queue: %v, want empty", got)
		}
	})
}
