package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// RebuildReferrals replays the whole log into new tables beside the live
// read models, while the live ones keep answering, and switches over once
// it has caught up: in one transaction that holds the live checkpoint (so
// the live runner waits), it applies the last events, renames the new
// tables into place, drops the old ones and moves the live checkpoint to
// the rebuild's. progress, if set, is called after each batch.
func RebuildReferrals(ctx context.Context, store domain.EventStore, db *sqlx.DB, p *Referrals, progress func(applied int)) (Checkpoint, error) {
	if err := createShadow(ctx, db); err != nil {
		return Checkpoint{}, err
	}
	name := ReferralsName + shadowSuffix
	if _, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM projection_checkpoints WHERE name = ?`), name); err != nil {
		return Checkpoint{}, fmt.Errorf("rebuild: reset checkpoint: %w", err)
	}
	r, err := NewRunner(store, db, p.shadow(), RunnerConfig{Name: name, BatchSize: 1000})
	if err != nil {
		return Checkpoint{}, err
	}
	applied := 0
	for {
		n, err := r.Step(ctx)
		if err != nil {
			return Checkpoint{}, fmt.Errorf("rebuild: %w", err)
		}
		if n == 0 {
			break
		}
		applied += n
		if progress != nil {
			progress(applied)
		}
	}
	if err := switchOver(ctx, db, r); err != nil {
		return Checkpoint{}, err
	}
	live, err := NewRunner(store, db, p, RunnerConfig{Name: ReferralsName})
	if err != nil {
		return Checkpoint{}, err
	}
	return live.Checkpoint(ctx)
}

// switchOver applies what the rebuild still lacks and swaps its tables in,
// in one transaction.
func switchOver(ctx context.Context, db *sqlx.DB, r *Runner) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rebuild: begin switch-over: %w", err)
	}
	defer func() {
		if err != nil {
			if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
				err = errors.Join(err, rbErr)
			}
		}
	}()
	lock := `SELECT position FROM projection_checkpoints WHERE name = ?`
	if r.postgres() {
		lock += ` FOR UPDATE` // the live runner waits until the switch commits
	}
	var livePos int64
	switch err := tx.GetContext(ctx, &livePos, tx.Rebind(lock), ReferralsName); {
	case errors.Is(err, sql.ErrNoRows): // the live projection never ran
	case err != nil:
		return fmt.Errorf("rebuild: lock the live checkpoint: %w", err)
	}
	now := time.Now().UnixMilli()
	for {
		n, err := r.applyBatch(ctx, tx, now)
		if err != nil {
			return fmt.Errorf("rebuild: catch up: %w", err)
		}
		if n == 0 {
			break
		}
	}
	for _, t := range readModelTables {
		for _, q := range []string{
			`ALTER TABLE ` + t + ` RENAME TO ` + t + `_old`,
			`ALTER TABLE ` + t + shadowSuffix + ` RENAME TO ` + t,
			`DROP TABLE ` + t + `_old`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("rebuild: switch %s: %w", t, err)
			}
		}
	}
	stmts := []string{
		`DELETE FROM projection_checkpoints WHERE name = ?`,
		`UPDATE projection_checkpoints SET name = ? WHERE name = ?`,
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(stmts[0]), ReferralsName); err != nil {
		return fmt.Errorf("rebuild: move the checkpoint: %w", err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(stmts[1]), ReferralsName, r.cfg.Name); err != nil {
		return fmt.Errorf("rebuild: move the checkpoint: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rebuild: commit switch-over: %w", err)
	}
	return nil
}

// createShadow (re)creates empty copies of the live read-model tables,
// with their indexes, under the rebuild's names.
func createShadow(ctx context.Context, db *sqlx.DB) error {
	for _, t := range readModelTables {
		shadow := t + shadowSuffix
		if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+shadow); err != nil {
			return fmt.Errorf("rebuild: drop %s: %w", shadow, err)
		}
		if db.DriverName() == "postgres" {
			if _, err := db.ExecContext(ctx, `CREATE TABLE `+shadow+` (LIKE `+t+` INCLUDING ALL)`); err != nil {
				return fmt.Errorf("rebuild: create %s: %w", shadow, err)
			}
			continue
		}
		if err := copySQLiteSchema(ctx, db, t, shadow); err != nil {
			return err
		}
	}
	return nil
}

var (
	sqliteTable = regexp.MustCompile(`^CREATE TABLE "?\w+"?`)
	sqliteIndex = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX "?(\w+)"? ON "?\w+"?`)
)

// copySQLiteSchema creates table to as SQLite's schema says from is, with
// its indexes. Index names toggle a suffix so a later rebuild, whose live
// indexes carry it, picks names that are free again.
func copySQLiteSchema(ctx context.Context, db *sqlx.DB, from, to string) error {
	var objs []struct {
		Type string `db:"type"`
		SQL  string `db:"sql"`
	}
	if err := db.SelectContext(ctx, &objs, `SELECT type, sql FROM sqlite_master
		WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type = 'index', name`, from); err != nil {
		return fmt.Errorf("rebuild: read the schema of %s: %w", from, err)
	}
	if len(objs) == 0 {
		return fmt.Errorf("rebuild: table %s does not exist", from)
	}
	for _, o := range objs {
		var q string
		switch o.Type {
		case "table":
			q = sqliteTable.ReplaceAllString(o.SQL, `CREATE TABLE "`+to+`"`)
		case "index":
			m := sqliteIndex.FindStringSubmatch(o.SQL)
			if m == nil {
				return fmt.Errorf("rebuild: cannot copy index of %s: %s", from, o.SQL)
			}
			name := m[2] + shadowSuffix
			if strings.HasSuffix(m[2], shadowSuffix) {
				name = strings.TrimSuffix(m[2], shadowSuffix)
			}
			q = sqliteIndex.ReplaceAllString(o.SQL, `CREATE `+m[1]+`INDEX "`+name+`" ON "`+to+`"`)
		default:
			continue
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild: create %s: %w", to, err)
		}
	}
	return nil
}
