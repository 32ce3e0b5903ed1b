package audit

import (
	"context"
	"fmt"
	"maps"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/domain"
)

// sealPlan is what appending events to app's tree of base leaves writes:
// their leaf rows (by column), the tiles they grew and the new size.
type sealPlan struct {
	app        string
	base, size int64
	ids        []string
	positions  []int64
	leaves     [][]byte
	tiles      [][]any
	// edge and last are the tree after the plan: its right edge and the
	// last tile of each level, so the next batch can be planned before
	// this one commits (see chain).
	edge rightEdge
	last map[tileKey][]byte
}

// planSeal computes the leaves and tiles of appending events to app's
// tree of size leaves, reading the tree's right edge and last tiles
// through q, or taking them from prev (the plan of the batch before, not
// committed yet) if it ends where this one starts.
func planSeal(ctx context.Context, q querier, app string, size int64, events []domain.RecordedEvent, prev *sealPlan) (*sealPlan, error) {
	ts := newTiles(ctx, q, app)
	var edge rightEdge
	if prev != nil && prev.app == app && prev.size == size {
		edge = maps.Clone(prev.edge)
		for key, data := range prev.last {
			ts.data[key] = append([]byte(nil), data...)
		}
	} else {
		// The tiles the new hashes go to first, in one query with the edge's.
		if err := ts.load(lastTiles(size, size+int64(len(events)))); err != nil {
			return nil, err
		}
		var err error
		if edge, err = edgeOf(size, ts); err != nil {
			return nil, err
		}
	}
	leaves, hashes := encodeLeaves(events)
	p := &sealPlan{app: app, base: size, ids: make([]string, len(events)), positions: make([]int64, len(events)), leaves: leaves}
	for i, e := range events {
		hs, err := tlog.StoredHashesForRecordHash(size, hashes[i], edge)
		if err != nil {
			return nil, err
		}
		edge.add(size, hs)
		if err := ts.addLeaf(size, hs); err != nil {
			return nil, err
		}
		p.ids[i], p.positions[i] = e.ID, int64(e.Position)
		size++
	}
	p.size, p.tiles, p.edge = size, ts.changed(), edge
	p.last = map[tileKey][]byte{}
	for _, key := range lastTiles(size, size) {
		p.last[key] = ts.data[key]
	}
	return p, nil
}

// lastTiles returns the keys of the tiles that hashes of a tree growing
// from size leaves to at most upTo go to first: the last tile of each
// level.
func lastTiles(size, upTo int64) []tileKey {
	var keys []tileKey
	for l := 0; l == 0 || upTo>>uint(l) > 0; l += TileHeight {
		keys = append(keys, tileKey{l / TileHeight, size >> uint(l) >> TileHeight})
	}
	return keys
}

// write writes the plan in tx, through q (tx, or tx with its statements
// prepared).
func (p *sealPlan) write(ctx context.Context, tx *sqlx.Tx, q querier) error {
	rows := make([][]any, len(p.ids))
	for i := range rows {
		rows[i] = []any{p.app, p.base + int64(i), p.ids[i], p.positions[i], p.leaves[i]}
	}
	var err error
	if tx.DriverName() == "postgres" {
		err = copyRows(ctx, tx, `COPY audit_leaves (appspace_id, leaf_index, event_id, position, leaf) FROM STDIN`, rows)
	} else {
		err = insertLeaves(ctx, q, rows)
	}
	if err != nil {
		return fmt.Errorf("write leaves: %w", err)
	}
	if err := writeTiles(ctx, q, p.tiles); err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, tx.Rebind(`UPDATE audit_trees SET size = ? WHERE appspace_id = ?`), p.size, p.app)
	return err
}
