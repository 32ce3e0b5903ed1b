package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/projections"
)

// A rebuild replays the log into new tables while the live projection
// keeps running and commands keep coming, then switches over: afterwards
// the read models equal the streams (even rows the live tables had wrong),
// the live runner carries on from the rebuild's checkpoint, and a second
// rebuild works too.
func TestRebuildSwitchesOverWhileLive(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	forEachReadStore(t, start, func(t *testing.T, e *rmEnv) {
		ctx := context.Background()
		var codes []string
		var later []string // completed after the others are created: many batches on
		for i := range 30 {
			if i%5 == 1 {
				code := e.create(t, fmt.Sprintf("later-%d", i), nil, "")
				later = append(later, code)
				codes = append(codes, code)
				continue
			}
			if i%3 == 0 { // two referrers with several completed referrals each
				code := e.create(t, fmt.Sprintf("repeat-%d", i%2), nil, "")
				e.complete(t, code, fmt.Sprintf("friend-%d", i))
				codes = append(codes, code)
				continue
			}
			codes = append(codes, e.create(t, fmt.Sprintf("ref-%d", i), nil, ""))
		}
		for i, code := range later {
			e.complete(t, code, fmt.Sprintf("later-friend-%d", i))
		}
		e.project(t)
		// Damage the live read model: a rebuild must not copy it.
		if _, err := e.write.Exec(`UPDATE rm_referrals SET status = 'expired'`); err != nil {
			t.Fatal(err)
		}
		if _, err := e.write.Exec(`DELETE FROM rm_referrers`); err != nil {
			t.Fatal(err)
		}

		// Commands keep coming and the live runner keeps running.
		runCtx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wg.Add(2)
		go func() {
			defer wg.Done()
			_ = e.runner.Run(runCtx)
		}()
		go func() {
			defer wg.Done()
			for i := 0; runCtx.Err() == nil && i < 40; i++ {
				code := e.create(t, fmt.Sprintf("late-%d", i), nil, "")
				mu.Lock()
				codes = append(codes, code)
				mu.Unlock()
			}
		}()
		// The first in batches of 3 events: the bulk then prepares many
		// batches ahead of their commits, and continues referrals both from
		// the rows it holds and from rows it loads.
		if _, err := projections.RebuildReferralsInBatches(ctx, e.store, e.write, e.rm, nil, 3); err != nil {
			t.Fatalf("rebuild in small batches: %v", err)
		}
		if _, err := projections.RebuildReferrals(ctx, e.store, e.write, e.rm, nil); err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		stop()
		wg.Wait()

		e.project(t)
		mu.Lock()
		defer mu.Unlock()
		e.checkRows(t, codes)
		e.checkCounts(t)
		cs, err := projections.Checkpoints(ctx, e.read)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].Name != projections.ReferralsName {
			t.Errorf("checkpoints after the rebuilds: %+v, want only %s", cs, projections.ReferralsName)
		}
	})
}
