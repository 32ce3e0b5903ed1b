package audit_test

import (
	"context"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
)

// proveEveryLeaf is TestInclusionInOneStatement on one store.
func proveEveryLeaf(t *testing.T, l *ledger) {
	ctx := context.Background()
	l.appendBulk(t, "as_b", 300) // interleaved with as_a's: another tree's tiles
	l.appendBulk(t, "as_a", 520)
	l.appendBulk(t, "as_b", 10)
	l.appendBulk(t, "as_a", 80)
	l.seal(t)
	var reads atomic.Int64
	audit.CountTileReads(l.prover, func() { reads.Add(1) })
	evs, d := l.all(t, "as_a"), l.leaves(t, "as_a")
	if len(evs) != 600 {
		t.Fatalf("%d events, want 600", len(evs))
	}
	for _, size := range []int64{1, 2, 255, 256, 257, 511, 512, 513, 599, 600, 0} {
		n := size
		if n == 0 {
			n = 600 // the latest checkpoint's
		}
		root := rfcMTH(d[:n])
		for m := int64(0); m < n; m++ {
			p, err := l.prover.Inclusion(ctx, "as_a", evs[m].ID, size)
			if err != nil {
				t.Fatalf("leaf %d in %d: %v", m, size, err)
			}
			if p.LeafIndex != m || p.TreeSize != n || p.LeafHash != rfcLeaf(d[m]) {
				t.Fatalf("leaf %d in %d: got leaf %d in %d", m, size, p.LeafIndex, p.TreeSize)
			}
			if err := tlog.CheckRecord(p.Proof, n, root, m, p.LeafHash); err != nil {
				t.Fatalf("tlog.CheckRecord(leaf %d, size %d): %v", m, n, err)
			}
		}
	}
	if got := reads.Load(); got != 0 {
		t.Errorf("%d reads of tiles after the proofs' first statement, want none", got)
	}
	for _, size := range []int64{100, 601} { // leaf 100 is not in the tree of 100; 601 is beyond it
		if _, err := l.prover.Inclusion(ctx, "as_a", evs[100].ID, size); err == nil {
			t.Errorf("leaf 100 in a tree of %d: proved", size)
		}
	}
}

// TestInclusionInOneStatement: over a tree of two tile levels, with a
// second appspace's tree beside it, the proof of every leaf in trees of
// sizes around the tiles' edges verifies against the RFC 6962 root and
// takes no read of tiles after its first statement; tree sizes out of
// range are refused.
func TestInclusionInOneStatement(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) { t.Parallel(); proveEveryLeaf(t, newLedger(t, kind)) })
	}
}
