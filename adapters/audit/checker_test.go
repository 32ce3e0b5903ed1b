package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/adapters/audit"
	"github.com/referral-ledger/referral-ledger/domain"
)

// appendBulk appends n events to one of app's streams in one append.
func (l *ledger) appendBulk(t *testing.T, app string, n int) {
	t.Helper()
	want := len(l.all(t, app)) + n
	evs := make([]domain.EventData, n)
	for i := range evs {
		evs[i] = domain.EventData{ID: domain.NewID(), Type: "ReferralCreated",
			Data: fmt.Appendf(nil, `{"n": %d}`, i), Metadata: []byte(`{}`)}
	}
	if _, err := l.store.Append(context.Background(), domain.ReferralStream(app, "BULK"+domain.NewID()), domain.Any(), evs...); err != nil {
		t.Fatal(err)
	}
	for len(l.all(t, app)) < want { // PostgreSQL may show them a moment later
		time.Sleep(5 * time.Millisecond)
	}
}

// all returns app's events, all of them.
func (l *ledger) all(t *testing.T, app string) []domain.RecordedEvent {
	t.Helper()
	var out []domain.RecordedEvent
	var after domain.Position
	for {
		evs, err := l.store.ReadAll(context.Background(), domain.ReadAllOptions{After: after, StreamPrefix: domain.StreamPrefix(app)})
		if len(evs) == 0 {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out, after = append(out, evs...), evs[len(evs)-1].Position
	}
}

// TestCheckerRehashesWholeTrees: the whole-tree check passes over trees
// of several chunks and several checkpoints, and names the first leaf
// whose event, stored hash or checkpoint root no longer matches; the tree
// is then marked tampered and the other appspace's is not.
func TestCheckerRehashesWholeTrees(t *testing.T) {
	t.Parallel()
	tampers := []struct {
		name, what string
		do         func(t *testing.T, l *ledger, ids []string) string // returns the id to name
	}{
		{"event", "changed: data", func(t *testing.T, l *ledger, ids []string) string {
			exec(t, l, `UPDATE events SET data = '{"n": -1}' WHERE id = ?`, ids[200])
			return ids[200]
		}},
		{"interior hash", "stored tree hash", func(t *testing.T, l *ledger, ids []string) string {
			// Leaf 255 completes the first subtree of 256 leaves, whose
			// root is the first hash of the level-1 tile.
			exec(t, l, `UPDATE audit_tiles SET hashes = ? WHERE appspace_id = 'as_w' AND level = 1 AND idx = 0`,
				make([]byte, 32))
			return ids[255]
		}},
		{"checkpoint root", "signed checkpoint of 150", func(t *testing.T, l *ledger, ids []string) string {
			exec(t, l, `UPDATE audit_checkpoints SET root_hash = ? WHERE appspace_id = 'as_w' AND tree_size = 150`, make([]byte, 32))
			return ids[149]
		}},
	}
	for _, kind := range kinds {
		for _, tt := range tampers {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				l := newLedger(t, kind)
				l.appendBulk(t, "as_w", 150)
				l.seal(t)
				l.appendBulk(t, "as_w", 160)
				l.appendEvents(t, "as_x", 3)
				l.seal(t)
				checker := audit.NewChecker(l.write, l.store, nil)
				var done, total int64
				if err := checker.CheckAll(ctx, func(d, t int64) { done, total = d, t }); err != nil || done != 313 || total != 313 {
					t.Fatalf("untouched: %v, progress %d of %d; want none, 313 of 313", err, done, total)
				}
				evs := l.all(t, "as_w")
				ids := make([]string, len(evs))
				for i, e := range evs {
					ids[i] = e.ID
				}
				want := tt.do(t, l, ids)
				err := checker.CheckAll(ctx, nil)
				var tam *audit.Tampered
				if !errors.As(err, &tam) || tam.EventID != want || !strings.Contains(tam.What, tt.what) || !audit.OnlyTampered(err) {
					t.Fatalf("after tampering: %v; want event %s named, %q", err, want, tt.what)
				}
				why, _ := l.prover.Tampered(ctx)
				if !strings.Contains(why, "as_w") || strings.Contains(why, "as_x") {
					t.Errorf("tampered trees: %q, want as_w's only", why)
				}
			})
		}
	}
}

func exec(t *testing.T, l *ledger, q string, args ...any) {
	t.Helper()
	if _, err := l.write.Exec(l.write.Rebind(q), args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
