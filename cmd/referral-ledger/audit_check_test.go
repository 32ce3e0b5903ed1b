package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

// storeArgs are the CLI flags that reach s's store.
func (s *auditStack) storeArgs() []string {
	if s.m.cfg.DatabaseURL != "" {
		return []string{"--database-url", s.m.cfg.DatabaseURL}
	}
	return []string{"--data-dir", s.m.cfg.DataDir}
}

// TestAuditCheck: `audit check` passes on an untouched ledger; after an
// event's data or a stored tree hash is changed in the store, it fails
// naming the event, and marks the tree tampered (serve stops signing and
// /readyz says so).
func TestAuditCheck(t *testing.T) {
	t.Parallel()
	tampers := []struct {
		name string
		do   func(t *testing.T, s *auditStack) string // returns the event id audit check must name
	}{
		{"event", func(t *testing.T, s *auditStack) string {
			mustExec(t, s.m.write, `UPDATE events SET data = '{"referrer_id":"mallory"}' WHERE id = ?`, s.events[5].ID)
			return s.events[5].ID
		}},
		{"tree hash", func(t *testing.T, s *auditStack) string {
			// Leaf 6's hash is the seventh of the first level-0 tile.
			var tile []byte
			if err := s.m.read.Get(&tile, s.m.read.Rebind(`SELECT hashes FROM audit_tiles
				WHERE appspace_id = ? AND level = 0 AND idx = 0`), s.app); err != nil {
				t.Fatal(err)
			}
			copy(tile[6*tlog.HashSize:], make([]byte, tlog.HashSize))
			mustExec(t, s.m.write, `UPDATE audit_tiles SET hashes = ? WHERE appspace_id = ? AND level = 0 AND idx = 0`, tile, s.app)
			return s.events[6].ID
		}},
	}
	for _, kind := range kinds() {
		for _, tt := range tampers {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				s := startAudited(t, kind)
				out, err := cliRun(t, s.storeArgs(), "audit", "check")
				if err != nil || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "(8 leaves)") {
					t.Fatalf("audit check of an untouched ledger: %q, %v", out, err)
				}
				signed := s.checkpointSize(t)
				want := tt.do(t, s)
				out, err = cliRun(t, s.storeArgs(), "audit", "check")
				t.Logf("audit check: %v", err)
				if err == nil || !strings.Contains(err.Error(), want) || out != "" {
					t.Fatalf("audit check after tampering: %q, %v; want an error naming event %s", out, err, want)
				}
				waitReady(t, s.url, `"ledger":"tampered"`)
				if _, err := s.m.svc.CreateReferral(context.Background(), originFor(s.app), createInput("eve")); err != nil {
					t.Fatal(err)
				}
				waitSealed(t, s, int64(len(s.events)+2))
				time.Sleep(100 * time.Millisecond) // five checkpoint intervals
				if got := s.checkpointSize(t); got != signed {
					t.Errorf("checkpoint size after audit check found a tamper: %d, want %d", got, signed)
				}
			})
		}
	}
}

// waitSealed waits until the sealer has sealed n leaves of s's appspace.
func waitSealed(t *testing.T, s *auditStack, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var size int64
		if err := s.m.read.Get(&size, s.m.read.Rebind(`SELECT size FROM audit_trees WHERE appspace_id = ?`), s.app); err != nil {
			t.Fatal(err)
		}
		if size >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sealer sealed %d leaves, want %d", size, n)
		}
	}
}

// gatedStore holds back reads of one appspace's part of the log (the
// whole-tree check's) until open is closed; the global log reads of the
// sealer and the commands pass.
type gatedStore struct {
	domain.EventStore
	open chan struct{}
}

func (g gatedStore) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	if opts.StreamPrefix != "" {
		select {
		case <-g.open:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.EventStore.ReadAll(ctx, opts)
}

// TestAuditStartupCheckInBackground: serve starts, answers and takes
// commands while its whole-tree check runs (held back here), /readyz
// reports the check, and no checkpoint is signed until it has gone
// through; the check then finds the event changed while serve was down
// and signing stays stopped.
func TestAuditStartupCheckInBackground(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds() {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			first := startAudited(t, kind)
			signed := first.checkpointSize(t)
			// Changed while serve runs but nothing new is sealed: only a
			// whole-tree check can see it.
			mustExec(t, first.m.write, `UPDATE events SET data = '{"referrer_id":"mallory"}' WHERE id = ?`, first.events[2].ID)
			first.stop()

			ctx, cancel := context.WithCancel(context.Background())
			m, err := Open(ctx, first.m.cfg)
			if err != nil {
				t.Fatal(err)
			}
			gate := make(chan struct{})
			m.store = gatedStore{m.store, gate}
			_, server, err := m.access.CreateKey(ctx, first.app, domain.RoleServer, "server")
			if err != nil {
				t.Fatal(err)
			}
			addr, err := m.Listen()
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- m.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
				m.Close()
			})
			s := &auditStack{m: m, url: "http://" + addr.String(), key: first.key, app: first.app, done: done}
			waitReady(t, s.url, `"ledger":"degraded: checking (0 of 8 leaves)"`)
			for i := range 3 {
				if err := postWant(addr.String(), server, "/v1/api/referral/create", map[string]any{"user_id": fmt.Sprint("late-", i)}, nil, http.StatusOK); err != nil {
					t.Fatalf("a command while the check runs: %v", err)
				}
			}
			waitSealed(t, s, 14) // sealed, but not signed while the check runs
			time.Sleep(100 * time.Millisecond)
			if got := s.checkpointSize(t); got != signed {
				t.Fatalf("a checkpoint of %d leaves was signed before the whole-tree check went through (want %d)", got, signed)
			}
			close(gate)
			waitReady(t, s.url, `"ledger":"tampered"`)
			time.Sleep(100 * time.Millisecond)
			if got := s.checkpointSize(t); got != signed {
				t.Errorf("checkpoint size after the check found a tamper: %d, want %d", got, signed)
			}
		})
	}
}

// TestAuditEventstoreProfile: with the log on EventStoreDB (emulated, or
// the server LEDGER_TEST_EVENTSTORE_URL names) and the tree in
// PostgreSQL, events are sealed and signed, an inclusion proof checks
// against the checkpoint, and audit verify passes.
func TestAuditEventstoreProfile(t *testing.T) {
	t.Parallel()
	s := startAuditedWith(t, auditedConfig(t, "eventstoredb"))
	_, tree, err := audit.ParseCheckpoint(textOf([]byte(s.get(t, "/v1/api/audit/checkpoint"))))
	if err != nil || tree.N != 8 {
		t.Fatalf("checkpoint of %d leaves (%v), want 8", tree.N, err)
	}
	var p struct {
		LeafIndex int64       `json:"leaf_index"`
		TreeSize  int64       `json:"tree_size"`
		LeafHash  tlog.Hash   `json:"leaf_hash"`
		Proof     []tlog.Hash `json:"proof"`
	}
	if err := json.Unmarshal([]byte(s.get(t, "/v1/api/audit/proofs/inclusion?event_id="+s.events[5].ID)), &p); err != nil {
		t.Fatal(err)
	}
	if p.LeafIndex != 5 || p.TreeSize != 8 || p.LeafHash != audit.LeafOf(s.events[5]).Hash() {
		t.Fatalf("inclusion proof of leaf %d in %d, want leaf 5 in 8 with its leaf hash", p.LeafIndex, p.TreeSize)
	}
	if err := tlog.CheckRecord(p.Proof, p.TreeSize, tree.Hash, p.LeafIndex, p.LeafHash); err != nil {
		t.Errorf("inclusion proof: %v", err)
	}
	trusted := filepath.Join(t.TempDir(), "trusted")
	if out, err := s.verify(t, trusted); err != nil || !strings.HasPrefix(out, "ok: 8 events") {
		t.Fatalf("audit verify: %q, %v", out, err)
	}
	if _, err := s.m.svc.CreateReferral(context.Background(), originFor(s.app), createInput("eve")); err != nil {
		t.Fatal(err)
	}
	s.waitCheckpoint(t, 10)
	if out, err := s.verify(t, trusted); err != nil || !strings.HasPrefix(out, "ok: 10 events") {
		t.Errorf("audit verify after the log grew (consistency with the trusted checkpoint): %q, %v", out, err)
	}
}
