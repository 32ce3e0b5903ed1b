package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/webhooks"
)

// client calls the replicas with one API key.
type client struct {
	key   string
	bases []string
	conc  int
	http  *http.Client
	runID int64
}

func newClient(key string, bases []string, conc int) *client {
	return &client{key: key, bases: bases, conc: conc, runID: time.Now().UnixNano(),
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * conc}}}
}

// call sends a JSON request to replica i and decodes a 2xx answer into
// out; otherwise it returns the status and the error code.
func (c *client) call(i int, method, path string, body, out any) (int, string) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequest(method, c.bases[i%len(c.bases)]+path, bytes.NewReader(raw))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", c.key)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		var e struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(data, &e)
		return resp.StatusCode, e.Code
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, "undecodable body"
		}
	}
	return resp.StatusCode, ""
}

// setup sets rewards (so claims can be made) and subscribes the receiver
// to every event, through replica A.
func (c *client) setup(receiver string) {
	if st, code := c.call(0, "PUT", "/v1/api/referral/settings", map[string]any{"reward_type": "points", "reward_value": "10",
		"referee_reward_type": "points", "referee_reward_value": "5"}, nil); st != http.StatusOK {
		log.Fatalf("settings: %d %s", st, code)
	}
	events := []string{webhooks.EventReferralCreated, webhooks.EventReferralCompleted, webhooks.EventMilestoneReached,
		webhooks.EventRewardClaimed, webhooks.EventReferralExpired}
	if st, code := c.call(0, "POST", "/v1/api/webhooks", map[string]any{"name": "receiver", "url": receiver, "events": events}, nil); st != http.StatusCreated {
		log.Fatalf("webhook: %d %s", st, code)
	}
}

// results counts answers by operation and outcome.
type results struct {
	mu       sync.Mutex
	outcomes map[string]int // "op status code"
	commands atomic.Int64
	elapsed  time.Duration
	// What the probes did, for the checks.
	referrers []string          // probed by concurrent creates
	codes     map[string]string // referrer -> the code every create returned ("" if they differed)
	claimed   []string          // referral codes probed by concurrent claims
}

func (r *results) note(op string, status int, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes[fmt.Sprintf("%s %d %s", op, status, code)]++
}

// errors counts answers that were not 2xx.
func (r *results) errors() int {
	n := 0
	for k, v := range r.outcomes {
		var op string
		var status int
		fmt.Sscanf(k, "%s %d", &op, &status)
		if status/100 != 2 {
			n += v
		}
	}
	return n
}

func (r *results) print() {
	fmt.Printf("\n%d commands in %s: %.0f/s over HTTP across both replicas\n", r.commands.Load(), r.elapsed.Round(time.Millisecond),
		float64(r.commands.Load())/r.elapsed.Seconds())
	keys := make([]string, 0, len(r.outcomes))
	for k := range r.outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  %-50s %d\n", k, r.outcomes[k])
	}
	fmt.Printf("answers other than 2xx: %d\n", r.errors())
}

// run sends bench's command load from c.conc callers, worker w on replica
// w%2, and runs the probes beside it, for d.
func (c *client) run(d time.Duration) *results {
	r := &results{outcomes: map[string]int{}, codes: map[string]string{}}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				c.pair(r, w, i)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for p := 0; time.Now().Before(deadline); p++ {
			c.probeCreates(r, p)
			c.probeClaims(r, p)
		}
	}()
	wg.Wait()
	r.elapsed = time.Since(start)
	return r
}

// pair is bench's load: a create for a new referrer, then its referred
// user's first milestone.
func (c *client) pair(r *results, w, i int) {
	referrer := fmt.Sprintf("load-%d-%d-%d", c.runID, w, i)
	var out struct {
		Code string `json:"referral_code"`
	}
	st, code := c.call(w, "POST", "/v1/api/referral/create", map[string]any{"user_id": referrer}, &out)
	r.note("create", st, code)
	r.commands.Add(1)
	if st != http.StatusOK {
		return
	}
	st, code = c.call(w, "POST", "/v1/api/referral/milestone", map[string]any{"referral_code": out.Code,
		"milestone": "signed_up", "referred_user_id": "friend-of-" + referrer}, nil)
	r.note("milestone", st, code)
	r.commands.Add(1)
}
