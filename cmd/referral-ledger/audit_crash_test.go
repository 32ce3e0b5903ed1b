package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

// TestAuditSealingSurvivesSIGKILL: serve is killed with SIGKILL again and
// again while commands stream in and the sealer seals them (it commits a
// batch every quarter second under this load, so kills land among its
// transactions); after each restart the tree continues. At the end the
// appspace's leaves are 0..n-1, exactly its events in log order, the
// stored tree re-hashes from them (audit check), and every signed
// checkpoint is a root of those events and is proved consistent with each
// earlier one.
func TestAuditSealingSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	for _, profile := range serveProfiles[:2] { // sqlite and postgres: the events' own stores
		t.Run(profile.name, func(t *testing.T) {
			t.Parallel()
			env := append(profile.env(t), "LEDGER_RATE_LIMIT=0", "LEDGER_CHECKPOINT_INTERVAL=50ms")
			addr := freeAddr(t)
			srv, key := startServeEnv(t, bin, env, addr)
			cp := &auditStack{url: "http://" + addr, key: key}
			for round := range 4 {
				signed := cp.checkpointSize(t)
				load(t, addr, key, round, 300*time.Millisecond, func() {
					// Each round signs a checkpoint before its kill, so the
					// history spans the kills.
					for deadline := time.Now().Add(30 * time.Second); cp.checkpointSize(t) <= signed && time.Now().Before(deadline); {
						time.Sleep(20 * time.Millisecond)
					}
					if err := srv.Process.Kill(); err != nil { // SIGKILL
						t.Error(err)
					}
				})
				_ = srv.Wait()
				srv = restartServe(t, bin, env, addr)
			}
			n := waitAllSigned(t, addr, key)
			stopServe(t, srv)
			m, vkey := openAfterServe(t, env)
			app := onlyAppspace(t, m)
			evs := checkLeaves(t, m, app, n)
			checkCheckpoints(t, m, app, vkey, evs)
			args := []string{"--data-dir", m.cfg.DataDir}
			if m.cfg.DatabaseURL != "" {
				args = []string{"--database-url", m.cfg.DatabaseURL}
			}
			if out, err := cliRun(t, args, "audit", "check"); err != nil || !strings.HasPrefix(out, "ok: ") {
				t.Errorf("audit check after the kills: %q, %v", out, err)
			}
		})
	}
}

// waitAllSigned waits until the latest checkpoint covers every event of
// the key's appspace, and returns their number.
func waitAllSigned(t *testing.T, addr, key string) int64 {
	t.Helper()
	var events, size int64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		events = 0
		after := "0"
		for {
			var page struct {
				Events    []struct{}      `json:"events"`
				NextAfter json.RawMessage `json:"next_after"`
			}
			if err := get(addr, key, "/v1/api/events?limit=1000&after="+after, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Events) == 0 {
				break
			}
			events += int64(len(page.Events))
			after = string(page.NextAfter)
		}
		s := &auditStack{url: "http://" + addr, key: key}
		if size = s.checkpointSize(t); size == events && events > 0 {
			return events
		}
	}
	t.Fatalf("the checkpoint covers %d of %d events", size, events)
	return 0
}

// openAfterServe opens the store serve used, and returns the verifier key
// of its checkpoints.
func openAfterServe(t *testing.T, env []string) (*Main, string) {
	t.Helper()
	var cfg Config
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "LEDGER_DATA_DIR":
			cfg.DataDir = v
		case "LEDGER_DATABASE_URL":
			cfg.DatabaseURL = v
		}
	}
	m, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if cfg.DatabaseURL != "" {
		return m, testVerifierKey
	}
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, signingKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.ParseKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return m, k.VerifierKey()
}

func onlyAppspace(t *testing.T, m *Main) string {
	t.Helper()
	spaces, err := m.access.ListAppspaces(context.Background())
	if err != nil || len(spaces) != 1 {
		t.Fatalf("appspaces %v, %v; want the bootstrap one", spaces, err)
	}
	return spaces[0].ID
}

// checkLeaves checks that app's leaves are 0..n-1 and hold its events in
// log order, one leaf each, and returns those events.
func checkLeaves(t *testing.T, m *Main, app string, n int64) []domain.RecordedEvent {
	t.Helper()
	var evs []domain.RecordedEvent
	var after domain.Position
	for {
		page, err := m.store.ReadAll(context.Background(), domain.ReadAllOptions{After: after, StreamPrefix: domain.StreamPrefix(app)})
		if len(page) == 0 {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		evs, after = append(evs, page...), page[len(page)-1].Position
	}
	var leaves []struct {
		Index   int64  `db:"leaf_index"`
		EventID string `db:"event_id"`
	}
	if err := m.read.Select(&leaves, m.read.Rebind(`SELECT leaf_index, event_id FROM audit_leaves
		WHERE appspace_id = ? ORDER BY leaf_index`), app); err != nil {
		t.Fatal(err)
	}
	if int64(len(evs)) != n || len(leaves) != len(evs) {
		t.Fatalf("%d leaves for %d events (the API showed %d)", len(leaves), len(evs), n)
	}
	for i, l := range leaves {
		if l.Index != int64(i) || l.EventID != evs[i].ID {
			t.Fatalf("leaf %d: index %d holds event %s; want event %s (no leaf twice, none skipped)", i, l.Index, l.EventID, evs[i].ID)
		}
	}
	t.Logf("%d events, leaves 0..%d", len(evs), len(evs)-1)
	return evs
}

// checkCheckpoints checks every signed checkpoint of app against the tree
// rebuilt from evs: its signature, its root, and a consistency proof
// (tlog.ProveTree, tlog.CheckTree) from each earlier checkpoint.
func checkCheckpoints(t *testing.T, m *Main, app, vkey string, evs []domain.RecordedEvent) {
	t.Helper()
	var notes []string
	if err := m.read.Select(&notes, m.read.Rebind(`SELECT note FROM audit_checkpoints
		WHERE appspace_id = ? ORDER BY tree_size`), app); err != nil {
		t.Fatal(err)
	}
	if len(notes) < 4 {
		t.Fatalf("%d checkpoints; want several across the kills", len(notes))
	}
	var r audit.Rebuild
	for _, e := range evs {
		if err := r.Add(audit.LeafOf(e)); err != nil {
			t.Fatal(err)
		}
	}
	var trees []tlog.Tree
	for _, note := range notes {
		tree, err := audit.OpenCheckpoint([]byte(note), vkey, audit.Origin(app))
		if err != nil {
			t.Fatal(err)
		}
		if root, err := tlog.TreeHash(tree.N, &r); err != nil || root != tree.Hash {
			t.Fatalf("the checkpoint of %d events is not their root (%v)", tree.N, err)
		}
		for _, old := range trees {
			proof, err := tlog.ProveTree(tree.N, old.N, &r)
			if err == nil {
				err = tlog.CheckTree(proof, tree.N, tree.Hash, old.N, old.Hash)
			}
			if err != nil {
				t.Fatalf("checkpoint %d does not extend checkpoint %d: %v", tree.N, old.N, err)
			}
		}
		trees = append(trees, tree)
	}
	t.Logf("%d checkpoints, sizes %d..%d, each consistent with every earlier one", len(trees), trees[0].N, trees[len(trees)-1].N)
}
