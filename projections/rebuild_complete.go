package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
	"golang.org/x/sync/errgroup"
)

// completeConns is how many connections a rebuild on PostgreSQL completes
// its tables on at once (completeShadow): each index build and derivation
// is one statement, which runs on one server process.
const completeConns = 3

// completeShadow gives the rebuild's tables what the bulk left out: the
// secondary indexes, the leaderboard and reward windows, the planner's
// statistics. From then on sp applies events as the live projection does.
// The leaderboard windows are derived into their table before it has
// indexes (windowIndexes). On PostgreSQL the index builds and the
// derivations run side by side on completeConns connections (they lock
// each other out of nothing: CREATE INDEX shares its table with reads and
// with other index builds); SQLite has one writer, and runs them in turn.
func completeShadow(ctx context.Context, db *sqlx.DB, sp *Referrals) error {
	jobs := []func(context.Context) error{
		func(ctx context.Context) error {
			err := inDerivation(ctx, db, func(tx *sqlx.Tx) error { return deriveWindows(ctx, tx, sp.tables) })
			if err != nil {
				return err
			}
			return createIndexes(ctx, db, windowIndexes(db.DriverName()))
		},
		func(ctx context.Context) error {
			return inDerivation(ctx, db, func(tx *sqlx.Tx) error { return deriveRewardWindows(ctx, tx, sp.tables) })
		},
	}
	for _, ix := range rebuildIndexes {
		index := func(ctx context.Context) error { return createIndexes(ctx, db, []rebuildIndex{ix}) }
		if db.DriverName() == "postgres" {
			jobs = append(jobs, index) // the derivations first: theirs is the longest chain
		} else {
			// The indexes first: the windows' derivation reads rm_referrals
			// through one of them.
			jobs = append([]func(context.Context) error{index}, jobs...)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(1)
	if db.DriverName() == "postgres" {
		g.SetLimit(completeConns)
	}
	for _, job := range jobs {
		g.Go(func() error { return job(gctx) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	sp.deferWindows, sp.bulk = false, nil
	return analyzeShadow(ctx, db)
}

// indexShadow gives the rebuild's tables the live tables' other indexes,
// all at once: what completeShadow adds, without the data.
func indexShadow(ctx context.Context, db *sqlx.DB) error {
	return createIndexes(ctx, db, append(rebuildIndexes[:len(rebuildIndexes):len(rebuildIndexes)], windowIndexes(db.DriverName())...))
}

// derivationWorkMem is the work_mem of the rebuild's derivations on
// PostgreSQL: the server's default 4 MB made the windows' hash aggregate
// spill to disk at 200k events.
var derivationWorkMem = []string{"work_mem = '64MB'"}

// inDerivation runs f in a transaction of db, with derivationWorkMem on
// PostgreSQL.
func inDerivation(ctx context.Context, db *sqlx.DB, f func(tx *sqlx.Tx) error) error {
	return inTxSetting(ctx, db, derivationWorkMem, f)
}

// inTxSetting runs f in a transaction of db, with the settings set
// ("name = value", SET LOCAL) on PostgreSQL.
func inTxSetting(ctx context.Context, db *sqlx.DB, settings []string, f func(tx *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if rbErr := tx.Rollback(); !errors.Is(rbErr, sql.ErrTxDone) {
				err = errors.Join(err, rbErr)
			}
		}
	}()
	for _, set := range settings {
		if db.DriverName() == "postgres" {
			if _, err := tx.ExecContext(ctx, `SET LOCAL `+set); err != nil {
				return fmt.Errorf("rebuild: set %s: %w", set, err)
			}
		}
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}
