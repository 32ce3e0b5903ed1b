package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TestReviewAuditHostileTilePaths: over a sealed tree of 300 leaves (tile
// 0 full, tile 1 partial), tile paths a client should not send get a 4xx,
// never a 500 or another tile's bytes; only full tiles are immutable.
func TestReviewAuditHostileTilePaths(t *testing.T) {
	s := newAuditedStack(t, "sqlite")
	evs := make([]domain.EventData, 300)
	for i := range evs {
		evs[i] = domain.EventData{ID: domain.NewID(), Type: "ReferralCreated",
			Data: fmt.Appendf(nil, `{"n":%d}`, i), Metadata: []byte(`{}`)}
	}
	if _, err := s.store.Append(context.Background(), domain.ReferralStream(s.space, "BULK0000001"), domain.Any(), evs...); err != nil {
		t.Fatal(err)
	}
	if tree := s.seal(t); tree.N != 300 {
		t.Fatalf("tree of %d leaves, want 300", tree.N)
	}
	full := "private, max-age=31536000, immutable"
	for _, c := range []struct {
		path  string
		want  int
		cache string // for a 200
	}{
		{"0/000", 200, full},
		{"entries/000", 200, full},
		{"0/001.p/44", 200, "no-cache"},
		{"entries/001.p/44", 200, "no-cache"},
		{"1/000.p/1", 200, "no-cache"},
		{"0/001", 404, ""},       // not full yet
		{"entries/001", 404, ""}, // not full yet
		{"0/001.p/45", 404, ""},  // beyond the tree
		{"1/000", 404, ""},       // not full yet
		{"7/000", 404, ""},       // no such level
		{"0/000.p/0", 400, ""},   // W = 0
		{"0/000.p/256", 400, ""}, // W = 256 is the full tile's path
		{"0/000.p/300", 400, ""}, // W > 256
		{"0/000.p/044", 400, ""}, // leading zero in W
		{"0/00", 400, ""},        // not three digits
		{"0/0001", 400, ""},      // not three digits
		{"0/x000/001", 400, ""},  // x-prefixed zero group
		{"0/x001", 400, ""},      // x on the last segment
		{"00/000", 400, ""},      // leading zero in L
		{"-1/000", 400, ""},      // negative L
		{"99999999999999999999/000", 400, ""},
		{"0/-01", 400, ""},
		{"entries/x000/001", 400, ""},
		{"data/000", 400, ""}, // Go's sumdb name for entries, not C2SP's
		{"entries/data/000", 400, ""},
		// N·256 overflows int64: it wrapped to tile 0's (and tile 1's)
		// entries, served as immutable, and to a 500 for hash tiles.
		{"entries/x072/x057/x594/x037/x927/936", 404, ""},
		{"entries/x072/x057/x594/x037/x927/937.p/5", 404, ""},
		{"0/x072/x057/x594/x037/x927/936", 404, ""},
		{"1/x281/x474/x976/x710/656.p/2", 404, ""},
		{"0/x009/x223/x372/x036/x854/x775/807", 404, ""}, // N = MaxInt64
	} {
		resp := s.get(t, context.Background(), s.key, "/v1/api/audit/tile/"+c.path, "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.want {
			t.Errorf("tile %s: %d (%d bytes), want %d", c.path, resp.StatusCode, len(body), c.want)
			continue
		}
		if got := resp.Header.Get("Cache-Control"); c.want == 200 && got != c.cache {
			t.Errorf("tile %s: Cache-Control %q, want %q", c.path, got, c.cache)
		}
	}
}

// TestReviewAuditHostileProofParams: tree sizes and indexes out of range,
// negative, huge or not numbers are 400s (or a 404 for an event that is
// not this appspace's), never a 500.
func TestReviewAuditHostileProofParams(t *testing.T) {
	s := newAuditedStack(t, "sqlite")
	s.create(t, "alice")
	s.create(t, "bob")
	tree := s.seal(t)
	id := s.events(t, s.space)[0].ID
	for _, c := range []struct {
		q    string
		want int
	}{
		{"inclusion?event_id=" + id, 200},
		{"inclusion?event_id=" + id + "&tree_size=0", 400}, // not "the latest": the document says at least 1
		{fmt.Sprintf("inclusion?event_id=%s&tree_size=%d", id, tree.N), 200},
		{fmt.Sprintf("inclusion?event_id=%s&tree_size=%d", id, tree.N+1), 400},
		{"inclusion?event_id=" + id + "&tree_size=-1", 400},
		{"inclusion?event_id=" + id + "&tree_size=abc", 400},
		{"inclusion?event_id=" + id + "&tree_size=1e3", 400},
		{"inclusion?event_id=" + id + "&tree_size=9223372036854775807", 400},
		{"inclusion?event_id=" + id + "&tree_size=9223372036854775808", 400},
		{"inclusion?event_id=" + id + "&tree_size=99999999999999999999999", 400},
		{"inclusion", 400},
		{"inclusion?event_id=%00", 400},
		{"consistency?from=1&to=" + fmt.Sprint(tree.N), 200},
		{"consistency?from=0&to=1", 400},
		{"consistency?from=2&to=1", 400},
		{"consistency?from=1&to=" + fmt.Sprint(tree.N+1), 400},
		{"consistency?from=-1&to=1", 400},
		{"consistency?from=1&to=9223372036854775807", 400},
		{"consistency?from=x&to=1", 400},
		{"consistency", 400},
	} {
		status, out := s.call(t, s.key, "GET", "/v1/api/audit/proofs/"+c.q, nil)
		if status != c.want {
			t.Errorf("%s: %d %v, want %d", c.q, status, out, c.want)
		}
	}
}

// TestReviewAuditAppspaceIsolation: a key of another appspace (auditor
// role) sees none of this appspace's proofs, tiles or audit trail.
func TestReviewAuditAppspaceIsolation(t *testing.T) {
	s := newAuditedStack(t, "sqlite")
	code := s.create(t, "alice")
	s.create(t, "bob")
	s.seal(t)
	id := s.events(t, s.space)[0].ID
	_, other := s.newAppspace(t, "other", domain.RoleAuditor)
	for _, c := range []struct {
		path string
		want int
	}{
		{"/v1/api/audit/proofs/inclusion?event_id=" + id, 404},
		{"/v1/api/audit/proofs/inclusion?event_id=" + id + "&tree_size=2", 404},
		{"/v1/api/audit/proofs/consistency?from=1&to=2", 400},
		{"/v1/api/audit/checkpoint", 404},
		{"/v1/api/audit/tile/0/000.p/1", 404},
		{"/v1/api/audit/tile/entries/000.p/1", 404},
		{"/v1/api/audit/referrals/" + code, 404},
	} {
		resp := s.get(t, context.Background(), other, c.path, "")
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.want {
			t.Errorf("%s with another appspace's key: %d %s, want %d", c.path, resp.StatusCode, body, c.want)
		}
	}
	if resp := s.get(t, context.Background(), other, "/v1/api/audit/key", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("key: %d", resp.StatusCode)
	}
}

// TestReviewAuditFullTileNotSharedCacheable: a full tile's URL is the same
// for every appspace (the key says which log), so its year-long cache
// lifetime must not let a shared cache (a CDN, a caching reverse proxy)
// hand one appspace's tile, whose entries hold its events, to another key
// or to a request with none: the response is private, and varies with the
// key headers.
func TestReviewAuditFullTileNotSharedCacheable(t *testing.T) {
	s := newAuditedStack(t, "sqlite")
	other, otherKey := s.newAppspace(t, "other", domain.RoleAuditor)
	for _, app := range []string{other, s.space} {
		evs := make([]domain.EventData, 256)
		for i := range evs {
			evs[i] = domain.EventData{ID: domain.NewID(), Type: "ReferralCreated",
				Data: fmt.Appendf(nil, `{"referrer_id":"%s-%d"}`, app, i), Metadata: []byte(`{}`)}
		}
		if _, err := s.store.Append(context.Background(), domain.ReferralStream(app, "BULK0000001"), domain.Any(), evs...); err != nil {
			t.Fatal(err)
		}
	}
	s.seal(t)
	for _, path := range []string{"entries/000", "0/000"} {
		var bodies [2]string
		for k, key := range []string{s.key, otherKey} {
			resp := s.get(t, context.Background(), key, "/v1/api/audit/tile/"+path, "")
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("tile %s: %d %s", path, resp.StatusCode, b)
			}
			bodies[k] = string(b)
			cc := resp.Header.Get("Cache-Control")
			if !strings.Contains(cc, "private") || strings.Contains(cc, "public") {
				t.Errorf("tile %s: Cache-Control %q: a shared cache may store it for every key", path, cc)
			}
			vary := strings.ToLower(strings.Join(resp.Header.Values("Vary"), ","))
			if !strings.Contains(vary, "x-api-key") || !strings.Contains(vary, "authorization") {
				t.Errorf("tile %s: Vary %q, want the key headers", path, vary)
			}
		}
		if bodies[0] == bodies[1] {
			t.Fatalf("tile %s: the two appspaces' tiles are the same", path)
		}
	}
}
