package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// history records a few referrals' lives, and returns their codes.
func (e *rmEnv) history(tb testing.TB) []string {
	tb.Helper()
	var codes []string
	for i, who := range []string{"ann", "ann", "bo", "cy", "di"} {
		code := e.create(tb, who, ptr(who), "")
		codes = append(codes, code)
		e.clock.Advance(time.Hour)
		if i != 3 {
			e.complete(tb, code, "referee-"+code)
		}
	}
	e.clock.Advance(40 * 24 * time.Hour)
	e.get(tb, codes[3]) // records the expiry
	return codes
}

// readAll returns the whole log.
func (e *rmEnv) readAll(tb testing.TB) []domain.RecordedEvent {
	tb.Helper()
	want := e.logLength(tb)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		evs, err := e.store.ReadAll(context.Background(), domain.ReadAllOptions{Limit: 10000})
		if err != nil {
			tb.Fatal(err)
		}
		if int64(len(evs)) >= want {
			return evs
		}
	}
	tb.Fatal("the log did not become readable")
	return nil
}

// applyInTx applies events in a transaction of its own, and commits.
func (e *rmEnv) applyInTx(tb testing.TB, events []domain.RecordedEvent) error {
	tb.Helper()
	ctx := context.Background()
	tx, err := e.write.BeginTxx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.rm.Apply(ctx, tx, events); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}

// snapshot is everything the projection wrote for the appspace.
type snapshot struct {
	Rows      map[string]domain.ReferralView
	Referrers []countRow
	Days      []int64
	Stats     projections.Stats
}

func (e *rmEnv) snapshot(tb testing.TB) snapshot {
	tb.Helper()
	s := snapshot{Rows: e.rows(tb)}
	if err := e.read.Select(&s.Referrers, e.read.Rebind(`SELECT referrer_id AS k, total, completed, pending, expired
		FROM rm_referrers WHERE appspace_id = ? ORDER BY referrer_id`), e.appspace); err != nil {
		tb.Fatal(err)
	}
	if err := e.read.Select(&s.Days, e.read.Rebind(`SELECT n FROM rm_referral_days
		WHERE appspace_id = ? ORDER BY created_day, status, settled_day`), e.appspace); err != nil {
		tb.Fatal(err)
	}
	st, err := e.rm.Stats(context.Background(), projections.StatsQuery{AppspaceID: e.appspace})
	if err != nil {
		tb.Fatal(err)
	}
	s.Stats = st
	return s
}

// Applying the same events twice, in two transactions, changes nothing the
// second time; nor does a batch that overlaps one already applied.
func TestReferralsApplyTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		codes := e.history(t)
		events := e.readAll(t)
		if err := e.applyInTx(t, events[:len(events)/2]); err != nil {
			t.Fatal(err)
		}
		if err := e.applyInTx(t, events); err != nil {
			t.Fatal(err)
		}
		first := e.snapshot(t)
		if err := e.applyInTx(t, events); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(e.snapshot(t), first); diff != "" {
			t.Errorf("a second Apply changed the read models (-got +want):\n%s", diff)
		}
		want := projections.Stats{Total: 5, Completed: 4, Expired: 1, ConversionRate: 0.8}
		if first.Stats != want {
			t.Errorf("stats %+v, want %+v", first.Stats, want)
		}
		e.checkRows(t, codes)
		e.checkCounts(t)
	})
}

// An event that skips a version of its stream fails the batch: the read
// model cannot have seen the version in between.
func TestReferralsApplyRefusesGaps(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		code := e.create(t, "gap", nil, "")
		e.milestone(t, code, "signed_up", "gap-referee")
		e.complete(t, code, "")
		var stream []domain.RecordedEvent
		for _, ev := range e.readAll(t) {
			if ev.Stream == domain.ReferralStream(e.appspace, code) {
				stream = append(stream, ev)
			}
		}
		if len(stream) < 3 {
			t.Fatalf("the stream has %d events, want at least 3", len(stream))
		}
		if err := e.applyInTx(t, []domain.RecordedEvent{stream[0], stream[2]}); err == nil {
			t.Error("a batch with a gap applied")
		}
		if err := e.applyInTx(t, stream[1:]); err == nil {
			t.Error("a stream without its ReferralCreated applied")
		}
		if got := e.rows(t); len(got) != 0 {
			t.Errorf("failed batches left %d rows", len(got))
		}
		if err := e.applyInTx(t, stream); err != nil {
			t.Fatal(err)
		}
		e.checkRows(t, []string{code})
		e.checkCounts(t)
	})
}

// A batch larger than one statement's parameters allow is written in
// several statements.
func TestReferralsApplyLargeBatch(t *testing.T) {
	t.Parallel()
	forEachReadStore(t, testStart, func(t *testing.T, e *rmEnv) {
		const n = 3000 // rows of 24 values: more than one statement's worth
		var events []domain.RecordedEvent
		for i := range n {
			code := fmt.Sprintf("L%09d", i)
			data, err := json.Marshal(domain.ReferralCreated{ReferralID: domain.NewID(), ReferralCode: code,
				ReferrerID: fmt.Sprintf("u%d", i%7), CreatedAt: testStart.Add(time.Duration(i) * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, domain.RecordedEvent{Stream: domain.ReferralStream(e.appspace, code),
				Version: 1, Type: domain.TypeReferralCreated, Data: data})
		}
		if err := e.applyInTx(t, events); err != nil {
			t.Fatal(err)
		}
		if got := len(e.rows(t)); got != n {
			t.Errorf("%d rows, want %d", got, n)
		}
		e.checkCounts(t)
	})
}
