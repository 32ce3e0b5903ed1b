package audit

import (
	"context"
	"fmt"
	"testing"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
)

// TestInsertLeavesSQLite: the sealer's prepared INSERT OR FAIL writes
// every row of batches of any size (chunks of 256, then powers of two),
// in a first transaction (texts prepared in it) and a later one (texts
// prepared on the pool), and refuses a leaf index already stored.
func TestInsertLeavesSQLite(t *testing.T) {
	ctx := context.Background()
	_, write, _ := storetest.Open(t, "sqlite")
	s := newSealStmts(write)
	rows := func(from, n int) [][]any {
		out := make([][]any, n)
		for i := range out {
			out[i] = []any{"as_i", int64(from + i), fmt.Sprint("ev", from+i), int64(from + i), []byte("{}")}
		}
		return out
	}
	next := 0
	for _, n := range []int{1, 300, 255, 777} {
		s.prepareWanted(ctx)
		tx := write.MustBeginTx(ctx, nil)
		if err := insertLeaves(ctx, s.in(tx), rows(next, n)); err != nil {
			t.Fatalf("%d rows from %d: %v", n, next, err)
		}
		next += n
		if err := insertLeaves(ctx, s.in(tx), rows(next-1, 1)); err == nil {
			t.Errorf("leaf %d written twice: no error", next-1)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var count int
		if err := write.Get(&count, `SELECT COUNT(*) FROM audit_leaves WHERE appspace_id = 'as_i'`); err != nil {
			t.Fatal(err)
		}
		if count != next {
			t.Fatalf("after %d rows: %d stored, want %d", n, count, next)
		}
	}
}
