package projections_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

// A rebuild's bulk copies the rows of new referrals (COPY on PostgreSQL,
// whose text format escapes backslashes, tabs and newlines and spells NULL
// \N) where the live projection upserts them: text that format must
// escape, JSON with escapes, a name that reads as its NULL, and NULLs come
// back as the live projection wrote them.
func TestRebuildCopiesAwkwardTextAsLive(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		names := []string{`back\slash`, `\N`, "O'Brien \"the\" ünïcødé 🎉", `tab\there`, `\\.`}
		// The first referral's events fill the runner's first batch: the
		// others are the bulk's.
		codes := []string{e.create(t, "plain", nil, "")}
		e.complete(t, codes[0], "plain-friend")
		for i, name := range names {
			code := e.create(t, "awkward-"+string(rune('a'+i)), &name, `{"note":"line\nbreak\ttab \\ back \"q\" \u0001","n":[1,null]}`)
			if i%2 == 0 {
				e.complete(t, code, "friend\\"+name)
			}
			codes = append(codes, code)
		}
		codes = append(codes, e.create(t, "no-name", nil, ""))
		e.project(t)
		e.checkRows(t, codes)
		live := e.tableRows(t)
		// In batches of 3 events: the first is the runner's own (the bulk
		// starts after it), the others are the bulk's.
		if _, err := projections.RebuildReferralsInBatches(context.Background(), e.store, e.write, e.rm, nil, 3); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(live, e.tableRows(t)); diff != "" {
			t.Errorf("the rebuild differs from the live projection (-live +rebuilt):\n%s", diff)
		}
		e.checkRows(t, codes)
	})
}
