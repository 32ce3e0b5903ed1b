package httpapi_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/httpapi"
	"github.com/referral-ledger/referral-ledger/adapters/sqlstore"
	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
)

// Invariant 11: text a store or a read model cannot hold (NUL, other
// control characters, bidi controls, malformed metadata) is refused with
// 400 naming the field, and the log is unchanged.
func TestBadTextAppendsNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		code := s.create(t, "ava")
		deep := strings.Repeat(`{"a":`, 9) + `1` + strings.Repeat(`}`, 9)
		cases := []struct {
			name, path, body, field string
		}{
			{"NUL in user_name", "create", `{"user_id":"u","user_name":"x\u0000y"}`, "user_name"},
			{"NUL in user_id", "create", `{"user_id":"u\u0000"}`, "user_id"},
			{"ESC in user_name", "create", `{"user_id":"u","user_name":"x\u001b[31m"}`, "user_name"},
			{"bidi override in user_name", "create", `{"user_id":"u","user_name":"abc\u202edef"}`, "user_name"},
			{"TAB in user_id", "create", `{"user_id":"a\tb"}`, "user_id"},
			{"DEL in device_id", "create", `{"user_id":"u","device_id":"d\u007f"}`, "device_id"},
			{"C1 in ip", "create", `{"user_id":"u","ip":"1.2.3.4\u0085"}`, "ip"},
			{"NUL in metadata value", "create", `{"user_id":"u","metadata":{"k":"a\u0000b"}}`, "metadata"},
			{"control in metadata key", "create", `{"user_id":"u","metadata":{"k\u0001":"v"}}`, "metadata"},
			{"metadata too deep", "create", `{"user_id":"u","metadata":` + deep + `}`, "metadata"},
			{"metadata too large", "create", `{"user_id":"u","metadata":{"k":"` + strings.Repeat("a", 17<<10) + `"}}`, "metadata"},
			{"invalid UTF-8 in metadata", "create", "{\"user_id\":\"u\",\"metadata\":{\"k\":\"\xff\"}}", "metadata"},
			{"NUL in milestone", "milestone", `{"referral_code":"` + code + `","milestone":"com\u0000pleted"}`, "milestone"},
			{"NUL in referred_user_id", "milestone", `{"referral_code":"` + code + `","milestone":"completed","referred_user_id":"r\u0000"}`, "referred_user_id"},
			{"NUL in referred_user_name", "complete", `{"referral_code":"` + code + `","referred_user_id":"r","referred_user_name":"x\u0000y"}`, "referred_user_name"},
			{"NUL in referral_code", "complete", `{"referral_code":"AB\u0000CD","referred_user_id":"r"}`, "referral_code"},
			{"NUL in reward_value", "settings", `{"reward_type":"credit","reward_value":"$5\u0000"}`, "reward_value"},
			{"bidi in milestone names", "settings", `{"referral_milestones":["a\u2066","completed"]}`, "referral_milestones"},
			{"control in url template", "settings", `{"referral_url_template":"https://x.test/{code}\u0000"}`, "referral_url_template"},
		}
		for _, c := range cases {
			before := len(s.events(t, s.space))
			method, path := "POST", "/v1/api/referral/"+c.path
			if c.path == "settings" {
				method = "PUT"
			}
			status, out := s.call(t, s.key, method, path, c.body)
			wantError(t, status, out, http.StatusBadRequest, "invalid_request")
			if msg, _ := out["error"].(string); !strings.Contains(msg, c.field) {
				t.Errorf("%s: message %q does not name %s", c.name, msg, c.field)
			}
			if after := len(s.events(t, s.space)); after != before {
				t.Errorf("%s: appended %d events", c.name, after-before)
			}
		}
		// The control: odd but printable text is accepted.
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/create", map[string]any{
			"user_id": "zoë", "user_name": "  Zoë 🚀 ", "metadata": map[string]any{"note": "line1\nline2", "ok": []any{1, "x"}}})
	})
}

// Path and query parameters are checked before any store sees them: a
// malformed one is 400 naming it, a well-formed unknown one stays 404.
func TestBadParameters(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		wh := s.must(t, http.StatusCreated, "POST", "/v1/api/webhooks", map[string]any{
			"name": "n", "url": "http://127.0.0.1:1/hook", "events": []string{"referral.created"}})
		id := wh["id"].(string)
		cases := []struct {
			method, path, field string
		}{
			{"GET", "/v1/api/referral/AB%00CD", "referral_code"},
			{"GET", "/v1/api/referral/AB%FFCD", "referral_code"},
			{"GET", "/v1/api/referral/AB%E2%80%AECD", "referral_code"},
			{"GET", "/v1/api/audit/referrals/AB%FF", "code"},
			{"GET", "/v1/api/audit/referrals/AB%00", "code"},
			{"GET", "/v1/api/referrals?referrer_id=%FF", "referrer_id"},
			{"GET", "/v1/api/referrals?referrer_id=a%00", "referrer_id"},
			{"GET", "/v1/api/referrals?cursor=MTIzLgA", "cursor"}, // "123.\x00"
			{"GET", "/v1/api/referrals?cursor=MTIzLv8", "cursor"}, // "123.\xff"
			{"GET", "/v1/api/referrals?status=%00", "status"},
			{"GET", "/v1/api/referral/leaderboard?period=%FF", "period"},
			{"GET", "/v1/api/referral/stats?from=%FF", "from"},
			{"GET", "/v1/api/events?type=%FF", "type"},
			{"GET", "/v1/api/webhooks/wh%00", "id"},
			{"GET", "/v1/api/webhooks/wh%FF", "id"},
			{"PATCH", "/v1/api/webhooks/wh%FF", "id"},
			{"DELETE", "/v1/api/webhooks/wh%FF", "id"},
			{"POST", "/v1/api/webhooks/wh%FF/rotate-secret", "id"},
			{"POST", "/v1/api/webhooks/wh%FF/test", "id"},
			{"GET", "/v1/api/webhooks/wh%FF/deliveries", "id"},
			{"GET", "/v1/api/webhooks/" + id + "/deliveries?status=%FF", "status"},
			{"POST", "/v1/api/webhooks/wh%FF/deliveries/d1/retry", "id"},
			{"POST", "/v1/api/webhooks/" + id + "/deliveries/d%FF/retry", "delivery_id"},
			{"POST", "/v1/api/webhooks/wh%FF/replay", "id"},
		}
		for _, c := range cases {
			var body any
			if c.method == "PATCH" {
				body = map[string]any{"active": false}
			}
			if strings.HasSuffix(c.path, "/replay") {
				body = map[string]any{"since": "2024-01-01T00:00:00Z", "until": "2025-01-01T00:00:00Z"}
			}
			status, out := s.call(t, s.key, c.method, c.path, body)
			if status != http.StatusBadRequest || out["code"] != "invalid_request" {
				t.Errorf("%s %s: got %d %v, want 400 invalid_request", c.method, c.path, status, out)
				continue
			}
			if msg, _ := out["error"].(string); !strings.Contains(msg, c.field) {
				t.Errorf("%s %s: message %q does not name %s", c.method, c.path, msg, c.field)
			}
		}
		for _, path := range []string{"/v1/api/referral/ZZZZZZZZZZ", "/v1/api/audit/referrals/ZZZZZZZZZZ", "/v1/api/webhooks/wh_nope"} {
			status, out := s.call(t, s.key, "GET", path, nil)
			wantError(t, status, out, http.StatusNotFound, "not_found")
		}
	})
}

// The events cursor and limit are bounded; a cursor past the head is an
// empty page, not an error.
func TestEventsCursorBounds(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		s.create(t, "ava")
		for _, q := range []string{"after=9223372036854775808", "after=18446744073709551615", "after=-1",
			"limit=5000", "limit=1001", "limit=-1", "limit=9223372036854775808"} {
			status, out := s.call(t, s.key, "GET", "/v1/api/events?"+q, nil)
			wantError(t, status, out, http.StatusBadRequest, "invalid_request")
			resp := s.get(t, context.Background(), s.key, "/v1/api/events?"+q, "application/x-ndjson")
			if q == "limit=5000" || q == "limit=1001" {
				continue // a stream takes any limit
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("ndjson %s: status %d, want 400", q, resp.StatusCode)
			}
		}
		// Past the head: an empty page that stays where it is.
		const past = "9223372036854775807"
		out := s.must(t, http.StatusOK, "GET", "/v1/api/events?after="+past, nil)
		if evs := out["events"].([]any); len(evs) != 0 || out["next_after"] != 9223372036854775807.0 {
			t.Errorf("past the head: %v", out)
		}
		resp := s.get(t, context.Background(), s.key, "/v1/api/events?after="+past, "application/x-ndjson")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || len(body) != 0 {
			t.Errorf("ndjson past the head: %d %q", resp.StatusCode, body)
		}
		// A large limit on the stream is bounded, not wrapped negative.
		resp = s.get(t, context.Background(), s.key, "/v1/api/events?limit=9223372036854775807", "application/x-ndjson")
		lines := 0
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); lines++ {
			var e map[string]any
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e["error"] != nil {
				t.Errorf("ndjson line %q: %v", sc.Bytes(), err)
			}
		}
		if resp.StatusCode != http.StatusOK || lines == 0 {
			t.Errorf("ndjson with a large limit: %d, %d lines", resp.StatusCode, lines)
		}
	})
}

// A known path with the wrong method is 405 with Allow; an unknown path
// stays 404.
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	s := newStack(t, "sqlite")
	cases := []struct{ method, path, allow string }{
		{"GET", "/v1/api/referral/create", "POST"},
		{"DELETE", "/v1/api/referral/settings", "GET, HEAD, PUT"},
		{"POST", "/v1/api/events", "GET, HEAD"},
		{"PUT", "/v1/api/webhooks/wh_x", "DELETE, GET, HEAD, PATCH"},
		{"POST", "/v1/api/referral/ABCDEFGHIJ", "GET, HEAD"},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, s.url+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-API-Key", s.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || out["code"] != "invalid_request" || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: got %d %v Allow %q, want 405 invalid_request Allow %q", c.method, c.path,
				resp.StatusCode, out, resp.Header.Get("Allow"), c.allow)
		}
	}
	status, out := s.call(t, s.key, "GET", "/v1/api/nothing", nil)
	wantError(t, status, out, http.StatusNotFound, "not_found")
}

// CSV cells that a spreadsheet would run as a formula are neutralised.
func TestCSVNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		names := []string{`=HYPERLINK("http://x")`, `@SUM(1)`, `+1+1`, `-2`}
		for i, n := range names {
			s.must(t, http.StatusOK, "POST", "/v1/api/referral/create", map[string]any{"user_id": "u" + string(rune('a'+i)), "user_name": n})
		}
		s.must(t, http.StatusOK, "POST", "/v1/api/referral/create", map[string]any{"user_id": "=cmd", "user_name": "plain"})
		s.project(t)
		resp := s.get(t, context.Background(), s.key, "/v1/api/referrals", "text/csv")
		rows, err := csv.NewReader(resp.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, row := range rows[1:] {
			for _, cell := range row {
				if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
					t.Errorf("cell %q begins with a formula character", cell)
				}
			}
			got = append(got, row[4])
		}
		for _, n := range names {
			found := false
			for _, g := range got {
				found = found || g == "'"+n
			}
			if !found {
				t.Errorf("referrer_name %q is not in the export as %q: %q", n, "'"+n, got)
			}
		}
	})
}

// A client's request and correlation IDs reach the event metadata only if
// they are of a safe charset; others are replaced.
func TestHostileRequestIDs(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		for i, hostile := range []string{`<script>alert(1)</script>`, `a"b`, `x;DROP`, strings.Repeat("a", 129), "café"} {
			req, err := http.NewRequest("POST", s.url+"/v1/api/referral/create", strings.NewReader(`{"user_id":"h`+string(rune('a'+i))+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-API-Key", s.key)
			req.Header.Set("X-Request-ID", hostile)
			req.Header.Set("X-Correlation-ID", hostile)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-ID") == hostile || resp.Header.Get("X-Request-ID") == "" {
				t.Errorf("%q: status %d, X-Request-ID %q", hostile, resp.StatusCode, resp.Header.Get("X-Request-ID"))
			}
		}
		req, _ := http.NewRequest("POST", s.url+"/v1/api/referral/create", strings.NewReader(`{"user_id":"ok"}`))
		req.Header.Set("X-API-Key", s.key)
		req.Header.Set("X-Request-ID", "req-1.2:3_x")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen := false
		for _, e := range s.events(t, s.space) {
			m := string(e.Metadata)
			seen = seen || strings.Contains(m, "req-1.2:3_x")
			for _, bad := range []string{"script", `a\"b`, "DROP", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "café"} {
				if strings.Contains(m, bad) {
					t.Errorf("event metadata %s holds %q", m, bad)
				}
			}
		}
		if !seen {
			t.Error("a safe request ID did not reach the event metadata")
		}
	})
}

// Webhook input: clean validation messages, the text rules, and a grace
// period checked before it could overflow.
func TestWebhookInputValidation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, s *stack) {
		valid := map[string]any{"name": "n", "url": "http://127.0.0.1:1/hook", "events": []string{"referral.created"}}
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for kk, vv := range valid {
				m[kk] = vv
			}
			m[k] = v
			return m
		}
		for _, c := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"bad scheme", with("url", "ftp://127.0.0.1/hook"), "url"},
			{"control in url", with("url", "http://127.0.0.1:1/ho\u202eok"), "url"},
			{"NUL in name", with("name", "a\u0000b"), "name"},
			{"bidi in name", with("name", "a\u2066b"), "name"},
			{"control in event", with("events", []string{"referral.created\u001b"}), "events"},
		} {
			status, out := s.call(t, s.key, "POST", "/v1/api/webhooks", c.body)
			wantError(t, status, out, http.StatusBadRequest, "invalid_request")
			msg, _ := out["error"].(string)
			if !strings.Contains(msg, c.field) || strings.Contains(msg, "invalid_request") {
				t.Errorf("%s: message %q", c.name, msg)
			}
		}
		id := s.must(t, http.StatusCreated, "POST", "/v1/api/webhooks", valid)["id"].(string)
		for _, grace := range []string{"18446744074", "604801", "-1", "9223372036854775807"} {
			status, out := s.call(t, s.key, "POST", "/v1/api/webhooks/"+id+"/rotate-secret", `{"grace_seconds":`+grace+`}`)
			wantError(t, status, out, http.StatusBadRequest, "invalid_request")
		}
		s.must(t, http.StatusOK, "POST", "/v1/api/webhooks/"+id+"/rotate-secret", `{"grace_seconds":604800}`)
	})
}

// failingReads is a real store whose reads of the global log fail from
// the failFrom-th call on: the fault a stream must report.
type failingReads struct {
	domain.EventStore
	calls, failFrom int32
}

func (f *failingReads) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	if atomic.AddInt32(&f.calls, 1) >= f.failFrom {
		return nil, errors.New("injected read failure")
	}
	return f.EventStore.ReadAll(ctx, opts)
}

// An NDJSON stream reports a read failure: with its status before the
// status line is sent, with a last error line after.
func TestEventsStreamReportsFailures(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		store, write, read := storetest.Open(t, kind)
		access := sqlstore.NewAccess(write, read)
		as, err := access.CreateAppspace(context.Background(), "default")
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := access.CreateKey(context.Background(), as.ID, domain.RoleServer, "test")
		if err != nil {
			t.Fatal(err)
		}
		faulty := &failingReads{EventStore: store, failFrom: 1 << 30}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		srv := httptest.NewServer(httpapi.New(domain.NewService(faulty, domain.ServiceConfig{}), access, log, httpapi.Config{}))
		t.Cleanup(srv.Close)
		s := &stack{url: srv.URL, key: key, store: store}
		s.create(t, "ava")
		s.events(t, as.ID) // the create is readable in the log

		atomic.StoreInt32(&faulty.calls, 0)
		atomic.StoreInt32(&faulty.failFrom, 1) // the first read fails
		resp := s.get(t, context.Background(), key, "/v1/api/events", "application/x-ndjson")
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != http.StatusInternalServerError || out["code"] != "internal" {
			t.Errorf("first read fails: got %d %v, want 500 internal", resp.StatusCode, out)
		}

		atomic.StoreInt32(&faulty.calls, 0)
		atomic.StoreInt32(&faulty.failFrom, 2) // the read after the first batch fails
		resp = s.get(t, context.Background(), key, "/v1/api/events", "application/x-ndjson")
		var lines []map[string]any
		for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
			var l map[string]any
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("line %q: %v", sc.Bytes(), err)
			}
			lines = append(lines, l)
		}
		if resp.StatusCode != http.StatusOK || len(lines) < 2 {
			t.Fatalf("later read fails: status %d, lines %v", resp.StatusCode, lines)
		}
		if last := lines[len(lines)-1]; last["code"] != "internal" || last["error"] == nil || lines[0]["type"] == nil {
			t.Errorf("later read fails: lines %v, want events then an error line", lines)
		}
	})
}
