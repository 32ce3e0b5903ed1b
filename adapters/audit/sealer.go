package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

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
type Sealer struct{}

// NewSealer returns a sealer.
func NewSealer() *Sealer { return &Sealer{} }

// Apply implements projections.Handler. Every failure is marked
// retryable: the runner must never quarantine an event of the tree (its
// leaf would be missing and every later index shifted), so a batch that
// fails is retried whole until it seals.
func (s *Sealer) Apply(ctx context.Context, tx *sqlx.Tx, events []domain.RecordedEvent) error {
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
	for _, app := range order {
		if err := seal(ctx, tx, app, byApp[app]); err != nil {
			return projections.Retryable(fmt.Errorf("seal appspace %s: %w", app, err))
		}
	}
	return nil
}

// seal appends events to app's tree.
func seal(ctx context.Context, tx *sqlx.Tx, app string, events []domain.RecordedEvent) error {
	size, err := treeSize(ctx, tx, app)
	if err != nil {
		return err
	}
	hs := newHashStore(ctx, tx, app)
	leaves := make([][]any, 0, len(events))
	for _, e := range events {
		leaf := LeafOf(e).Bytes()
		hashes, err := tlog.StoredHashes(size, leaf, hs)
		if err != nil {
			return err
		}
		first := tlog.StoredHashIndex(0, size)
		for k, h := range hashes {
			hs.pending[first+int64(k)] = h
		}
		leaves = append(leaves, []any{app, size, e.ID, int64(e.Position), leaf})
		size++
	}
	if err := insertRows(ctx, tx, `INSERT INTO audit_leaves (appspace_id, leaf_index, event_id, position, leaf) VALUES `,
		5, leaves); err != nil {
		return fmt.Errorf("write leaves: %w", err)
	}
	if err := hs.flush(); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE audit_trees SET size = ? WHERE appspace_id = ?`), size, app)
	return err
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
