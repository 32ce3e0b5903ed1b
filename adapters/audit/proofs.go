package audit

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/domain"
)

// TileHeight is the height of the served tiles (C2SP tlog-tiles: 256
// hashes or entries a tile).
const TileHeight = 8

// Prover answers the audit endpoints from the sealed trees.
type Prover struct {
	db  *sqlx.DB
	q   *stmts // db, its statements prepared once
	key *Key
	// onLoad, if set, is called on each read of tiles after the first
	// statement of a proof (the tests count them).
	onLoad func()
}

// NewProver returns a prover reading db; key's verifier key is published.
func NewProver(db *sqlx.DB, key *Key) *Prover { return &Prover{db: db, q: newStmts(db), key: key} }

// VerifierKey is the note verifier key of every checkpoint.
func (p *Prover) VerifierKey() string { return p.key.VerifierKey() }

// errNoCheckpoint is the answer before an appspace's first checkpoint.
var errNoCheckpoint = domain.Errorf(domain.ENotFound, "no checkpoint yet: the log is empty or not sealed yet")

// Checkpoint returns app's latest signed checkpoint and its tree size.
// Errors: domain.ENotFound before the first checkpoint.
func (p *Prover) Checkpoint(ctx context.Context, app string) ([]byte, int64, error) {
	var cp struct {
		Size int64  `db:"tree_size"`
		Note string `db:"note"`
	}
	err := sqlx.GetContext(ctx, p.q, &cp, p.db.Rebind(`SELECT tree_size, note FROM audit_checkpoints
		WHERE appspace_id = ? ORDER BY tree_size DESC LIMIT 1`), app)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, errNoCheckpoint
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read checkpoint: %w", err)
	}
	return []byte(cp.Note), cp.Size, nil
}

// Inclusion is a proof that a leaf is in a tree.
type Inclusion struct {
	LeafIndex int64
	TreeSize  int64
	LeafHash  tlog.Hash
	Proof     tlog.RecordProof
}

// size returns app's sealed tree size (0 before its first event).
func (p *Prover) size(ctx context.Context, app string) (int64, error) {
	var n int64
	err := sqlx.GetContext(ctx, p.q, &n, p.db.Rebind(`SELECT size FROM audit_trees WHERE appspace_id = ?`), app)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// inclusionQuery reads, in one statement (on PostgreSQL a round trip
// costs more than the rest of a proof), an event's leaf index, the sealed
// size, the latest checkpoint's size and the tiles a proof of that leaf
// in the tree of n leaves (the argument, or 0: the checkpoint's) reads:
// at each tile level, the tile of the leaf's ancestors (its siblings'
// hashes) and the tree's last tile (its right edge's). A row a tile, the
// first three columns repeated (one row of NULL tile columns when none is
// stored); no row when the event is not sealed. A tile a proof needs that
// is not among these is read after, as without them.
const inclusionQuery = `WITH w AS (
	SELECT l.leaf_index, COALESCE(t.size, 0) AS size, COALESCE((SELECT MAX(c.tree_size) FROM audit_checkpoints c
		WHERE c.appspace_id = l.appspace_id), 0) AS checkpoint
	FROM audit_leaves l LEFT JOIN audit_trees t ON t.appspace_id = l.appspace_id
	WHERE l.appspace_id = ? AND l.event_id = ?),
n AS (SELECT leaf_index, CASE WHEN CAST(? AS BIGINT) > 0 THEN CAST(? AS BIGINT) ELSE checkpoint END AS n FROM w),
want AS (SELECT DISTINCT k.level, (CASE j.which WHEN 0 THEN n.leaf_index ELSE n.n - 1 END) >> (8 * k.level) >> 8 AS idx
	FROM n, (SELECT 0 AS level UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
		UNION ALL SELECT 5 UNION ALL SELECT 6) k, (SELECT 0 AS which UNION ALL SELECT 1) j
	WHERE (n.n >> (8 * k.level)) > 0)
SELECT w.leaf_index, w.size, w.checkpoint, tl.level AS tile_level, tl.idx AS tile_idx, tl.hashes AS tile_hashes FROM w LEFT JOIN
	(want JOIN audit_tiles tl ON tl.appspace_id = ? AND tl.level = want.level AND tl.idx = want.idx) ON TRUE`

// inclusionRow is a row of inclusionQuery.
type inclusionRow struct {
	Leaf       int64         `db:"leaf_index"`
	Size       int64         `db:"size"`
	Checkpoint int64         `db:"checkpoint"`
	Level      sql.NullInt64 `db:"tile_level"`
	Idx        sql.NullInt64 `db:"tile_idx"`
	Hashes     []byte        `db:"tile_hashes"`
}

// Inclusion proves that event eventID is in app's tree of treeSize
// leaves (0: the latest checkpoint's). Errors: domain.ENotFound (no such
// event sealed, or no checkpoint yet), domain.EInvalid (a tree size that
// does not hold the leaf, or beyond the sealed tree).
func (p *Prover) Inclusion(ctx context.Context, app, eventID string, treeSize int64) (Inclusion, error) {
	var rows []inclusionRow
	if err := sqlx.SelectContext(ctx, p.q, &rows, p.db.Rebind(inclusionQuery), app, eventID, treeSize, treeSize, app); err != nil {
		return Inclusion{}, fmt.Errorf("read leaf index: %w", err)
	}
	if len(rows) == 0 {
		if treeSize == 0 {
			if _, _, err := p.Checkpoint(ctx, app); err != nil {
				return Inclusion{}, err // none yet: say so first, as the checkpoint endpoint does
			}
		}
		return Inclusion{}, domain.Errorf(domain.ENotFound, "event %s is not sealed in this appspace's log", eventID)
	}
	at := rows[0]
	if treeSize == 0 {
		if treeSize = at.Checkpoint; treeSize == 0 {
			return Inclusion{}, errNoCheckpoint
		}
	}
	if treeSize <= at.Leaf || treeSize > at.Size {
		return Inclusion{}, domain.Errorf(domain.EInvalid, "tree_size must be between %d and %d for this event", at.Leaf+1, at.Size)
	}
	hs := newTiles(ctx, p.q, app)
	hs.onLoad = p.onLoad
	for _, r := range rows {
		if r.Level.Valid && r.Idx.Valid {
			hs.data[tileKey{int(r.Level.Int64), r.Idx.Int64}] = r.Hashes[:len(r.Hashes)-len(r.Hashes)%tlog.HashSize]
		}
	}
	proof, err := tlog.ProveRecord(treeSize, at.Leaf, hs)
	if err != nil {
		return Inclusion{}, fmt.Errorf("prove leaf %d: %w", at.Leaf, err)
	}
	h, err := hs.ReadHashes([]int64{tlog.StoredHashIndex(0, at.Leaf)})
	if err != nil {
		return Inclusion{}, err
	}
	return Inclusion{LeafIndex: at.Leaf, TreeSize: treeSize, LeafHash: h[0], Proof: proof}, nil
}

// Consistency proves that app's tree of size to extends its tree of size
// from. Errors: domain.EInvalid unless 1 ≤ from ≤ to ≤ the sealed size.
func (p *Prover) Consistency(ctx context.Context, app string, from, to int64) (tlog.TreeProof, error) {
	size, err := p.size(ctx, app)
	if err != nil {
		return nil, err
	}
	if from < 1 || from > to || to > size {
		return nil, domain.Errorf(domain.EInvalid, "want 1 <= from <= to <= %d (the sealed tree size)", size)
	}
	return tlog.ProveTree(to, from, newTiles(ctx, p.q, app))
}

// Tile returns a hash tile (L ≥ 0) or an entry bundle (L = -1) of app's
// tree. Errors: domain.ENotFound for a tile beyond the sealed tree.
func (p *Prover) Tile(ctx context.Context, app string, t tlog.Tile) ([]byte, error) {
	size, err := p.size(ctx, app)
	if err != nil {
		return nil, err
	}
	w := int64(t.W)
	level := max(t.L, 0)
	// The tile's last hash is hash N·256 + W - 1 of tree level 8L, of
	// which the sealed tree has size/256^L. Compared without computing
	// N·256, which overflows for a hostile N (wrapping to a small index:
	// another tile's data).
	if t.H != TileHeight || t.L < -1 || level > 6 || t.N < 0 || w < 1 || w > 1<<TileHeight {
		return nil, domain.Errorf(domain.ENotFound, "no such tile in the sealed tree")
	}
	have := size >> (TileHeight * level)
	if t.N > have>>TileHeight || t.N<<TileHeight+w > have {
		return nil, domain.Errorf(domain.ENotFound, "no such tile in the sealed tree")
	}
	if t.L >= 0 {
		data, err := newTiles(ctx, p.q, app).tile(tileKey{t.L, t.N})
		if err != nil {
			return nil, err
		}
		if len(data) < t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s of appspace %s is missing hashes", t.Path(), app)
		}
		return data[:t.W*tlog.HashSize], nil
	}
	var leaves [][]byte
	start := t.N << TileHeight
	if err := sqlx.SelectContext(ctx, p.q, &leaves, p.db.Rebind(`SELECT leaf FROM audit_leaves WHERE appspace_id = ?
		AND leaf_index >= ? AND leaf_index < ? ORDER BY leaf_index`), app, start, start+w); err != nil {
		return nil, fmt.Errorf("read entries: %w", err)
	}
	var out []byte
	for _, l := range leaves {
		if len(l) > 0xffff {
			return nil, fmt.Errorf("leaf of %d bytes is too long for an entry bundle", len(l))
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(l)))
		out = append(out, l...)
	}
	return out, nil
}

// Tampered returns the reason of the first tree found tampered, or "".
func (p *Prover) Tampered(ctx context.Context) (string, error) {
	var why string
	err := p.db.GetContext(ctx, &why, `SELECT tampered FROM audit_trees WHERE tampered IS NOT NULL ORDER BY appspace_id LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return why, err
}

// AppspaceName returns the name of an appspace (so verifiers can check
// they were handed the log they asked for).
func (p *Prover) AppspaceName(ctx context.Context, app string) (string, error) {
	var name string
	err := p.db.GetContext(ctx, &name, p.db.Rebind(`SELECT name FROM appspaces WHERE id = ?`), app)
	if err != nil {
		return "", fmt.Errorf("read appspace name: %w", err)
	}
	return name, nil
}
