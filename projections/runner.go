package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Handler applies events to read models. Apply runs inside the runner's
// transaction, which also moves the checkpoint: it must write through tx
// and must not commit.
type Handler interface {
	Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error
}

// Committer is a Handler that wants to know when a batch it applied has
// committed (to wake what reads its output).
type Committer interface {
	Committed()
}

// RunnerConfig configures a Runner.
type RunnerConfig struct {
	// Name identifies the projection's checkpoint; required.
	Name string
	// BatchSize is how many events one transaction applies; 500 by default.
	BatchSize int
	// Logger receives the runner's errors; none by default.
	Logger *slog.Logger
	// Pace, if set, is how long Run waits after a batch shorter than
	// BatchSize (it had caught up) before the next: fewer, larger
	// transactions, at the cost of up to Pace of lag. 0: no wait.
	Pace time.Duration
	// Lookahead, for a Preparer, reads and prepares the next batch of a
	// backlog while the last one commits (see Preparer).
	Lookahead bool
}

// Validate reports a RunnerConfig the runner cannot use.
func (c RunnerConfig) Validate() error {
	if c.Name == "" {
		return errors.New("projections: runner name is empty")
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("projections: batch size %d is negative", c.BatchSize)
	}
	return nil
}

// Runner feeds a Handler from the global log, exactly once: it reads a
// batch after the projection's checkpoint and applies it and the new
// checkpoint in one SQL transaction, then tails the log.
//
// Exactly-once does not rest on being alone: each batch locks the
// checkpoint row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's one writer
// on a file) and re-reads it, so two runners take turns and never apply a
// batch twice. Being alone is an economy: on PostgreSQL, Run first takes a
// session advisory lock per projection and schema, and the other replicas
// wait for it.
type Runner struct {
	store   domain.EventStore
	db      *sqlx.DB
	handler Handler
	cfg     RunnerConfig
	log     *slog.Logger
	created bool       // the checkpoint row exists
	ahead   *lookahead // the next batch, being prepared (Lookahead)
}

// NewRunner returns a runner that reads store's log and writes through db
// (the database holding the read models and the checkpoints).
func NewRunner(store domain.EventStore, db *sqlx.DB, h Handler, cfg RunnerConfig) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 500
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{store: store, db: db, handler: h, cfg: cfg, log: log}, nil
}

func (r *Runner) postgres() bool { return r.db.DriverName() == "postgres" }

// Step applies at most one batch and returns how many events it read
// (0 when the projection has caught up with the log). A batch the handler
// fails to apply for a reason that is not Transient is applied again, split
// until each event that fails is alone: those are quarantined (recorded in
// projection_quarantine and skipped, in the transaction that moves the
// checkpoint past them) and logged once. A Runner's Step and Run are not
// for concurrent use; run two Runners instead.
func (r *Runner) Step(ctx context.Context) (int, error) {
	n, qs, err := r.step(ctx, false)
	if err != nil && errors.As(err, new(*applyError)) && !Transient(err) && ctx.Err() == nil {
		n, qs, err = r.step(ctx, true)
	}
	for _, q := range qs {
		r.log.ErrorContext(ctx, "projection quarantined an event it cannot apply", "projection", r.cfg.Name,
			"position", q.Position, "event_id", q.EventID, "stream", q.Stream, "type", q.EventType, "err", q.Error)
	}
	return n, err
}

// step is one Step, isolating failing events if isolate is set.
func (r *Runner) step(ctx context.Context, isolate bool) (n int, qs []Quarantined, err error) {
	now := time.Now().UnixMilli()
	if !r.created {
		if _, err := r.db.ExecContext(ctx, r.db.Rebind(`INSERT INTO projection_checkpoints (name, updated_at)
			VALUES (?, ?) ON CONFLICT (name) DO NOTHING`), r.cfg.Name, now); err != nil {
			return 0, nil, fmt.Errorf("projection %s: create checkpoint: %w", r.cfg.Name, err)
		}
		r.created = true
	}
	pre, err := r.prepare(ctx)
	if err != nil || (pre != nil && len(pre.events) == 0) {
		return 0, nil, err
	}
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("projection %s: begin: %w", r.cfg.Name, err)
	}
	defer func() {
		if err != nil {
			r.dropAhead() // prepared after a batch that did not commit
		}
		if n == 0 || err != nil {
			if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
				err = errors.Join(err, rbErr)
			}
		}
	}()
	if n, qs, err = r.applyBatch(ctx, tx, now, isolate, pre); err != nil || n == 0 {
		return 0, nil, err
	}
	if err := tx.Commit(); err != nil {
		return 0, nil, fmt.Errorf("projection %s: commit: %w", r.cfg.Name, err)
	}
	if c, ok := r.handler.(Committer); ok {
		c.Committed()
	}
	return n, qs, nil
}

// applyBatch applies the batch after the checkpoint and moves the
// checkpoint, inside tx, and returns how many events it read and those it
// quarantined (isolate: see Step; without it, a failing event fails the
// batch). pre, if set, is the batch read and prepared before tx: it is
// applied if the checkpoint is still where pre read it.
func (r *Runner) applyBatch(ctx context.Context, tx *sqlx.Tx, now int64, isolate bool, pre *prepared) (int, []Quarantined, error) {
	q := `SELECT position FROM projection_checkpoints WHERE name = ?`
	if r.postgres() {
		q += ` FOR UPDATE` // a second runner waits here, then sees this batch's checkpoint
	}
	var pos int64
	if err := tx.GetContext(ctx, &pos, tx.Rebind(q), r.cfg.Name); err != nil {
		return 0, nil, fmt.Errorf("projection %s: read checkpoint: %w", r.cfg.Name, err)
	}
	var events []domain.RecordedEvent
	var err error
	if pre != nil && pre.after == pos {
		events = pre.events
	} else if events, err = r.store.ReadAll(ctx, domain.ReadAllOptions{After: domain.Position(pos), Limit: r.cfg.BatchSize}); err != nil || len(events) == 0 {
		return 0, nil, err
	}
	qs, err := r.applyEvents(ctx, tx, events, now, r.handler.Apply, isolate)
	return len(events), qs, err
}

// applyEvents applies events with apply (the handler's Apply, or a bulk
// replay's prepared writes) and moves the checkpoint past them, in tx.
// With isolate, it quarantines the events that fail and returns them.
func (r *Runner) applyEvents(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent, now int64, apply applyFunc, isolate bool) ([]Quarantined, error) {
	var qs []Quarantined
	if isolate {
		var err error
		if qs, err = r.isolate(ctx, tx, events, now, apply); err != nil {
			return nil, fmt.Errorf("projection %s: apply from position %d: %w", r.cfg.Name, events[0].Position, err)
		}
	} else if err := apply(ctx, tx, events); err != nil {
		return nil, fmt.Errorf("projection %s: apply from position %d: %w", r.cfg.Name, events[0].Position, &applyError{err})
	}
	last := events[len(events)-1]
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE projection_checkpoints
		SET position = ?, applied = applied + ?, last_event_at = ?, updated_at = ? WHERE name = ?`),
		int64(last.Position), len(events)-len(qs), last.RecordedAt.UnixMilli(), now, r.cfg.Name); err != nil {
		return nil, fmt.Errorf("projection %s: save checkpoint: %w", r.cfg.Name, err)
	}
	return qs, nil
}

// Run applies batches until ctx ends, waiting for new events when caught
// up. A batch that fails for a Transient reason is retried after a pause;
// an event that fails otherwise is quarantined (see Step).
func (r *Runner) Run(ctx context.Context) error {
	if r.postgres() {
		release, err := r.lead(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped while waiting to lead
			}
			return err
		}
		defer release()
	}
	backoff := time.Second
	for ctx.Err() == nil {
		n, err := r.Step(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			r.log.ErrorContext(ctx, "projection batch failed; retrying", "projection", r.cfg.Name, "err", err, "retry_in", backoff)
			Sleep(ctx, backoff)
			backoff = min(2*backoff, time.Minute)
		case n == 0:
			backoff = time.Second
			pos, err := r.Checkpoint(ctx)
			if err == nil {
				waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				err = r.store.WaitForEvents(waitCtx, domain.ReadAllOptions{After: domain.Position(pos.Position)})
				cancel()
			}
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				r.log.WarnContext(ctx, "projection wait failed", "projection", r.cfg.Name, "err", err)
				Sleep(ctx, time.Second)
			}
		default:
			backoff = time.Second
			if r.cfg.Pace > 0 && n < r.cfg.BatchSize {
				Sleep(ctx, r.cfg.Pace)
			}
		}
	}
	return nil
}

// lead blocks until this runner holds the projection's advisory lock on a
// dedicated connection, and returns the function that releases it. The
// lock dies with the connection, so a killed replica's lock is freed.
func (r *Runner) lead(ctx context.Context) (func(), error) {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("projection %s: lock connection: %w", r.cfg.Name, err)
	}
	key := "referral-ledger projection " + r.cfg.Name
	for {
		var held bool
		err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext(current_schema() || $1))`, key).Scan(&held)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("projection %s: lock: %w", r.cfg.Name, err), conn.Close())
		}
		if held {
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				// Closing the connection releases the lock if the unlock fails.
				_, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtext(current_schema() || $1))`, key)
				_ = conn.Close()
			}, nil
		}
		if !Sleep(ctx, 2*time.Second) {
			return nil, errors.Join(ctx.Err(), conn.Close())
		}
	}
}

// Sleep waits for d or ctx and reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// DB returns the database the runner writes its checkpoint to.
func (r *Runner) DB() *sqlx.DB { return r.db }
