package audit_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TestLeafIndexes: a page of consecutive events, one filtered (every
// other event), one reaching past the sealed tree, one of another
// appspace's events and unknown ids: each sealed event of the appspace
// gets its leaf index, and nothing else does.
func TestLeafIndexes(t *testing.T) {
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := newLedger(t, kind)
			l.appendEvents(t, "as_a", 12)
			l.appendEvents(t, "as_b", 3)
			l.seal(t)
			l.appendEvents(t, "as_a", 3) // not sealed
			evs, err := l.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix("as_a")})
			if err != nil {
				t.Fatal(err)
			}
			others, err := l.store.ReadAll(ctx, domain.ReadAllOptions{StreamPrefix: domain.StreamPrefix("as_b")})
			if err != nil {
				t.Fatal(err)
			}
			sealed := map[string]int64{}
			for i, e := range evs[:12] {
				sealed[e.ID] = int64(i)
			}
			ids := func(evs []domain.RecordedEvent, step int) []string {
				var out []string
				for i := 0; i < len(evs); i += step {
					out = append(out, evs[i].ID)
				}
				return out
			}
			for _, tt := range []struct {
				name string
				ids  []string
			}{
				{"consecutive", ids(evs[2:9], 1)},
				{"every other", ids(evs, 2)},
				{"past the sealed tree", ids(evs[8:], 1)},
				{"unsealed first", append(ids(evs[12:], 1), ids(evs[:3], 1)...)},
				{"another appspace's and unknown", append(append(ids(others, 1), "no-such-event"), ids(evs[:2], 1)...)},
				{"one", ids(evs[5:6], 1)},
			} {
				got, err := l.prover.LeafIndexes(ctx, "as_a", tt.ids)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]int64{}
				for _, id := range tt.ids {
					if i, ok := sealed[id]; ok {
						want[id] = i
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: leaf indexes (-want +got):\n%s", tt.name, diff)
				}
			}
		})
	}
}
