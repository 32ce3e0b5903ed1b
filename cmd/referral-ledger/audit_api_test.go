package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

func (s *auditStack) status(t *testing.T, key, path string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// TestAuditEndpoints: leaf indexes on events, the referral audit trail's
// checkpoint and inclusion proofs, parameter checks, tiles' caching, the
// audit:read scope and consistency across checkpoints with --trusted.
func TestAuditEndpoints(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			s := startAudited(t, kind)
			var page struct {
				Events []struct {
					ID        string `json:"id"`
					Stream    string `json:"stream"`
					LeafIndex *int64 `json:"leaf_index"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(s.get(t, "/v1/api/events")), &page); err != nil {
				t.Fatal(err)
			}
			for i, e := range page.Events {
				if e.LeafIndex == nil || *e.LeafIndex != int64(i) {
					t.Errorf("event %d has leaf_index %v, want %d", i, e.LeafIndex, i)
				}
			}
			code := page.Events[1].Stream[strings.LastIndex(page.Events[1].Stream, ":")+1:]
			var trail struct {
				Checkpoint string `json:"checkpoint"`
				Events     []struct {
					LeafIndex int64 `json:"leaf_index"`
					Inclusion struct {
						TreeSize int64       `json:"tree_size"`
						LeafHash tlog.Hash   `json:"leaf_hash"`
						Proof    []tlog.Hash `json:"proof"`
					} `json:"inclusion"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(s.get(t, "/v1/api/audit/referrals/"+code)), &trail); err != nil {
				t.Fatal(err)
			}
			_, tree, err := audit.ParseCheckpoint(trail.Checkpoint)
			if err != nil || len(trail.Events) != 1 {
				t.Fatalf("audit trail checkpoint %q (%v), %d events", trail.Checkpoint, err, len(trail.Events))
			}
			e := trail.Events[0]
			if err := tlog.CheckRecord(e.Inclusion.Proof, e.Inclusion.TreeSize, tree.Hash, e.LeafIndex, e.Inclusion.LeafHash); err != nil {
				t.Errorf("audit trail inclusion proof: %v", err)
			}
			for path, want := range map[string]int{
				"/v1/api/audit/proofs/inclusion?event_id=" + page.Events[0].ID:                   200,
				"/v1/api/audit/proofs/inclusion?event_id=nope":                                   404,
				"/v1/api/audit/proofs/inclusion?event_id=" + page.Events[0].ID + "&tree_size=x":  400,
				"/v1/api/audit/proofs/inclusion?event_id=" + page.Events[0].ID + "&tree_size=99": 400,
				"/v1/api/audit/proofs/consistency?from=2&to=8":                                   200,
				"/v1/api/audit/proofs/consistency?from=9&to=8":                                   400,
				"/v1/api/audit/proofs/consistency?from=0&to=8":                                   400,
				"/v1/api/audit/tile/0/000.p/8":                                                   200,
				"/v1/api/audit/tile/entries/000.p/8":                                             200,
				"/v1/api/audit/tile/0/000":                                                       404, // not full yet
				"/v1/api/audit/tile/0/abc":                                                       400,
			} {
				if got, _ := s.status(t, s.key, path); got != want {
					t.Errorf("GET %s: %d, want %d", path, got, want)
				}
			}
			if _, h := s.status(t, s.key, "/v1/api/audit/tile/0/000.p/8"); h.Get("Cache-Control") != "no-cache" {
				t.Errorf("partial tile Cache-Control %q", h.Get("Cache-Control"))
			}
			_, analyst, err := s.m.access.CreateKey(context.Background(), s.app, domain.RoleAnalyst, "analyst")
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := s.status(t, analyst, "/v1/api/audit/checkpoint"); got != http.StatusForbidden {
				t.Errorf("checkpoint without audit:read: %d, want 403", got)
			}
			// The log grows: the new checkpoint must extend the trusted one.
			trusted := filepath.Join(t.TempDir(), "trusted")
			if out, err := s.verify(t, trusted); err != nil {
				t.Fatalf("verify: %q, %v", out, err)
			}
			if _, err := s.m.svc.CreateReferral(context.Background(), originFor(s.app), createInput("eve")); err != nil {
				t.Fatal(err)
			}
			s.waitCheckpoint(t, int64(len(s.events)+2))
			if out, err := s.verify(t, trusted); err != nil || !strings.Contains(out, "ok: 10 events") {
				t.Errorf("verify after the log grew: %q, %v", out, err)
			}
		})
	}
}

func kinds() []string { return []string{"sqlite", "postgres"} }
