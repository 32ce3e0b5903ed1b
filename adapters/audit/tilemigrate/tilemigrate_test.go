package tilemigrate

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite"
)

// The tables as migration 00011 (SQLite) made them, before tiles.
const before = `
CREATE TABLE audit_trees (appspace_id TEXT PRIMARY KEY, size BIGINT NOT NULL DEFAULT 0, tampered TEXT, tampered_at BIGINT);
CREATE TABLE audit_leaves (appspace_id TEXT NOT NULL, leaf_index BIGINT NOT NULL, event_id TEXT NOT NULL,
	position BIGINT NOT NULL, leaf BLOB NOT NULL, PRIMARY KEY (appspace_id, leaf_index));
CREATE TABLE audit_hashes (appspace_id TEXT NOT NULL, hash_index BIGINT NOT NULL, hash BLOB NOT NULL,
	PRIMARY KEY (appspace_id, hash_index));`

// TestUpAndDown: Up turns each tree's stored hashes into the tiles of
// height 8 that tlog.ReadTileData makes of them (full tiles and the right
// edge's partial ones), and Down stores every hash again, a row each.
func TestUpAndDown(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(before); err != nil {
		t.Fatal(err)
	}
	trees := map[string]int64{"as_big": 3*256 + 17, "as_small": 5}
	stored := map[string]hashes{}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for app, size := range trees {
		var all hashes
		for n := int64(0); n < size; n++ {
			leaf := []byte(fmt.Sprintf(`{"n":%d}`, n))
			hs, err := tlog.StoredHashes(n, leaf, all)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, hs...)
			if _, err := tx.Exec(`INSERT INTO audit_leaves VALUES (?, ?, ?, ?, ?)`, app, n, fmt.Sprint("e", n), n, leaf); err != nil {
				t.Fatal(err)
			}
		}
		for i, h := range all {
			if _, err := tx.Exec(`INSERT INTO audit_hashes VALUES (?, ?, ?)`, app, i, h[:]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(`INSERT INTO audit_trees (appspace_id, size) VALUES (?, ?)`, app, size); err != nil {
			t.Fatal(err)
		}
		stored[app] = all
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	inTx(t, db, func(tx *sql.Tx) error { return Up(ctx, tx, "sqlite3") })
	for app, size := range trees {
		for _, tile := range tlog.NewTiles(tileHeight, 0, size) {
			want, err := tlog.ReadTileData(tile, stored[app])
			if err != nil {
				t.Fatal(err)
			}
			var got []byte
			if err := db.QueryRow(`SELECT hashes FROM audit_tiles WHERE appspace_id = ? AND level = ? AND idx = ?`,
				app, tile.L, tile.N).Scan(&got); err != nil {
				t.Fatalf("%s tile %s: %v", app, tile.Path(), err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s tile %s: %d bytes, not the %d bytes of its hashes", app, tile.Path(), len(got), len(want))
			}
		}
	}
	inTx(t, db, func(tx *sql.Tx) error { return Down(ctx, tx, "sqlite3") })
	for app, all := range stored {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM audit_hashes WHERE appspace_id = ?`, app).Scan(&n); err != nil || n != len(all) {
			t.Fatalf("%s after Down: %d hashes, %v; want %d", app, n, err, len(all))
		}
		for _, i := range []int64{0, int64(len(all)) / 2, int64(len(all)) - 1} {
			var h []byte
			if err := db.QueryRow(`SELECT hash FROM audit_hashes WHERE appspace_id = ? AND hash_index = ?`, app, i).Scan(&h); err != nil ||
				!bytes.Equal(h, all[i][:]) {
				t.Errorf("%s hash %d after Down: %x, %v; want %x", app, i, h, err, all[i][:])
			}
		}
	}
}

func inTx(t *testing.T, db *sql.DB, f func(*sql.Tx) error) {
	t.Helper()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
