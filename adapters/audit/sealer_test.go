package audit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/projections"
)

// TestSealerBacklog: a backlog sealed as serve seals it (batches of
// hundreds of events, each prepared while the one before commits, its
// leaves encoded by several goroutines), then sealed on from a fresh
// sealer, holds the trees RFC 6962 defines over the events, and the
// whole-tree check finds every stored leaf and hash in place.
func TestSealerBacklog(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := newLedger(t, kind)
			l.appendBulk(t, "as_a", 1500)
			l.appendEvents(t, "as_b", 5)
			l.appendBulk(t, "as_a", 700)
			cfg := audit.RunnerConfig(l.write, nil)
			cfg.BatchSize = 1100
			for range 2 { // the second sealer takes up where the first stopped
				r, err := projections.NewRunner(l.store, l.write, audit.NewSealer(nil), cfg)
				if err != nil {
					t.Fatal(err)
				}
				for {
					n, err := r.Step(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if n == 0 {
						break
					}
				}
				l.appendBulk(t, "as_a", 600)
			}
			l.seal(t)
			for app, want := range map[string]int64{"as_a": 3400, "as_b": 5} {
				tree := l.checkpoint(t, app)
				var d [][]byte
				for _, e := range l.all(t, app) {
					d = append(d, audit.LeafOf(e).Bytes())
				}
				if tree.N != want || int64(len(d)) != want || tree.Hash != rfcMTH(d) {
					t.Errorf("%s: checkpoint of %d leaves, log of %d; want %d with the RFC 6962 root", app, tree.N, len(d), want)
				}
			}
			if err := audit.NewChecker(l.write, l.store, nil).CheckAll(ctx, nil); err != nil {
				t.Errorf("whole-tree check: %v", err)
			}
		})
	}
}

// TestNotaryRecentPart: before signing, the notary checks the leaves
// just before the previous checkpoint and the newest ones against the
// stored events, and refuses to sign if one differs; an event edited in
// between (sealed from the store less than a second before) is signed as
// it was sealed, and the whole-tree check names it (docs/decisions.md,
// "The notary's recent part").
func TestNotaryRecentPart(t *testing.T) {
	t.Parallel()
	for _, kind := range kinds {
		for _, tt := range []struct {
			name  string
			leaf  int
			signs bool
		}{{"before the checkpoint", 40, false}, {"newest", 1050, false}, {"in between", 600, true}} {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				l := newLedger(t, kind)
				l.appendBulk(t, "as_w", 100)
				l.seal(t)
				l.appendBulk(t, "as_w", 1000)
				for n := 1; n > 0; {
					var err error
					if n, err = l.runner.Step(ctx); err != nil {
						t.Fatal(err)
					}
				}
				id := l.all(t, "as_w")[tt.leaf].ID
				exec(t, l, `UPDATE events SET data = '{"n": -1}' WHERE id = ?`, id)
				err := l.notary.SignAll(ctx)
				var tam *audit.Tampered
				if signed := l.checkpoint(t, "as_w").N == 1100; signed != tt.signs || (!tt.signs && (!errors.As(err, &tam) || tam.EventID != id)) {
					t.Fatalf("signing after leaf %d was edited: %v, signed %v; want signed %v", tt.leaf, err, signed, tt.signs)
				}
				if err := audit.NewChecker(l.write, l.store, nil).CheckAll(ctx, nil); !errors.As(err, &tam) || tam.EventID != id {
					t.Errorf("whole-tree check: %v; want leaf %d named", err, tt.leaf)
				}
			})
		}
	}
}
