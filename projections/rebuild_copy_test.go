package projections_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/projections"
)

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
