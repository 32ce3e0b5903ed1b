package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// SealerName is the sealer's checkpoint among the projections'.
const SealerName = "audit-sealer"

// SealerPace is the sealer runner's projections.RunnerConfig.Pace: once
// caught up, it seals at most four batches a second, so that on SQLite
// (one writer, one fsync a transaction) its commits do not take turns
// with every group commit of appends. Events are still sealed well within
// the promised second.
const SealerPace = 250 * time.Millisecond

// Sealer is the projection that appends each event to its appspace's
// tree: leaf i of an appspace is its i-th event in log order. A Runner
// feeds it, so the tree and the runner's checkpoint move in one
// transaction, and the runner's leader lock keeps one sealer at a time.
//
// It is a projections.Preparer: the leaves and hashes of a batch are
// computed before the runner's transaction, from the trees as committed
// then or as the batch before leaves them (the runner prepares the next
// batch of a backlog while the last one commits), and the transaction
// only writes them (a leaf row each, and a few tile rows), unless the
// tree is not the size the plan started from, when Apply computes them
// again in it.
type Sealer struct {
	read  *sqlx.DB // where Prepare reads the trees; nil: the runner's database
	mu    sync.Mutex
	plans []*batchPlan // the last batches prepared, newest last (at most two)
	// stmts keeps a SQLite writer's statements prepared (nil on
	// PostgreSQL, or before the first Prepare, which learns the pool).
	stmts *sealStmts
}

// NewSealer returns a sealer. read, if not nil, is where it reads the
// trees before a batch (SQLite's pool of readers); else it reads them
// through the runner's database.
func NewSealer(read *sqlx.DB) *Sealer { return &Sealer{read: read} }

// SealerBatchSize is the sealer runner's projections.RunnerConfig
// BatchSize on PostgreSQL: a backlog is sealed a thousand events a
// transaction, the next batch prepared while one commits; caught up, a
// batch is what a Pace gathered, at most that many, so that a burst does
// not make one long transaction (on PostgreSQL under load, a few hundred
// microseconds a leaf) and the seal lag with it.
const SealerBatchSize = 1000

// SQLiteBatchSize is the sealer's batch on SQLite, larger: there a
// sealing transaction holds the file's one writer, which the appends
// wait for, and most of its time is not a leaf's but the transaction's
// own (its fsync, the B-trees' and the tiles' last pages written again):
// beside the command bench's load, a transaction of about 700 events
// held the writer 28 µs an event, one of about 2,000 events 16 µs
// (docs/decisions.md, "Sealing beside the commands").
const SQLiteBatchSize = 3000

// RunnerConfig is how serve (and the benchmarks) run the sealer that
// writes through db: its checkpoint's name, Pace, batch size (by db's
// driver), and the next batch of a backlog prepared while the last one
// commits.
func RunnerConfig(db *sqlx.DB, logger *slog.Logger) projections.RunnerConfig {
	size := SealerBatchSize
	if db.DriverName() != "postgres" {
		size = SQLiteBatchSize
	}
	return projections.RunnerConfig{Name: SealerName, Logger: logger, Pace: SealerPace, BatchSize: size, Lookahead: true}
}

// batchPlan is what sealing a batch writes, per appspace.
type batchPlan struct {
	first, last domain.Position
	n           int
	plans       []*sealPlan
}

// byAppspace splits events by appspace, in order of first appearance;
// events of no appspace are not sealed.
func byAppspace(events []domain.RecordedEvent) ([]string, map[string][]domain.RecordedEvent) {
	var order []string
	byApp := map[string][]domain.RecordedEvent{}
	for _, e := range events {
		app, _, _ := domain.ParseStream(e.Stream)
		if app == "" || app == e.Stream {
			continue // not an appspace's stream
		}
		if _, ok := byApp[app]; !ok {
			order = append(order, app)
		}
		byApp[app] = append(byApp[app], e)
	}
	return order, byApp
}

// Prepare implements projections.Preparer: it computes the batch's
// leaves and tiles from the trees as the batch prepared before leaves
// them if events follow it, else as committed now.
func (s *Sealer) Prepare(ctx context.Context, db *sqlx.DB, events []domain.RecordedEvent) error {
	read := s.read
	if read == nil {
		read = db
	}
	prev := map[string]*sealPlan{}
	s.mu.Lock()
	if s.stmts == nil && db.DriverName() != "postgres" {
		s.stmts = newSealStmts(db)
	}
	stmts := s.stmts
	if n := len(s.plans); n > 0 && s.plans[n-1].last < events[0].Position {
		for _, p := range s.plans[n-1].plans {
			prev[p.app] = p
		}
	}
	s.mu.Unlock()
	stmts.prepareWanted(ctx)
	order, byApp := byAppspace(events)
	b := &batchPlan{first: events[0].Position, last: events[len(events)-1].Position, n: len(events)}
	for _, app := range order {
		var size int64
		if p := prev[app]; p != nil {
			size = p.size
		} else if sz, err := sealedSize(ctx, read, app); err != nil {
			return err
		} else {
			size = sz
		}
		p, err := planSeal(ctx, read, app, size, byApp[app], prev[app])
		if err != nil {
			return fmt.Errorf("appspace %s: %w", app, err)
		}
		b.plans = append(b.plans, p)
	}
	s.mu.Lock()
	s.plans = append(s.plans[max(0, len(s.plans)-1):], b)
	s.mu.Unlock()
	return nil
}

// prepared returns the plan of events if Prepare made it.
func (s *Sealer) prepared(events []domain.RecordedEvent) map[string]*sealPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.plans {
		if b.n != len(events) || b.first != events[0].Position || b.last != events[len(events)-1].Position {
			continue
		}
		out := make(map[string]*sealPlan, len(b.plans))
		for _, p := range b.plans {
			out[p.app] = p
		}
		return out
	}
	return nil
}

// Apply implements projections.Handler. Every failure is marked
// retryable: the runner must never quarantine an event of the tree (its
// leaf would be missing and every later index shifted), so a batch that
// fails is retried whole until it seals.
func (s *Sealer) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
	if len(events) == 0 {
		return nil
	}
	plans := s.prepared(events)
	s.mu.Lock()
	q := s.stmts.in(tx)
	s.mu.Unlock()
	order, byApp := byAppspace(events)
	for _, app := range order {
		if err := seal(ctx, tx, q, app, byApp[app], plans[app]); err != nil {
			return projections.Retryable(fmt.Errorf("seal appspace %s: %w", app, err))
		}
	}
	return nil
}

// seal appends events to app's tree, as p planned it if p was made for
// the tree's size now, writing through q (tx, its statements prepared
// on SQLite).
func seal(ctx context.Context, tx *sqlx.Tx, q querier, app string, events []domain.RecordedEvent, p *sealPlan) error {
	size, err := treeSize(ctx, tx, app)
	if err != nil {
		return err
	}
	if p == nil || p.base != size {
		if p, err = planSeal(ctx, tx, app, size, events, nil); err != nil {
			return err
		}
	}
	return p.write(ctx, tx, q)
}

// sealedSize returns app's sealed tree size (0 before its first event).
func sealedSize(ctx context.Context, q querier, app string) (int64, error) {
	var size int64
	err := sqlx.GetContext(ctx, q, &size, q.Rebind(`SELECT size FROM audit_trees WHERE appspace_id = ?`), app)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return size, err
}

// treeSize returns app's sealed tree size, creating its row.
func treeSize(ctx context.Context, tx *sqlx.Tx, app string) (int64, error) {
	var size int64
	err := tx.GetContext(ctx, &size, tx.Rebind(`SELECT size FROM audit_trees WHERE appspace_id = ?`), app)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, tx.Rebind(`INSERT INTO audit_trees (appspace_id, size) VALUES (?, 0)`), app)
		return 0, err
	}
	return size, err
}
