package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/domain"
)

// wholeChunk is how many leaves a whole-tree check reads at a time (a
// variable for the tests, which cross its boundaries with fewer leaves).
var wholeChunk int64 = 1000

// checkWhole re-hashes app's whole sealed tree (its first size leaves)
// from the events the store holds now, in log order: each event must
// still be the leaf sealed at its index, byte for byte, every stored hash
// must be the one the events hash to, and every signed checkpoint's root
// the root of the events it covers. It keeps only the tree's right edge
// in memory, and calls done after each chunk with the leaves checked so
// far. It returns a *Tampered for the first leaf that differs.
func checkWhole(ctx context.Context, db *sqlx.DB, events domain.EventStore, app string, size int64, done func(int64)) error {
	w := &walker{ctx: ctx, events: events, app: app, edge: rightEdge{}, tiles: newTiles(ctx, db, app)}
	if err := db.SelectContext(ctx, &w.cps, db.Rebind(`SELECT tree_size, root_hash FROM audit_checkpoints
		WHERE appspace_id = ? AND tree_size <= ? ORDER BY tree_size`), app, size); err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	for w.n < size {
		end := min(size, w.n+wholeChunk)
		leaves, err := readChunk(ctx, db, app, w.n, end)
		if err != nil {
			return err
		}
		for _, l := range leaves {
			if l.Index != w.n {
				break
			}
			if err := w.next(l); err != nil {
				return err
			}
		}
		if w.n < end {
			return w.missing()
		}
		if done != nil {
			done(w.n)
		}
	}
	return nil
}

// walker is a whole-tree check under way: n leaves checked.
type walker struct {
	ctx     context.Context
	events  domain.EventStore
	app     string
	n       int64
	edge    rightEdge
	tiles   *tiles
	after   domain.Position
	pending []domain.RecordedEvent
	cps     []struct {
		Size int64  `db:"tree_size"`
		Root []byte `db:"root_hash"`
	}
}

// next checks sealed leaf l (leaf n) and the hashes stored for it against
// the log's next event, and the checkpoints of n+1 leaves.
func (w *walker) next(l sealedLeaf) error {
	if len(w.pending) == 0 {
		var err error
		if w.pending, err = readEvents(w.ctx, w.events, w.app, w.after); err != nil {
			return err
		}
	}
	if len(w.pending) == 0 {
		return tampered(w.app, l, nil)
	}
	e := w.pending[0]
	w.pending, w.after = w.pending[1:], e.Position
	leaf := LeafOf(e).Bytes()
	if !bytes.Equal(leaf, l.Leaf) {
		return tampered(w.app, l, &e)
	}
	hs, err := tlog.StoredHashes(w.n, leaf, w.edge)
	if err != nil {
		return err
	}
	for k := 0; k < len(hs); k += TileHeight {
		if same, err := w.stored(k, w.n>>uint(k), hs[k]); err != nil || !same {
			if err != nil {
				return err
			}
			t := tampered(w.app, l, &e)
			t.What = fmt.Sprintf("its stored tree hash %d is not the one the events hash to (or is missing)",
				tlog.StoredHashIndex(k, w.n>>uint(k)))
			return t
		}
	}
	w.edge.add(w.n, hs)
	w.n++
	for len(w.cps) > 0 && w.cps[0].Size == w.n {
		if root, err := tlog.TreeHash(w.n, w.edge); err != nil || !bytes.Equal(root[:], w.cps[0].Root) {
			t := tampered(w.app, l, &e)
			t.What = fmt.Sprintf("the signed checkpoint of %d events has another root than the events hash to", w.n)
			return t
		}
		w.cps = w.cps[1:]
	}
	return nil
}

// missing reports leaf n's row missing from the sealed tree: the tree's
// rows were changed outside the ledger, a difference like an event's (not
// a failure to retry: it would hold back every tree's checkpoints). It
// names the event the log has at that place, if any.
func (w *walker) missing() error {
	if len(w.pending) == 0 {
		var err error
		if w.pending, err = readEvents(w.ctx, w.events, w.app, w.after); err != nil {
			return err
		}
	}
	var now *domain.RecordedEvent
	if len(w.pending) > 0 {
		now = &w.pending[0]
	}
	return missingLeaf(w.app, w.n, now)
}

// missingLeaf is a *Tampered for leaf n of app, whose row is missing
// from the sealed tree; now is the event the log has in its place (nil:
// none).
func missingLeaf(app string, n int64, now *domain.RecordedEvent) *Tampered {
	t := &Tampered{Appspace: app, LeafIndex: n, What: "its sealed leaf is missing from the tree's stored leaves"}
	if now != nil {
		t.EventID, t.Stream, t.Version = now.ID, now.Stream, now.Version
		t.What += " (the event named is the one the log has in its place)"
	}
	return t
}

// stored reports whether the tiles store h as hash n of tree level
// `level` (a tile level). Only the tiles under way stay in memory.
func (w *walker) stored(level int, n int64, h tlog.Hash) (bool, error) {
	key := tileKey{level / TileHeight, n >> TileHeight}
	if _, ok := w.tiles.data[key]; !ok {
		delete(w.tiles.data, tileKey{key.level, key.n - 1})
	}
	data, err := w.tiles.tile(key)
	if err != nil {
		return false, err
	}
	off := int(n&(1<<TileHeight-1)) * tlog.HashSize
	return len(data) >= off+tlog.HashSize && tlog.Hash(data[off:off+tlog.HashSize]) == h, nil
}

// readChunk reads the sealed leaves [from, to) of app.
func readChunk(ctx context.Context, db *sqlx.DB, app string, from, to int64) ([]sealedLeaf, error) {
	var leaves []sealedLeaf
	if err := db.SelectContext(ctx, &leaves, db.Rebind(`SELECT leaf_index, event_id, position, leaf FROM audit_leaves
		WHERE appspace_id = ? AND leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index`), app, from, to); err != nil {
		return nil, fmt.Errorf("read leaves: %w", err)
	}
	return leaves, nil
}

// readEvents reads the next batch of app's events after a position.
func readEvents(ctx context.Context, events domain.EventStore, app string, after domain.Position) ([]domain.RecordedEvent, error) {
	batch, err := events.ReadAll(ctx, domain.ReadAllOptions{After: after, Limit: int(wholeChunk), StreamPrefix: domain.StreamPrefix(app)})
	if err != nil && !errors.Is(err, domain.ErrPastEnd) {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return batch, nil
}

// rightEdge is a tlog.HashReader of a tree's right edge: the roots of the
// complete subtrees a tree of n leaves splits into, which is all that
// hashing the next leaf and the tree's root read.
type rightEdge map[int64]tlog.Hash

func (r rightEdge) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		h, ok := r[i]
		if !ok {
			return nil, fmt.Errorf("tree hash %d is not on the right edge", i)
		}
		out[k] = h
	}
	return out, nil
}

// add records leaf n's stored hashes hs: the subtrees they merged leave
// the edge, the largest new one joins it.
func (r rightEdge) add(n int64, hs []tlog.Hash) {
	m := len(hs) - 1
	for i := range m {
		delete(r, tlog.StoredHashIndex(i, n>>uint(i)-1))
	}
	r[tlog.StoredHashIndex(0, n)+int64(m)] = hs[m]
}
