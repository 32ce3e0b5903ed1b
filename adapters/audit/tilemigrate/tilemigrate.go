// Package tilemigrate is the migration of the audit trees' stored hashes
// to tiles, shared by the SQLite and PostgreSQL stores (a package of its
// own: the stores cannot import package audit, which imports projections).
package tilemigrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is audit.tileHeight: a tile holds 256 hashes.
const tileHeight = 8

// tileKey names a tile: level L, number n.
type tileKey struct {
	level int
	n     int64
}

// createTiles is audit_tiles, per driver.
var createTiles = map[string]string{
	"sqlite3": `CREATE TABLE audit_tiles (
		appspace_id TEXT    NOT NULL,
		level       INTEGER NOT NULL, -- tile level L: the tree's hashes at level 8L
		idx         BIGINT  NOT NULL, -- tile N: hashes N*256 to N*256+255 of its level
		hashes      BLOB    NOT NULL, -- 32 bytes a hash; fewer than 256 only at the right edge
		PRIMARY KEY (appspace_id, level, idx))`,
	"postgres": `CREATE TABLE audit_tiles (
		appspace_id text    NOT NULL,
		level       integer NOT NULL, -- tile level L: the tree's hashes at level 8L
		idx         bigint  NOT NULL, -- tile N: hashes N*256 to N*256+255 of its level
		hashes      bytea   NOT NULL, -- 32 bytes a hash; fewer than 256 only at the right edge
		PRIMARY KEY (appspace_id, level, idx))`,
}

// createHashes is audit_hashes as migrations 00011 (SQLite) and 00012
// (PostgreSQL) made it, for Down.
var createHashes = map[string]string{
	"sqlite3": `CREATE TABLE audit_hashes (appspace_id TEXT NOT NULL, hash_index BIGINT NOT NULL, hash BLOB NOT NULL,
		PRIMARY KEY (appspace_id, hash_index))`,
	"postgres": `CREATE TABLE audit_hashes (appspace_id text NOT NULL, hash_index bigint NOT NULL, hash bytea NOT NULL,
		PRIMARY KEY (appspace_id, hash_index))`,
}

// Up is the migration from audit_hashes (a row a stored hash, about two
// a leaf) to audit_tiles (a row a tile of 256 hashes at the
// tree levels 0, 8, 16, …; the other levels' hashes are computed from
// them): sealing a batch then writes a few tile rows, not a row per hash,
// and a proof reads a few rows. It converts every stored tree; a hash
// missing from audit_hashes becomes zeros, which the whole-tree check
// reports as not the one the events hash to. driver is "sqlite3" or
// "postgres".
func Up(ctx context.Context, tx *sql.Tx, driver string) error {
	if _, err := tx.ExecContext(ctx, createTiles[driver]); err != nil {
		return fmt.Errorf("create audit_tiles: %w", err)
	}
	sizes, err := treeSizes(ctx, tx)
	if err != nil {
		return err
	}
	bind := sqlx.BindType(driver)
	for app, size := range sizes {
		built := map[tileKey][]byte{}
		for l := 0; size>>uint(l) > 0; l += tileHeight {
			count := size >> uint(l)
			for n := int64(0); n < count; n += 1 << tileHeight {
				built[tileKey{l / tileHeight, n >> tileHeight}] = make([]byte, min(count-n, 1<<tileHeight)*tlog.HashSize)
			}
		}
		rows, err := tx.QueryContext(ctx, sqlx.Rebind(bind, `SELECT hash_index, hash FROM audit_hashes WHERE appspace_id = ?`), app)
		if err != nil {
			return fmt.Errorf("read audit_hashes: %w", err)
		}
		for rows.Next() {
			var i int64
			var h []byte
			if err := rows.Scan(&i, &h); err != nil {
				_ = rows.Close()
				return fmt.Errorf("read audit_hashes: %w", err)
			}
			level, n := tlog.SplitStoredHashIndex(i)
			if data, ok := built[tileKey{level / tileHeight, n >> tileHeight}]; ok && level%tileHeight == 0 && len(h) == tlog.HashSize {
				if off := int(n&(1<<tileHeight-1)) * tlog.HashSize; off < len(data) {
					copy(data[off:], h)
				}
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read audit_hashes: %w", err)
		}
		for key, data := range built {
			if _, err := tx.ExecContext(ctx, sqlx.Rebind(bind, `INSERT INTO audit_tiles (appspace_id, level, idx, hashes)
				VALUES (?, ?, ?, ?)`), app, key.level, key.n, data); err != nil {
				return fmt.Errorf("write audit_tiles: %w", err)
			}
		}
	}
	_, err = tx.ExecContext(ctx, `DROP TABLE audit_hashes`)
	return err
}

// Down undoes Up: it stores every hash of the trees again, a
// row each, recomputed from the sealed leaves.
func Down(ctx context.Context, tx *sql.Tx, driver string) error {
	if _, err := tx.ExecContext(ctx, createHashes[driver]); err != nil {
		return fmt.Errorf("create audit_hashes: %w", err)
	}
	sizes, err := treeSizes(ctx, tx)
	if err != nil {
		return err
	}
	bind := sqlx.BindType(driver)
	for app := range sizes {
		rows, err := tx.QueryContext(ctx, sqlx.Rebind(bind, `SELECT leaf FROM audit_leaves WHERE appspace_id = ? ORDER BY leaf_index`), app)
		if err != nil {
			return fmt.Errorf("read audit_leaves: %w", err)
		}
		var all hashes
		for n := int64(0); rows.Next(); n++ {
			var leaf []byte
			if err := rows.Scan(&leaf); err != nil {
				_ = rows.Close()
				return fmt.Errorf("read audit_leaves: %w", err)
			}
			hs, err := tlog.StoredHashes(n, leaf, all)
			if err != nil {
				_ = rows.Close()
				return err
			}
			all = append(all, hs...)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("read audit_leaves: %w", err)
		}
		for i := 0; i < len(all); i += 200 {
			chunk := all[i:min(len(all), i+200)]
			args := make([]any, 0, 3*len(chunk))
			for k, h := range chunk {
				args = append(args, app, int64(i+k), h[:])
			}
			q := `INSERT INTO audit_hashes (appspace_id, hash_index, hash) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(chunk)), ", ")
			if _, err := tx.ExecContext(ctx, sqlx.Rebind(bind, q), args...); err != nil {
				return fmt.Errorf("write audit_hashes: %w", err)
			}
		}
	}
	_, err = tx.ExecContext(ctx, `DROP TABLE audit_tiles`)
	return err
}

// treeSizes returns every tree's sealed size.
func treeSizes(ctx context.Context, tx *sql.Tx) (map[string]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT appspace_id, size FROM audit_trees`)
	if err != nil {
		return nil, fmt.Errorf("read audit_trees: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var app string
		var size int64
		if err := rows.Scan(&app, &size); err != nil {
			return nil, fmt.Errorf("read audit_trees: %w", err)
		}
		out[app] = size
	}
	return out, rows.Err()
}

// hashes is every stored hash of a tree, in order: a tlog.HashReader.
type hashes []tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for k, i := range indexes {
		out[k] = h[i]
	}
	return out, nil
}
