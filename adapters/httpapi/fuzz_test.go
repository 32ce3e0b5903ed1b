package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// The fuzz targets below send fuzzed requests to the API over real stores
// and check invariant 11: a request is either refused with a 4xx that
// appended nothing, or accepted with a 2xx whose events every projection
// applies; nothing a caller sends answers 5xx. `go test` runs their seeds
// and the corpus in testdata/fuzz on SQLite and (with
// LEDGER_TEST_DATABASE_URL) PostgreSQL; scripts/fuzz.sh runs each target for
// a while.

// fuzzRoutes are the command routes whose bodies are fuzzed. In a body,
// $CODE stands for a live referral code and $HOOK for a webhook id.
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/api/referral/create"},
	{"POST", "/v1/api/referral/milestone"},
	{"POST", "/v1/api/referral/complete"},
	{"POST", "/v1/api/referral/claim-reward"},
	{"POST", "/v1/api/referral/claim-referee-reward"},
	{"PUT", "/v1/api/referral/settings"},
	{"POST", "/v1/api/webhooks"},
	{"PATCH", "/v1/api/webhooks/$HOOK"},
	{"POST", "/v1/api/webhooks/$HOOK/rotate-secret"},
	{"POST", "/v1/api/webhooks/$HOOK/replay"},
}

// fuzzStack is a stack a fuzz target reuses across inputs, with a live
// referral code, a webhook and the log position it has checked up to.
type fuzzStack struct {
	*stack
	code, hook string
	after      domain.Position
}

// fuzzStacks opens one stack per store the tests can reach.
func fuzzStacks(f *testing.F) []*fuzzStack {
	f.Helper()
	var out []*fuzzStack
	for _, kind := range []string{"sqlite", "postgres"} {
		if kind == "postgres" && os.Getenv("LEDGER_TEST_DATABASE_URL") == "" {
			continue // the other tests say why once; a fuzz target just runs on SQLite
		}
		s := newStack(f, kind)
		fs := &fuzzStack{stack: s, code: s.create(f, "fuzz_referrer")}
		fs.hook = s.must(f, http.StatusCreated, "POST", "/v1/api/webhooks", map[string]any{
			"name": "fuzz", "url": "http://127.0.0.1:1/hook", "events": []string{"referral.created"}})["id"].(string)
		fs.after = fs.head(f)
		out = append(out, fs)
	}
	return out
}

// head appends a sentinel outside every appspace and returns the position
// of the last event before it: everything written so far has committed
// and is visible to readers.
func (s *fuzzStack) head(tb testing.TB) domain.Position {
	tb.Helper()
	evs := s.eventsAfter(tb, s.space, s.after)
	if len(evs) == 0 {
		return s.after
	}
	return evs[len(evs)-1].Position
}

// send sends a raw request with the stack's server key and returns the
// status and body.
func (s *fuzzStack) send(tb testing.TB, method, path, accept string, body []byte) (int, []byte, bool) {
	tb.Helper()
	req, err := http.NewRequest(method, s.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, false // not a request a client could send
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", s.key)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, raw, true
}

// checkCommand sends one fuzzed command and checks invariant 11.
func (s *fuzzStack) checkCommand(t *testing.T, route uint8, body []byte) {
	rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
	path := strings.ReplaceAll(rt.path, "$HOOK", s.hook)
	body = bytes.ReplaceAll(bytes.ReplaceAll(body, []byte("$CODE"), []byte(s.code)), []byte("$HOOK"), []byte(s.hook))
	status, raw, ok := s.send(t, rt.method, path, "", body)
	if !ok {
		return
	}
	if status >= 500 {
		t.Fatalf("%s %s %q: status %d %s", rt.method, path, body, status, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s %q: status %d, body is not a JSON object: %q", rt.method, path, body, status, raw)
	}
	added := s.eventsAfter(t, s.space, s.after)
	if len(added) > 0 {
		s.after = added[len(added)-1].Position
	}
	if status >= 400 {
		if out["code"] == nil || out["error"] == nil {
			t.Fatalf("%s %s %q: status %d without an error body: %s", rt.method, path, body, status, raw)
		}
		if len(added) > 0 {
			t.Fatalf("%s %s %q: refused with %d but appended %d events (first %s %s)",
				rt.method, path, body, status, len(added), added[0].Type, added[0].Data)
		}
		return
	}
	for {
		n, err := s.runner.Step(context.Background())
		if err != nil {
			t.Fatalf("%s %s %q: accepted with %d, but the projection cannot apply its events: %v", rt.method, path, body, status, err)
		}
		if n == 0 {
			break
		}
	}
	// A poison event is quarantined rather than retried forever: an
	// accepted command's events must not need it.
	counts, err := projections.QuarantineCounts(context.Background(), s.write)
	if err != nil {
		t.Fatal(err)
	}
	if n := counts[projections.ReferralsName]; n > 0 {
		t.Fatalf("%s %s %q: accepted with %d, but %d of its events were quarantined", rt.method, path, body, status, n)
	}
}

// FuzzCommands fuzzes the JSON bodies of every command route.
func FuzzCommands(f *testing.F) {
	seeds := []struct {
		route uint8
		body  string
	}{
		{0, `{"user_id":"u1"}`},
		{0, `{"user_id":"u2","user_name":"Ann","metadata":{"a":{"b":[1,2,{"c":null}]}},"ip":"1.2.3.4","device_id":"d"}`},
		{0, `{"user_id":"u","user_name":"x\u0000y"}`},
		{0, `{"user_id":"u\u202ex","user_name":"=HYPERLINK(\"http://x\")"}`},
		{0, `{"user_id":"u3","metadata":{"k":"\u0000"}}`},
		{0, `{"user_id":"u4","metadata":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`},
		{0, `{"user_id":"u5","metadata":[1]}`},
		{0, `{"user_id":"` + strings.Repeat("x", 200) + `"}`},
		{1, `{"referral_code":"$CODE","milestone":"signed_up","referred_user_id":"f1"}`},
		{1, `{"referral_code":"$CODE","milestone":"a\u0000b"}`},
		{1, `{"referral_code":"$CODE","milestone":"m","referred_user_id":"\u001b[31m"}`},
		{2, `{"referral_code":"$CODE","referred_user_id":"f2","referred_user_name":"x\u0000"}`},
		{2, `{"referral_code":"$CODE","referred_user_id":"f3","milestone":"done"}`},
		{3, `{"referral_code":"$CODE"}`},
		{4, `{"referral_code":"AB\u0000CD"}`},
		{5, `{"reward_type":"credit","reward_value":"$5","referral_milestones":["a","b"],"referral_reward_milestone":"b"}`},
		{5, `{"reward_value":"x\u0000","referral_expiration_days":9223372036854775807}`},
		{5, `{"referral_url_template":"https://x/{code}\r\nSet-Cookie: a"}`},
		{6, `{"url":"http://127.0.0.1:1/a","events":["referral.created"],"name":"n\u0000"}`},
		{7, `{"events":["referral.completed"],"active":false}`},
		{8, `{"grace_seconds":18446744074}`},
		{8, `{"grace_seconds":60}`},
		{9, `{"since":"2026-01-01T00:00:00.000Z","until":"2026-01-02T00:00:00.000Z"}`},
	}
	for _, sd := range seeds {
		f.Add(sd.route, []byte(sd.body))
	}
	stacks := fuzzStacks(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		for _, s := range stacks {
			s.checkCommand(t, route, body)
		}
	})
}

// FuzzQueries fuzzes the paths and query strings of the read routes: each
// answers 2xx or 4xx with the API's body, never 5xx.
func FuzzQueries(f *testing.F) {
	for _, seed := range []string{
		"referral/$CODE", "referral/AB%00CD", "referral/AB%FFCD", "audit/referrals/AB%FF",
		"referrals?referrer_id=%FF", "referrals?status=pending&limit=2&cursor=zz", "referrals?limit=-1",
		"events?after=9223372036854775808", "events?after=18446744073709551615", "events?after=1&limit=5000",
		"events?type=ReferralCreated&limit=2", "referral/leaderboard?period=7d&limit=100",
		"referral/leaderboard?period=1y", "referral/stats?from=2026-01-01T00:00:00Z&as_of=x",
		"referral/settings", "webhooks/$HOOK/deliveries?limit=1&status=failed", "webhooks/%00",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	stacks := fuzzStacks(f)
	f.Fuzz(func(t *testing.T, query string, ndjson bool) {
		accept := ""
		if ndjson {
			accept = "application/x-ndjson"
		}
		for _, s := range stacks {
			p := "/v1/api/" + strings.NewReplacer("$CODE", s.code, "$HOOK", s.hook).Replace(query)
			if u, err := url.Parse(p); err != nil || !strings.HasPrefix(path.Clean(u.Path), "/v1/") {
				return // dot segments that leave the API: another handler's business
			}
			if ndjson && strings.Contains(p, "follow") {
				return // a live tail does not end by itself
			}
			status, raw, ok := s.send(t, "GET", p, accept, nil)
			if !ok {
				return
			}
			if status >= 500 {
				t.Fatalf("GET %s: status %d %s", p, status, raw)
			}
			if status == http.StatusBadRequest && string(raw) == "400 Bad Request" {
				continue // net/http refused the request line itself; the API never saw it
			}
			if status >= 400 && !json.Valid(raw) {
				t.Fatalf("GET %s: status %d, error body is not JSON: %q", p, status, raw)
			}
		}
	})
}
