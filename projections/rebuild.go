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

// rebuildBatch is how many events a rebuild applies per transaction.
const rebuildBatch = 5000

// RebuildReferrals replays the whole log into new tables beside the live
// read models, while the live ones keep answering, and switches over once
// it has caught up: in one transaction that holds the live checkpoint (so
// the live runner waits), it applies the last events, renames the new
// tables into place, drops the old ones and moves the live checkpoint to
// the rebuild's. progress, if set, is called after each batch.
func RebuildReferrals(ctx context.Context, store domain.EventStore, db *sqlx.DB, p *Referrals, progress func(applied int)) (Checkpoint, error) {
	return rebuildReferrals(ctx, store, db, p, progress, rebuildBatch)
}

// rebuildReferrals is RebuildReferrals in batches of batchSize events.
func rebuildReferrals(ctx context.Context, store domain.EventStore, db *sqlx.DB, p *Referrals, progress func(applied int), batchSize int) (Checkpoint, error) {
	name := ReferralsName + shadowSuffix
	sp := p.shadow()
	sp.deferWindows = true
	r, err := NewRunner(store, db, sp, RunnerConfig{Name: name, BatchSize: batchSize})
	if err != nil {
		return Checkpoint{}, err
	}
	// One rebuild at a time: on PostgreSQL a second one waits here. SQLite
	// has no such lock: run one rebuild at a time there (docs/decisions.md).
	if r.postgres() {
		release, err := r.lead(ctx)
		if err != nil {
			return Checkpoint{}, err
		}
		defer release()
	}
	if err := createShadow(ctx, db); err != nil {
		return Checkpoint{}, err
	}
	for _, q := range []string{`DELETE FROM projection_checkpoints WHERE name = ?`, `DELETE FROM projection_quarantine WHERE projection = ?`} {
		if _, err := db.ExecContext(ctx, db.Rebind(q), name); err != nil {
			return Checkpoint{}, fmt.Errorf("rebuild: reset checkpoint: %w", err)
		}
	}
	applied := 0
	catchUp := func() error {
		for {
			n, err := r.Step(ctx)
			if err != nil {
				return fmt.Errorf("rebuild: %w", err)
			}
			if n == 0 {
				return nil
			}
			applied += n
			if progress != nil {
				progress(applied)
			}
		}
	}
	// The bulk without secondary indexes or leaderboard windows, then the
	// indexes and the windows, then what came in meanwhile, then the
	// switch-over applies the last few events.
	if applied, err = bulkAll(ctx, r, sp, progress); err != nil {
		return Checkpoint{}, fmt.Errorf("rebuild: %w", err)
	}
	if err := indexShadow(ctx, db); err != nil {
		return Checkpoint{}, err
	}
	if err := deriveWindows(ctx, db, sp.tables); err != nil {
		return Checkpoint{}, err
	}
	if err := deriveRewardWindows(ctx, db, sp.tables); err != nil {
		return Checkpoint{}, err
	}
	sp.deferWindows, sp.bulk = false, nil
	if err := analyzeShadow(ctx, db); err != nil {
		return Checkpoint{}, err
	}
	if err := catchUp(); err != nil {
		return Checkpoint{}, err
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
		n, _, err := r.applyBatch(ctx, tx, now, true)
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
	// The live projection's quarantined events were those of the tables
	// just dropped; the rebuild's are those of the tables now live.
	for _, q := range []string{`DELETE FROM projection_checkpoints WHERE name = ?`, `DELETE FROM projection_quarantine WHERE projection = ?`} {
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), ReferralsName); err != nil {
			return fmt.Errorf("rebuild: move the checkpoint: %w", err)
		}
	}
	for _, q := range []string{`UPDATE projection_checkpoints SET name = ? WHERE name = ?`, `UPDATE projection_quarantine SET projection = ? WHERE projection = ?`} {
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), ReferralsName, r.cfg.Name); err != nil {
			return fmt.Errorf("rebuild: move the checkpoint: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rebuild: commit switch-over: %w", err)
	}
	return nil
}

// createShadow (re)creates empty copies of the live read-model tables
// under the rebuild's names, with their primary keys but without their
// other indexes: indexShadow adds those once the bulk of the log is in,
// which is much faster than keeping them up to date row by row.
func createShadow(ctx context.Context, db *sqlx.DB) error {
	for _, t := range readModelTables {
		shadow := t + shadowSuffix
		if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+shadow); err != nil {
			return fmt.Errorf("rebuild: drop %s: %w", shadow, err)
		}
		if db.DriverName() != "postgres" {
			if err := copySQLiteSchema(ctx, db, t, shadow, "table"); err != nil {
				return err
			}
			continue
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE `+shadow+` (LIKE `+t+` INCLUDING ALL EXCLUDING INDEXES)`); err != nil {
			return fmt.Errorf("rebuild: create %s: %w", shadow, err)
		}
		if err := copyPostgresIndexes(ctx, db, t, shadow, true); err != nil {
			return err
		}
	}
	return nil
}

// indexShadow gives the rebuild's tables the live tables' other indexes.
func indexShadow(ctx context.Context, db *sqlx.DB) error {
	for _, t := range readModelTables {
		var err error
		if db.DriverName() == "postgres" {
			err = copyPostgresIndexes(ctx, db, t, t+shadowSuffix, false)
		} else {
			err = copySQLiteSchema(ctx, db, t, t+shadowSuffix, "index")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// analyzeShadow gathers the planner statistics of the rebuild's tables on
// PostgreSQL, so the queries plan well from the switch-over on rather than
// once autovacuum comes by (a list by status took 170 ms instead of 0.3).
func analyzeShadow(ctx context.Context, db *sqlx.DB) error {
	if db.DriverName() != "postgres" {
		return nil
	}
	for _, t := range readModelTables {
		if _, err := db.ExecContext(ctx, `ANALYZE `+t+shadowSuffix); err != nil {
			return fmt.Errorf("rebuild: analyze %s: %w", t+shadowSuffix, err)
		}
	}
	return nil
}

var postgresIndex = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ `)

// copyPostgresIndexes creates on table to the indexes of table from: its
// primary key (as the primary key) or its other indexes. New names carry
// the time, so they never meet the names a previous rebuild left.
func copyPostgresIndexes(ctx context.Context, db *sqlx.DB, from, to string, primary bool) error {
	var defs []string
	if err := db.SelectContext(ctx, &defs, `SELECT pg_get_indexdef(indexrelid) FROM pg_index
		WHERE indrelid = $1::regclass AND indisprimary = $2 ORDER BY indexrelid`, from, primary); err != nil {
		return fmt.Errorf("rebuild: read the indexes of %s: %w", from, err)
	}
	for i, def := range defs {
		m := postgresIndex.FindStringSubmatch(def)
		if m == nil {
			return fmt.Errorf("rebuild: cannot copy index of %s: %s", from, def)
		}
		name := fmt.Sprintf("%s_%x_%d", to, time.Now().UnixNano(), i)
		q := postgresIndex.ReplaceAllString(def, `CREATE `+m[1]+`INDEX `+name+` ON `+to+` `)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild: index %s: %w", to, err)
		}
		if primary {
			if _, err := db.ExecContext(ctx, `ALTER TABLE `+to+` ADD PRIMARY KEY USING INDEX `+name); err != nil {
				return fmt.Errorf("rebuild: primary key of %s: %w", to, err)
			}
		}
	}
	return nil
}

var (
	sqliteTable = regexp.MustCompile(`^CREATE TABLE "?\w+"?`)
	sqliteIndex = regexp.MustCompile(`^CREATE (UNIQUE )?INDEX "?(\w+)"? ON "?\w+"?`)
)

// copySQLiteSchema creates on table to what SQLite's stored schema says
// of table from: the table itself (kind "table", with its primary key) or
// its indexes (kind "index"). Index names toggle a suffix so a later
// rebuild, whose live indexes carry it, picks names that are free again.
func copySQLiteSchema(ctx context.Context, db *sqlx.DB, from, to, kind string) error {
	var defs []string
	if err := db.SelectContext(ctx, &defs, `SELECT sql FROM sqlite_master
		WHERE tbl_name = ? AND type = ? AND sql IS NOT NULL ORDER BY name`, from, kind); err != nil {
		return fmt.Errorf("rebuild: read the schema of %s: %w", from, err)
	}
	if kind == "table" && len(defs) == 0 {
		return fmt.Errorf("rebuild: table %s does not exist", from)
	}
	for _, def := range defs {
		q := sqliteTable.ReplaceAllString(def, `CREATE TABLE "`+to+`"`)
		if kind == "index" {
			m := sqliteIndex.FindStringSubmatch(def)
			if m == nil {
				return fmt.Errorf("rebuild: cannot copy index of %s: %s", from, def)
			}
			name := m[2] + shadowSuffix
			if strings.HasSuffix(m[2], shadowSuffix) {
				name = strings.TrimSuffix(m[2], shadowSuffix)
			}
			q = sqliteIndex.ReplaceAllString(def, `CREATE `+m[1]+`INDEX "`+name+`" ON "`+to+`"`)
		}
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild: create %s: %w", to, err)
		}
	}
	return nil
}
