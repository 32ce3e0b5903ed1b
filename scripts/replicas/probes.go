package main

import (
	"fmt"
	"net/http"
	"sync"
)

// probeCreates sends 8 creates for one new referrer at once, 4 to each
// replica: all must return one code.
func (c *client) probeCreates(r *results, p int) {
	referrer := fmt.Sprintf("probe-%d-%d", c.runID, p)
	codes := make([]string, 8)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct {
				Code string `json:"referral_code"`
			}
			st, code := c.call(i, "POST", "/v1/api/referral/create", map[string]any{"user_id": referrer}, &out)
			r.note("probe-create", st, code)
			r.commands.Add(1)
			codes[i] = out.Code
		}()
	}
	wg.Wait()
	same := codes[0]
	for _, c := range codes {
		if c != same {
			same = ""
		}
	}
	r.mu.Lock()
	r.referrers = append(r.referrers, referrer)
	r.codes[referrer] = same
	r.mu.Unlock()
}

// probeClaims completes a referral, then sends 4 claims of each side at
// once, split across the replicas.
func (c *client) probeClaims(r *results, p int) {
	var out struct {
		Code string `json:"referral_code"`
	}
	referrer := fmt.Sprintf("claimer-%d-%d", c.runID, p)
	if st, code := c.call(p, "POST", "/v1/api/referral/create", map[string]any{"user_id": referrer}, &out); st != http.StatusOK {
		r.note("probe-claim-setup", st, code)
		return
	}
	st, code := c.call(p+1, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": out.Code,
		"milestone": "completed", "referred_user_id": "claimed-friend-of-" + referrer}, nil)
	r.commands.Add(2)
	if st != http.StatusOK {
		r.note("probe-claim-setup", st, code)
		return
	}
	var wg sync.WaitGroup
	for i := range 8 {
		path := "/v1/api/referral/claim-reward"
		if i%4 >= 2 {
			path = "/v1/api/referral/claim-referee-reward"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, code := c.call(i, "POST", path, map[string]any{"referral_code": out.Code}, nil)
			r.note("probe-claim", st, code)
			r.commands.Add(1)
		}()
	}
	wg.Wait()
	r.mu.Lock()
	r.claimed = append(r.claimed, out.Code)
	r.mu.Unlock()
}
