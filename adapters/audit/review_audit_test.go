package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

// TestReviewTileIndexOverflow: a tile path whose N is so large that
// N·256 (times 256^L) overflows int64 names no tile of the sealed tree:
// it is a 404, never another tile's data (which the handler would mark
// immutable) nor an internal error.
func TestReviewTileIndexOverflow(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := newLedger(t, kind)
			l.appendBulk(t, "as_a", 600)
			l.seal(t)
			for _, tl := range []tlog.Tile{
				{H: 8, L: -1, N: 1 << 56, W: 256},    // N·256 wraps to 0: entries 0-255
				{H: 8, L: -1, N: 1<<56 + 1, W: 5},    // wraps to 256: entries 256-260
				{H: 8, L: 0, N: 1 << 56, W: 256},     // hash tile: no row, was a 500
				{H: 8, L: 1, N: 1 << 48, W: 2},       // (N·256 + 2)·256 wraps to 512
				{H: 8, L: 0, N: 1<<63 - 1, W: 255},   // the largest N a path names
				{H: 8, L: 6, N: 1<<55 + 1<<54, W: 1}, // wraps at level 6
			} {
				data, err := l.prover.Tile(ctx, "as_a", tl)
				if domain.ErrorCode(err) != domain.ENotFound {
					t.Errorf("tile %s: %d bytes, err %v; want not found", tl.Path(), len(data), err)
				}
			}
			// The tiles that exist still read.
			if data, err := l.prover.Tile(ctx, "as_a", tlog.Tile{H: 8, L: -1, N: 1, W: 256}); err != nil || len(data) == 0 {
				t.Errorf("entries tile 1: %d bytes, %v", len(data), err)
			}
			if data, err := l.prover.Tile(ctx, "as_a", tlog.Tile{H: 8, L: 0, N: 2, W: 88}); err != nil || len(data) != 88*tlog.HashSize {
				t.Errorf("hash tile 2.p/88: %d bytes, %v", len(data), err)
			}
		})
	}
}

// TestReviewMissingLeafIsTampering: a sealed leaf row deleted from the
// store is a difference like any other: the whole-tree check and the
// notary's check before signing report it as tampering of that appspace
// (its tree is marked, /readyz says so), not as a failure to retry for
// ever, which held back every appspace's checkpoints at start-up.
func TestReviewMissingLeafIsTampering(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := newLedger(t, kind)
			l.appendBulk(t, "as_w", 300)
			l.appendEvents(t, "as_x", 3)
			l.seal(t)
			ids := l.all(t, "as_w")
			exec(t, l, `DELETE FROM audit_leaves WHERE appspace_id = 'as_w' AND leaf_index = 200`)
			err := audit.NewChecker(l.write, l.store, nil).CheckAll(ctx, nil)
			var tam *audit.Tampered
			if !errors.As(err, &tam) || !audit.OnlyTampered(err) || tam.LeafIndex != 200 || tam.EventID != ids[200].ID {
				t.Fatalf("whole-tree check after a leaf row was deleted: %v; want leaf 200 (event %s) reported tampered", err, ids[200].ID)
			}
			if why, _ := l.prover.Tampered(ctx); !strings.Contains(why, "as_w") {
				t.Errorf("tampered trees: %q, want as_w's", why)
			}

			// The notary's check of the recent leaves, before it signs.
			l2 := newLedger(t, kind)
			l2.appendBulk(t, "as_v", 300)
			l2.seal(t)
			l2.appendBulk(t, "as_v", 10)
			for {
				n, err := l2.runner.Step(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			// The recent check starts 256 leaves before the checkpoint of
			// 300: at leaf 44, after leaf 43.
			exec(t, l2, `DELETE FROM audit_leaves WHERE appspace_id = 'as_v' AND leaf_index = 43`)
			err = l2.notary.SignAll(ctx)
			if !errors.As(err, &tam) {
				t.Fatalf("signing after a leaf row was deleted: %v; want it reported tampered", err)
			}
			if why, _ := l2.prover.Tampered(ctx); !strings.Contains(why, "as_v") {
				t.Errorf("tampered trees: %q, want as_v's", why)
			}
		})
	}
}
