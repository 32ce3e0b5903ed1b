package projections_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/adapters/storetest"
	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// recorder is a real projection for tests: it inserts each event's ID into
// a table whose primary key refuses a second copy, so a batch applied
// twice fails loudly.
type recorder struct {
	fail func(domain.RecordedEvent) error
}

func (r recorder) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
	for _, e := range events {
		if r.fail != nil {
			if err := r.fail(e); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO test_applied (event_id) VALUES (?)`), e.ID); err != nil {
			return err
		}
	}
	return nil
}

type env struct {
	store domain.EventStore
	db    *sqlx.DB // the writer
}

func forEachStore(t *testing.T, f func(t *testing.T, e env)) {
	t.Helper()
	storetest.ForEach(t, func(t *testing.T, kind string) {
		store, write, _ := storetest.Open(t, kind)
		e := env{store: store, db: write}
		if _, err := e.db.Exec(`CREATE TABLE test_applied (event_id TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		f(t, e)
	})
}

func appendN(t *testing.T, s domain.EventStore, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ids[i] = domain.NewID()
		_, err := s.Append(context.Background(), fmt.Sprintf("%s-%d", prefix, i), domain.NoStream(),
			domain.EventData{ID: ids[i], Type: "Tested", Data: []byte(`{}`), Metadata: []byte(`{}`)})
		if err != nil {
			t.Error(err)
		}
	}
	return ids
}

// visible waits until the log shows n events: the PostgreSQL log holds
// back commits while older transactions (of any test) are open.
func visible(t *testing.T, s domain.EventStore, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		evs, err := s.ReadAll(context.Background(), domain.ReadAllOptions{Limit: n})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) >= n {
			return
		}
	}
	t.Fatalf("the log never showed %d events", n)
}

func applied(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM test_applied`); err != nil {
		t.Fatal(err)
	}
	return n
}

func newRunner(t *testing.T, e env, h projections.Handler, batch int) *projections.Runner {
	t.Helper()
	r, err := projections.NewRunner(e.store, e.db, h, projections.RunnerConfig{Name: "test", BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStepAppliesEachEventOnce(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e env) {
		ctx := context.Background()
		appendN(t, e.store, "a", 25)
		r := newRunner(t, e, recorder{}, 10)
		total := 0
		for deadline := time.Now().Add(20 * time.Second); total < 25 && time.Now().Before(deadline); {
			n, err := r.Step(ctx)
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
		if n, err := r.Step(ctx); err != nil || n != 0 {
			t.Errorf("Step after catching up: %d, %v; want 0, nil", n, err)
		}
		if got := applied(t, e.db); got != 25 || total != 25 {
			t.Errorf("applied %d rows in %d events, want 25", got, total)
		}
		c, err := r.Checkpoint(ctx)
		if err != nil || c.Applied != 25 || c.Position == 0 || !c.LastEventAt.Valid {
			t.Errorf("checkpoint %+v, %v", c, err)
		}
	})
}

// A batch that fails is rolled back whole, checkpoint included: the next
// attempt applies the same events, and nothing is lost or doubled.
func TestFailedBatchRollsBackWithItsCheckpoint(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e env) {
		ctx := context.Background()
		ids := appendN(t, e.store, "b", 5)
		visible(t, e.store, 5) // the whole batch, or a first batch without the poison would commit
		poison := ids[3]
		failing := recorder{fail: func(ev domain.RecordedEvent) error {
			if ev.ID == poison { // a transient failure: retried whole, never quarantined
				return fmt.Errorf("poisoned: %w", projections.Retryable(errors.New("connection lost")))
			}
			return nil
		}}
		r := newRunner(t, e, failing, 100)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
			if _, err := r.Step(ctx); err != nil {
				break
			}
		}
		if got := applied(t, e.db); got != 0 {
			t.Errorf("a failed batch left %d rows", got)
		}
		if c, _ := r.Checkpoint(ctx); c.Applied != 0 {
			t.Errorf("a failed batch moved the checkpoint: %+v", c)
		}
		healthy := newRunner(t, e, recorder{}, 100)
		for deadline := time.Now().Add(20 * time.Second); applied(t, e.db) < 5 && time.Now().Before(deadline); {
			if _, err := healthy.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := applied(t, e.db); got != 5 {
			t.Errorf("applied %d, want 5", got)
		}
	})
}

// Two runners of one projection, fed while writers append, never apply a
// batch twice (the primary key would refuse it) and together apply all.
func TestTwoRunnersNeverDoubleApply(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e env) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		errs := make(chan error, 100)
		for i := range 2 {
			r := newRunner(t, e, recorder{}, 7)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := r.Step(ctx); err != nil && ctx.Err() == nil {
						errs <- fmt.Errorf("runner %d: %w", i, err)
						return
					}
				}
			}()
		}
		var writers sync.WaitGroup
		for w := range 4 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				appendN(t, e.store, fmt.Sprintf("w%d", w), 50)
			}()
		}
		writers.Wait()
		for deadline := time.Now().Add(30 * time.Second); applied(t, e.db) < 200 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := applied(t, e.db); got != 200 {
			t.Errorf("applied %d events, want 200", got)
		}
	})
}

// Run tails the log: an event appended after it caught up is applied.
func TestRunTailsTheLog(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, e env) {
		ctx, cancel := context.WithCancel(context.Background())
		r := newRunner(t, e, recorder{}, 100)
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		appendN(t, e.store, "c", 3)
		for deadline := time.Now().Add(20 * time.Second); applied(t, e.db) < 3 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		appendN(t, e.store, "d", 2)
		for deadline := time.Now().Add(20 * time.Second); applied(t, e.db) < 5 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if got := applied(t, e.db); got != 5 {
			t.Errorf("applied %d events, want 5", got)
		}
	})
}
