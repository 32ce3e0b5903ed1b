package audit

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/domain"
)

// sealPlan is what appending events to app's tree of base leaves writes:
// their leaf rows, the tiles they grew and the new size.
type sealPlan struct {
	app        string
	base, size int64
	leaves     [][]any
	tiles      [][]any
}

// planSeal computes the leaves and tiles of appending events to app's
// tree of size leaves, reading the tree's right edge and last tiles
// through q.
func planSeal(ctx context.Context, q querier, app string, size int64, events []domain.RecordedEvent) (*sealPlan, error) {
	ts := newTiles(ctx, q, app)
	// The tiles the new hashes go to first, in one query with the edge's.
	var last []tileKey
	for l := 0; l == 0 || (size+int64(len(events)))>>uint(l) > 0; l += TileHeight {
		last = append(last, tileKey{l / TileHeight, size >> uint(l) >> TileHeight})
	}
	if err := ts.load(last); err != nil {
		return nil, err
	}
	edge, err := edgeOf(size, ts)
	if err != nil {
		return nil, err
	}
	p := &sealPlan{app: app, base: size, leaves: make([][]any, 0, len(events))}
	for _, e := range events {
		leaf := LeafOf(e).Bytes()
		hs, err := tlog.StoredHashes(size, leaf, edge)
		if err != nil {
			return nil, err
		}
		edge.add(size, hs)
		if err := ts.addLeaf(size, hs); err != nil {
			return nil, err
		}
		p.leaves = append(p.leaves, []any{app, size, e.ID, int64(e.Position), leaf})
		size++
	}
	p.size, p.tiles = size, ts.changed()
	return p, nil
}

// write writes the plan in tx.
func (p *sealPlan) write(ctx context.Context, tx *sqlx.Tx) error {
	if err := insertRows(ctx, tx, `INSERT INTO audit_leaves (appspace_id, leaf_index, event_id, position, leaf) VALUES `,
		5, p.leaves, ""); err != nil {
		return fmt.Errorf("write leaves: %w", err)
	}
	if err := writeTiles(ctx, tx, p.tiles); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE audit_trees SET size = ? WHERE appspace_id = ?`), p.size, p.app)
	return err
}
