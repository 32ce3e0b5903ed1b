package projections_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

func TestTransient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("referrals: bad event"), false},
		{"context canceled", fmt.Errorf("apply: %w", context.Canceled), true},
		{"deadline", context.DeadlineExceeded, true},
		{"bad conn", fmt.Errorf("exec: %w", driver.ErrBadConn), true},
		{"retryable", projections.Retryable(errors.New("esdb unavailable")), true},
		{"pg serialization", &pq.Error{Code: "40001"}, true},
		{"pg deadlock", &pq.Error{Code: "40P01"}, true},
		{"pg connection", &pq.Error{Code: "08006"}, true},
		{"pg admin shutdown", &pq.Error{Code: "57P01"}, true},
		{"pg disk full", &pq.Error{Code: "53100"}, true},
		{"pg NUL in text", &pq.Error{Code: "22021"}, false},
		{"pg unique", fmt.Errorf("save: %w", &pq.Error{Code: "23505"}), false},
		{"sqlite busy", sqliteError(5), true},
		{"sqlite busy snapshot", sqliteError(517), true},
		{"sqlite locked", sqliteError(6), true},
		{"sqlite constraint", sqliteError(19), false},
	}
	for _, tt := range tests {
		if got := projections.Transient(tt.err); got != tt.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// sqliteError has the Code of modernc.org/sqlite's errors, whose fields
// a test cannot set.
type sqliteError int

func (e sqliteError) Error() string { return fmt.Sprintf("sqlite error %d", int(e)) }
func (e sqliteError) Code() int     { return int(e) }

// poison appends an event straight to the log, as old data or a bypassed
// service would have: a ReferralCreated whose code is a number (no store
// refuses it; decoding does).
func poison(tb testing.TB, store domain.EventStore, appspace, code, data string) domain.RecordedEvent {
	tb.Helper()
	id := domain.NewID()
	if _, err := store.Append(context.Background(), domain.ReferralStream(appspace, code), domain.NoStream(),
		domain.EventData{ID: id, Type: domain.TypeReferralCreated, Data: []byte(data), Metadata: []byte(`{}`)}); err != nil {
		tb.Fatal(err)
	}
	evs, err := store.ReadStream(context.Background(), domain.ReferralStream(appspace, code), 1, 0)
	if err != nil || len(evs) != 1 {
		tb.Fatalf("read the poison back: %v, %d events", err, len(evs))
	}
	return evs[0]
}

// poisons appends the odd events of kind's store, and returns their IDs: a
// wrong JSON type on both, and a NUL in a name on PostgreSQL (its json
// column keeps it; the read model's TEXT column refuses it).
func poisons(tb testing.TB, kind string, store domain.EventStore, appspace string) []string {
	tb.Helper()
	ids := []string{poison(tb, store, appspace, "POISON1", `{"referral_code": 42}`).ID}
	if kind == "postgres" {
		ids = append(ids, poison(tb, store, appspace, "POISON2", `{"referral_id":"ref_p2","referral_code":"POISON2",
			"referrer_id":"nul","referrer_name":"x\u0000y","created_at":"2026-03-01T12:00:00Z"}`).ID)
	}
	return ids
}

// projectAll steps until every event of the log is applied or quarantined.
func (e *rmEnv) projectAll(tb testing.TB, r *projections.Runner) {
	tb.Helper()
	ctx := context.Background()
	want := e.logLength(tb)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		n, err := r.Step(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if n > 0 {
			continue
		}
		c, err := r.Checkpoint(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		qs, err := projections.QuarantinedEvents(ctx, e.write, "")
		if err != nil {
			tb.Fatal(err)
		}
		if c.Applied+int64(len(qs)) >= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tb.Fatal("the projection did not catch up")
}

func quarantinedIDs(tb testing.TB, db *sqlx.DB, projection string) []string {
	tb.Helper()
	qs, err := projections.QuarantinedEvents(context.Background(), db, projection)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, q := range qs {
		ids = append(ids, q.EventID)
	}
	slices.Sort(ids)
	return ids
}

// scenario fills the log of e with good events of two appspaces (e's and
// another) around the poison of e's appspace, and returns the other
// appspace's env view, its codes and e's codes and the poisons' IDs.
func scenario(t *testing.T, kind string, e *rmEnv) (other *rmEnv, mine, theirs, bad []string) {
	t.Helper()
	other = &rmEnv{store: e.store, write: e.write, read: e.read, clock: e.clock, svc: e.svc, rm: e.rm,
		runner: e.runner, appspace: domain.NewPrefixedID("as")}
	mine = append(mine, e.create(t, "alice", ptr("Alice"), ""))
	theirs = append(theirs, other.create(t, "bob", ptr("Bob"), ""))
	bad = poisons(t, kind, e.store, e.appspace)
	mine = append(mine, e.create(t, "carol", nil, ""))
	other.complete(t, theirs[0], "friend-1")
	e.milestone(t, mine[0], "signup", "friend-2")
	theirs = append(theirs, other.create(t, "dave", nil, ""))
	slices.Sort(bad)
	return other, mine, theirs, bad
}

// A poison event between good events of two appspaces is quarantined, alone;
// every good event applies, and the read models equal the streams.
func TestRunnerQuarantinesPoison(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	storetest.ForEach(t, func(t *testing.T, kind string) {
		e := newRMEnv(t, kind, start)
		other, mine, theirs, bad := scenario(t, kind, e)
		e.projectAll(t, e.runner)
		if got := quarantinedIDs(t, e.write, projections.ReferralsName); !slices.Equal(got, bad) {
			t.Errorf("quarantined %v, want %v", got, bad)
		}
		e.checkRows(t, mine)
		e.checkCounts(t)
		other.checkRows(t, theirs)
		other.checkCounts(t)
		c, err := e.runner.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := e.logLength(t) - int64(len(bad)); c.Applied != want {
			t.Errorf("applied %d, want %d", c.Applied, want)
		}

		// Retried, the poison still fails: it stays, with the new error.
		res, err := projections.RetryQuarantined(context.Background(), e.store, e.write, projections.ReferralsName, e.rm)
		if err != nil {
			t.Fatal(err)
		}
		if res != (projections.RetryResult{Failing: len(bad)}) {
			t.Errorf("retry: %+v, want %d failing", res, len(bad))
		}
		qs, err := projections.QuarantinedEvents(context.Background(), e.write, projections.ReferralsName)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if q.RetriedAt == nil || q.Error == "" {
				t.Errorf("a failed retry left %+v", q)
			}
		}
	})
}

// A rebuild meets the poison events too: it finishes, quarantines them
// under the live projection's name, and its tables equal the streams.
func TestRebuildQuarantinesPoison(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	storetest.ForEach(t, func(t *testing.T, kind string) {
		e := newRMEnv(t, kind, start)
		other, mine, theirs, bad := scenario(t, kind, e)
		for i := range 6 {
			mine = append(mine, e.create(t, fmt.Sprintf("more-%d", i), nil, ""))
		}
		if _, err := projections.RebuildReferralsInBatches(context.Background(), e.store, e.write, e.rm, nil, 3); err != nil {
			t.Fatal(err)
		}
		if got := quarantinedIDs(t, e.write, projections.ReferralsName); !slices.Equal(got, bad) {
			t.Errorf("quarantined %v, want %v", got, bad)
		}
		if got := quarantinedIDs(t, e.write, ""); !slices.Equal(got, bad) {
			t.Errorf("all quarantined %v, want %v (the rebuild's own name left behind?)", got, bad)
		}
		e.checkRows(t, mine)
		e.checkCounts(t)
		other.checkRows(t, theirs)
		other.checkCounts(t)
	})
}

// A handler that fails on an event until it is fixed: the runner
// quarantines the event, RetryQuarantined applies it once the handler is
// fixed and removes it from the quarantine.
func TestRetryQuarantinedAppliesAfterAFix(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e env) {
		ctx := context.Background()
		ids := appendN(t, e.store, "q", 9)
		var fixed atomic.Bool
		h := recorder{fail: func(ev domain.RecordedEvent) error {
			if (ev.ID == ids[2] || ev.ID == ids[6]) && !fixed.Load() {
				return errors.New("cannot hold it")
			}
			return nil
		}}
		r := newRunner(t, e, h, 4)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			n, err := r.Step(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c, _ := r.Checkpoint(ctx); n == 0 && c.Applied == 7 {
				break
			}
		}
		want := []string{ids[2], ids[6]}
		slices.Sort(want)
		if got := quarantinedIDs(t, e.db, "test"); !slices.Equal(got, want) {
			t.Fatalf("quarantined %v, want %v", got, want)
		}
		if got := applied(t, e.db); got != 7 {
			t.Errorf("applied %d, want 7", got)
		}
		fixed.Store(true)
		res, err := projections.RetryQuarantined(ctx, e.store, e.db, "test", h)
		if err != nil {
			t.Fatal(err)
		}
		if res != (projections.RetryResult{Applied: 2}) {
			t.Errorf("retry: %+v, want 2 applied", res)
		}
		if got := quarantinedIDs(t, e.db, "test"); len(got) != 0 {
			t.Errorf("still quarantined: %v", got)
		}
		if got := applied(t, e.db); got != 9 {
			t.Errorf("applied %d, want 9", got)
		}
	})
}

// A transient failure is retried whole and never quarantined.
func TestTransientFailureIsRetriedNotQuarantined(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e env) {
		ctx := context.Background()
		ids := appendN(t, e.store, "t", 6)
		var failures atomic.Int32
		h := recorder{fail: func(ev domain.RecordedEvent) error {
			if ev.ID == ids[3] && failures.Add(1) <= 2 {
				return fmt.Errorf("apply: %w", projections.Retryable(errors.New("connection reset")))
			}
			return nil
		}}
		r := newRunner(t, e, h, 10)
		errs := 0
		for deadline := time.Now().Add(20 * time.Second); applied(t, e.db) < 6 && time.Now().Before(deadline); {
			if _, err := r.Step(ctx); err != nil {
				errs++
			}
		}
		if errs != 2 {
			t.Errorf("%d failed steps, want 2", errs)
		}
		if got := applied(t, e.db); got != 6 {
			t.Errorf("applied %d, want 6", got)
		}
		if got := quarantinedIDs(t, e.db, ""); len(got) != 0 {
			t.Errorf("quarantined %v after a transient failure", got)
		}
	})
}

// On PostgreSQL, a connection killed while a batch applies (a real
// connection loss: the server terminates the backend) is retried, not
// quarantined.
func TestKilledConnectionIsRetriedNotQuarantined(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e env) {
		if e.db.DriverName() != "postgres" {
			t.Skip("PostgreSQL: a backend to terminate")
		}
		ctx := context.Background()
		ids := appendN(t, e.store, "k", 4)
		var killed atomic.Bool
		h := killer{recorder: recorder{}, target: ids[1], killed: &killed}
		r := newRunner(t, e, h, 10)
		errs := 0
		for deadline := time.Now().Add(20 * time.Second); applied(t, e.db) < 4 && time.Now().Before(deadline); {
			if _, err := r.Step(ctx); err != nil {
				errs++
			}
		}
		if !killed.Load() || errs == 0 {
			t.Errorf("killed %v, %d failed steps: the kill did not happen", killed.Load(), errs)
		}
		if got := applied(t, e.db); got != 4 {
			t.Errorf("applied %d, want 4", got)
		}
		if got := quarantinedIDs(t, e.db, ""); len(got) != 0 {
			t.Errorf("quarantined %v after a lost connection", got)
		}
	})
}

// killer terminates its own connection's backend the first time it meets
// target.
type killer struct {
	recorder
	target string
	killed *atomic.Bool
}

func (k killer) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
	for _, e := range events {
		if e.ID == k.target && k.killed.CompareAndSwap(false, true) {
			_, err := tx.ExecContext(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
			return err
		}
	}
	return k.recorder.Apply(ctx, tx, events)
}
