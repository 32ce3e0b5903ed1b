package audit

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// tileKey names a stored tile: tile n of level L holds the tree's hashes
// n·256 to n·256+255 at tree level 8L (tlog's tiles of height 8).
type tileKey struct {
	level int
	n     int64
}

// tiles is a tlog.HashReader over an appspace's rows of audit_tiles: one
// row a tile of 256 hashes, the right edge's tiles partial. A hash at a
// tree level between two tile levels is computed from its tile (at most
// 255 SHA-256s), so a proof reads a few rows, not a row a hash. It caches
// the tiles it read, and holds those a sealing batch grew until written.
type tiles struct {
	ctx   context.Context
	q     querier
	app   string
	data  map[tileKey][]byte // nil: read, absent from the table
	dirty map[tileKey]bool
	// onLoad, if set, is called before each query of load.
	onLoad func()
}

func newTiles(ctx context.Context, q querier, app string) *tiles {
	return &tiles{ctx: ctx, q: q, app: app, data: map[tileKey][]byte{}, dirty: map[tileKey]bool{}}
}

// ReadHashes implements tlog.HashReader: the hashes at indexes, in order.
func (t *tiles) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	tl := make([]tlog.Tile, len(indexes))
	var missing []tileKey
	seen := map[tileKey]bool{}
	for k, i := range indexes {
		tl[k] = tlog.TileForIndex(TileHeight, i)
		key := tileKey{tl[k].L, tl[k].N}
		if _, ok := t.data[key]; !ok && !seen[key] {
			seen[key] = true
			missing = append(missing, key)
		}
	}
	if err := t.load(missing); err != nil {
		return nil, err
	}
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		data := t.data[tileKey{tl[k].L, tl[k].N}]
		if len(data) < tl[k].W*tlog.HashSize {
			return nil, fmt.Errorf("tree hash %d of appspace %s is missing", i, t.app)
		}
		h, err := tlog.HashFromTile(tl[k], data, i)
		if err != nil {
			return nil, err
		}
		out[k] = h
	}
	return out, nil
}

// tile returns the data of tile key (nil if it is not stored).
func (t *tiles) tile(key tileKey) ([]byte, error) {
	if data, ok := t.data[key]; ok {
		return data, nil
	}
	if err := t.load([]tileKey{key}); err != nil {
		return nil, err
	}
	return t.data[key], nil
}

// load reads the tiles keys into the cache; those not stored read as nil.
func (t *tiles) load(keys []tileKey) error {
	for len(keys) > 0 {
		chunk := keys[:min(len(keys), 100)]
		keys = keys[len(chunk):]
		conds := make([]string, len(chunk))
		args := []any{t.app}
		for k, key := range chunk {
			conds[k] = "(level = ? AND idx = ?)"
			args = append(args, key.level, key.n)
			t.data[key] = nil
		}
		if t.onLoad != nil {
			t.onLoad()
		}
		rows, err := t.q.QueryxContext(t.ctx, t.q.Rebind(`SELECT level, idx, hashes FROM audit_tiles
			WHERE appspace_id = ? AND (`+strings.Join(conds, " OR ")+`)`), args...)
		if err != nil {
			return fmt.Errorf("read tree tiles: %w", err)
		}
		for rows.Next() {
			var key tileKey
			var b []byte
			if err := rows.Scan(&key.level, &key.n, &b); err != nil {
				_ = rows.Close()
				return fmt.Errorf("read tree tiles: %w", err)
			}
			t.data[key] = b[:len(b)-len(b)%tlog.HashSize]
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read tree tiles: %w", err)
		}
	}
	return nil
}

// add stores h as the hash n of tree level `level` (a multiple of
// TileHeight), which must be the next one of its tile.
func (t *tiles) add(level int, n int64, h tlog.Hash) error {
	key := tileKey{level / TileHeight, n >> TileHeight}
	data, err := t.tile(key)
	if err != nil {
		return err
	}
	if int64(len(data)/tlog.HashSize) != n&(1<<TileHeight-1) {
		return fmt.Errorf("tile %d/%d of appspace %s holds %d hashes, not the ones before hash %d",
			key.level, key.n, t.app, len(data)/tlog.HashSize, n)
	}
	t.data[key] = append(data, h[:]...)
	t.dirty[key] = true
	return nil
}

// addLeaf stores the hashes tlog.StoredHashes returned for leaf n: those
// at the tile levels.
func (t *tiles) addLeaf(n int64, hs []tlog.Hash) error {
	for l := 0; l < len(hs); l += TileHeight {
		if err := t.add(l, n>>uint(l), hs[l]); err != nil {
			return err
		}
	}
	return nil
}

// changed returns the rows of the tiles add grew, for flush.
func (t *tiles) changed() [][]any {
	rows := make([][]any, 0, len(t.dirty))
	for key := range t.dirty {
		rows = append(rows, []any{t.app, key.level, key.n, t.data[key]})
	}
	return rows
}

// writeTiles writes tile rows (appspace, level, idx, hashes), replacing
// the stored partial ones.
func writeTiles(ctx context.Context, q querier, rows [][]any) error {
	err := insertRows(ctx, q, `INSERT INTO audit_tiles (appspace_id, level, idx, hashes) VALUES `, 4, rows,
		` ON CONFLICT (appspace_id, level, idx) DO UPDATE SET hashes = excluded.hashes`)
	if err != nil {
		return fmt.Errorf("write tree tiles: %w", err)
	}
	return nil
}

// edgeOf returns the right edge of app's tree of size leaves, read from
// tiles: the roots of the complete subtrees it splits into.
func edgeOf(size int64, ts *tiles) (rightEdge, error) {
	var idx []int64
	var start int64
	for l := 62; l >= 0; l-- {
		if size&(1<<uint(l)) != 0 {
			idx = append(idx, tlog.StoredHashIndex(l, start>>uint(l)))
			start += 1 << uint(l)
		}
	}
	hs, err := ts.ReadHashes(idx)
	if err != nil {
		return nil, err
	}
	edge := rightEdge{}
	for k, i := range idx {
		edge[i] = hs[k]
	}
	return edge, nil
}
