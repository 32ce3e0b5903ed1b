package audit_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

// TestForgedProofsRejected: a proof with a wrong sibling, for a wrong
// size or a wrong leaf fails; so does a checkpoint signed by another key
// or for another appspace.
func TestForgedProofsRejected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newLedger(t, "sqlite")
	l.appendEvents(t, "as_a", 11)
	l.appendEvents(t, "as_b", 2)
	l.seal(t)
	tree := l.checkpoint(t, "as_a")
	evs, _ := l.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix("as_a")})
	p, err := l.prover.Inclusion(ctx, "as_a", evs[5].ID, tree.N)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(p.Proof, tree.N, tree.Hash, 5, p.LeafHash); err != nil {
		t.Fatalf("genuine proof: %v", err)
	}
	sibling := append(tlog.RecordProof{}, p.Proof...)
	sibling[1][0] ^= 1
	otherLeaf := audit.LeafOf(evs[6]).Hash()
	for _, tt := range []struct {
		name  string
		proof tlog.RecordProof
		size  int64
		index int64
		leaf  tlog.Hash
	}{
		{"wrong sibling", sibling, tree.N, 5, p.LeafHash},
		{"wrong size", p.Proof, 8, 5, p.LeafHash}, // 11 leaves: a size with another shape
		{"wrong leaf", p.Proof, tree.N, 5, otherLeaf},
		{"wrong index", p.Proof, tree.N, 4, p.LeafHash},
	} {
		if err := tlog.CheckRecord(tt.proof, tt.size, tree.Hash, tt.index, tt.leaf); err == nil {
			t.Errorf("%s: forged inclusion proof accepted", tt.name)
		}
	}
	cons, err := l.prover.Consistency(ctx, "as_a", 4, tree.N)
	if err != nil {
		t.Fatal(err)
	}
	cons[0][3] ^= 1
	r := &audit.Rebuild{}
	for _, e := range evs[:4] {
		if err := r.Add(audit.LeafOf(e)); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := tlog.TreeHash(4, r)
	if err := tlog.CheckTree(cons, tree.N, tree.Hash, 4, old); err == nil {
		t.Error("forged consistency proof accepted")
	}

	msg, _, err := l.prover.Checkpoint(ctx, "as_a")
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := audit.GenerateKey()
	if _, err := audit.OpenCheckpoint(msg, otherKey, audit.Origin("as_a")); err == nil {
		t.Error("checkpoint accepted with another verifier key")
	}
	if _, err := audit.OpenCheckpoint(msg, l.key.VerifierKey(), audit.Origin("as_b")); err == nil {
		t.Error("appspace a's checkpoint accepted as appspace b's")
	}
	skey, _, _ := audit.GenerateKey()
	mallory, _ := audit.ParseKey(skey)
	forged, _ := mallory.Sign(audit.Origin("as_a"), tree)
	if _, err := audit.OpenCheckpoint(forged, l.key.VerifierKey(), audit.Origin("as_a")); err == nil {
		t.Error("checkpoint signed by another key accepted")
	}
	// The rebuilt tree of the genuine events matches; one edited leaf does not.
	full := &audit.Rebuild{}
	for i, e := range evs {
		leaf := audit.LeafOf(e)
		if i == 7 {
			leaf.Data = []byte(`{"n": 70}`)
		}
		if err := full.Add(leaf); err != nil {
			t.Fatal(err)
		}
	}
	if err := full.Check(tree, l.sealedHashes(t, "as_a", tree)); err == nil || !strings.Contains(err.Error(), evs[7].ID) {
		t.Errorf("rebuilt tree with leaf 7 edited: %v; want a mismatch naming %s", err, evs[7].ID)
	}
}

// sealedHashes reads app's stored hashes as a verifier would, through
// tiles checked against tree.
func (l *ledger) sealedHashes(t *testing.T, app string, tree tlog.Tree) tlog.HashReader {
	return tlog.TileHashReader(tree, proverTiles{l: l, app: app})
}

type proverTiles struct {
	l   *ledger
	app string
}

func (proverTiles) Height() int { return audit.TileHeight }
func (p proverTiles) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(ts))
	for i, t := range ts {
		b, err := p.l.prover.Tile(context.Background(), p.app, t)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
func (proverTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// TestTwoReplicasOneTree: two sealers and two notaries on one PostgreSQL
// database, running while events are appended, build one tree and one
// sequence of checkpoints, each consistent with the one before.
func TestTwoReplicasOneTree(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := newLedger(t, "postgres")
	n2, r2 := l.replica(t)
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{l.runner.Run, r2.Run, l.notary.Run, n2.Run} {
		wg.Go(func() { _ = run(ctx) })
	}
	for range 5 {
		l.appendEvents(t, "as_a", 20)
	}
	evs, _ := l.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix("as_a")})
	// Wait for the checkpoint of the whole log.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, n, err := l.prover.Checkpoint(ctx, "as_a"); err == nil && n == int64(len(evs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint of the whole log")
		}
	}
	cancel()
	wg.Wait()
	var cps []struct {
		Size int64  `db:"tree_size"`
		Root []byte `db:"root_hash"`
	}
	if err := l.write.Select(&cps, `SELECT tree_size, root_hash FROM audit_checkpoints WHERE appspace_id = 'as_a' ORDER BY tree_size`); err != nil {
		t.Fatal(err)
	}
	d := l.leaves(t, "as_a")
	for i, cp := range cps {
		if h := rfcMTH(d[:cp.Size]); string(h[:]) != string(cp.Root) {
			t.Errorf("checkpoint %d (size %d) is not the root of the first %d events", i, cp.Size, cp.Size)
		}
	}
	var leaves, distinct int
	if err := l.write.Get(&leaves, `SELECT COUNT(*) FROM audit_leaves WHERE appspace_id = 'as_a'`); err != nil {
		t.Fatal(err)
	}
	if err := l.write.Get(&distinct, `SELECT COUNT(DISTINCT event_id) FROM audit_leaves WHERE appspace_id = 'as_a'`); err != nil {
		t.Fatal(err)
	}
	if leaves != len(evs) || distinct != len(evs) {
		t.Errorf("%d leaves of %d events (%d distinct); want one leaf each", leaves, len(evs), distinct)
	}
}
