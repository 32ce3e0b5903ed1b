package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	if err := completeShadow(ctx, db, sp); err != nil {
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
		n, _, err := r.applyBatch(ctx, tx, now, true, nil)
		if err != nil {
			return fmt.Errorf("rebuild: catch up: %w", err)
		}
		if n == 0 {
			break
		}
	}
	rebuilt := rebuildTables.all()
	for i, t := range liveTables.all() {
		for _, q := range []string{
			`ALTER TABLE ` + t + ` RENAME TO ` + t + `_old`,
			`ALTER TABLE ` + rebuilt[i] + ` RENAME TO ` + t,
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

// createShadow (re)creates empty rebuild tables beside the live read
// models, with their primary keys but without their other indexes:
// indexShadow adds those once the bulk of the log is in.
func createShadow(ctx context.Context, db *sqlx.DB) error {
	for _, t := range rebuildTables.all() {
		if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			return fmt.Errorf("rebuild: drop %s: %w", t, err)
		}
	}
	ddl := sqliteRebuildTables
	if db.DriverName() == "postgres" {
		ddl = postgresRebuildTables
	}
	for _, q := range ddl {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("rebuild: create tables: %w", err)
		}
	}
	if db.DriverName() == "postgres" {
		return createIndexes(ctx, db, postgresRebuildKeys)
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
	for _, t := range rebuildTables.all() {
		if _, err := db.ExecContext(ctx, `ANALYZE `+t); err != nil {
			return fmt.Errorf("rebuild: analyze %s: %w", t, err)
		}
	}
	return nil
}
