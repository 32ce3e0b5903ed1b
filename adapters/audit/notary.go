package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/referral-ledger/referral-ledger/domain"
	"github.com/referral-ledger/referral-ledger/projections"
)

// recheck is how many leaves each signing checks again against the
// stored events: those before the previous checkpoint, and the newest.
const recheck = 256

// NotaryConfig configures a Notary.
type NotaryConfig struct {
	// DB holds the trees (the read models' database); Events is the log.
	DB *sqlx.DB
	// Read, if set, is a pool of readers of DB (SQLite's): the checks read
	// the trees there, not through DB's one writer connection.
	Read   *sqlx.DB
	Events domain.EventStore
	Key    *Key
	// Interval is the least time between two checkpoints of an appspace;
	// one second by default.
	Interval time.Duration
	Logger   *slog.Logger
	// Now is the clock; time.Now by default.
	Now func() time.Time
}

// Notary signs checkpoints of the sealed trees, and never one that is not
// consistent with the previous checkpoint or whose events no longer hash
// to the tree: it then marks the appspace's tree tampered and stops
// signing for it. Every replica may run one: a checkpoint is signed with
// its tree's row locked, so replicas never sign two for one tree size.
type Notary struct {
	cfg   NotaryConfig
	log   *slog.Logger
	check *Checker
	// checking is set until Run's whole-tree check has gone through;
	// checked and total are its progress.
	checking       atomic.Bool
	checked, total atomic.Int64
}

// NewNotary returns a notary.
func NewNotary(cfg NotaryConfig) (*Notary, error) {
	if cfg.DB == nil || cfg.Events == nil || cfg.Key == nil {
		return nil, errors.New("audit: notary needs a database, an event store and a key")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notary{cfg: cfg, log: log, check: NewChecker(cfg.DB, cfg.Events, log)}
	n.check.now = cfg.Now
	if cfg.Read != nil {
		n.check.read = cfg.Read
	}
	n.checking.Store(true)
	return n, nil
}

// Run re-hashes every tree whole against the stored events, then signs
// new checkpoints as the trees grow, until ctx ends. The whole-tree check
// runs while serve already serves (Checking reports it); no checkpoint is
// signed until it has gone through (a check that fails for another reason
// than a difference is tried again), and a tree it finds tampered is
// never signed again. Signing looks once an Interval, not on every sealed
// batch: under a burst of appends that is one query a second.
func (n *Notary) Run(ctx context.Context) error {
	for n.checking.Load() {
		err := n.check.CheckAll(ctx, func(done, total int64) { n.checked.Store(done); n.total.Store(total) })
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil || OnlyTampered(err):
			n.checking.Store(false)
		default:
			n.log.ErrorContext(ctx, "audit: checking the sealed trees failed; checkpoints wait for it, retrying", "err", err)
			if !projections.Sleep(ctx, max(n.cfg.Interval, time.Second)) {
				return nil
			}
		}
	}
	t := time.NewTicker(n.cfg.Interval)
	defer t.Stop()
	for {
		if err := n.SignAll(ctx); err != nil && ctx.Err() == nil {
			n.log.ErrorContext(ctx, "audit: signing checkpoints failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Checking reports whether Run's start-up whole-tree check has not gone
// through yet, and its progress: leaves checked of all the trees'.
func (n *Notary) Checking() (checking bool, done, total int64) {
	return n.checking.Load(), n.checked.Load(), n.total.Load()
}

// tree is an appspace's row of audit_trees with its last checkpoint.
type tree struct {
	App      string         `db:"appspace_id"`
	Size     int64          `db:"size"`
	Tampered sql.NullString `db:"tampered"`
	CPSize   sql.NullInt64  `db:"cp_size"`
	CPRoot   []byte         `db:"cp_root"`
	CPAt     sql.NullInt64  `db:"cp_at"`
}

const treesQuery = `SELECT t.appspace_id, t.size, t.tampered, c.tree_size AS cp_size, c.root_hash AS cp_root,
	c.created_at AS cp_at FROM audit_trees t LEFT JOIN audit_checkpoints c ON c.appspace_id = t.appspace_id
	AND c.tree_size = (SELECT MAX(tree_size) FROM audit_checkpoints WHERE appspace_id = t.appspace_id)`

// CheckAll re-hashes every sealed tree whole against the stored events
// and marks those that differ tampered (see Checker.CheckAll).
func (n *Notary) CheckAll(ctx context.Context) error { return n.check.CheckAll(ctx, nil) }

// SignAll signs a checkpoint for each tree that grew since its last one
// (at most one per Interval), unless it is tampered.
func (n *Notary) SignAll(ctx context.Context) error {
	var trees []tree
	// Through the readers (SQLite's one writer is the appends'): sign reads
	// the tree again with its row locked.
	if err := n.check.read.SelectContext(ctx, &trees, treesQuery+
		` WHERE t.tampered IS NULL AND t.size > COALESCE(c.tree_size, 0) ORDER BY t.appspace_id`); err != nil {
		return fmt.Errorf("read trees: %w", err)
	}
	var errs []error
	for _, t := range trees {
		if t.CPAt.Valid && n.cfg.Now().UnixMilli()-t.CPAt.Int64 < n.cfg.Interval.Milliseconds() {
			continue
		}
		err := n.checkRecent(ctx, t)
		if err == nil {
			err = n.sign(ctx, t.App, t.Size)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// checkRecent checks the recent part of t's tree against the stored
// events before it is signed: the recheck leaves before the previous
// checkpoint (or before what the whole-tree check went through: the first
// checkpoint after start-up need not check the tree twice) and the
// recheck newest. When more than recheck leaves were sealed since, those
// in between are not read again: the sealer read them from the store
// less than a second before (see docs/decisions.md, "The notary's
// recent part").
func (n *Notary) checkRecent(ctx context.Context, t tree) error {
	old := max(t.CPSize.Int64, n.check.checkedSize(t.App))
	from, newest := max(0, old-recheck), max(old, t.Size-recheck)
	check := func(from, to int64) error {
		return n.check.report(ctx, t.App, checkRange(ctx, n.check.read, n.cfg.Events, t.App, from, to))
	}
	if newest <= old { // one range: the new leaves are the newest
		return check(from, t.Size)
	}
	if err := check(from, old); err != nil {
		return err
	}
	return check(newest, t.Size)
}

// sign signs app's tree at size, with its row locked.
func (n *Notary) sign(ctx context.Context, app string, size int64) (err error) {
	db := n.cfg.DB
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // after a Rollback, ErrTxDone
		}
	}()
	lock := `SELECT t.appspace_id, t.size, t.tampered FROM audit_trees t WHERE t.appspace_id = ?`
	if db.DriverName() == "postgres" {
		lock += ` FOR UPDATE`
	}
	var locked, t tree
	if err := tx.GetContext(ctx, &locked, tx.Rebind(lock), app); err != nil {
		return fmt.Errorf("lock tree %s: %w", app, err)
	}
	if err := tx.GetContext(ctx, &t, tx.Rebind(treesQuery+` WHERE t.appspace_id = ?`), app); err != nil {
		return fmt.Errorf("read tree %s: %w", app, err)
	}
	if t.Tampered.Valid || t.CPSize.Int64 >= size {
		return tx.Rollback() // tampered, or another replica signed it
	}
	hs := newTiles(ctx, tx, app)
	root, err := tlog.TreeHash(size, hs)
	if err != nil {
		return err
	}
	if t.CPSize.Valid {
		var prev tlog.Hash
		copy(prev[:], t.CPRoot)
		proof, err := tlog.ProveTree(size, t.CPSize.Int64, hs)
		if err == nil {
			err = tlog.CheckTree(proof, size, root, t.CPSize.Int64, prev)
		}
		if err != nil {
			_ = tx.Rollback() // SQLite has one writer: free it for the report
			return n.check.report(ctx, app, &Tampered{Appspace: app, LeafIndex: t.CPSize.Int64,
				What: fmt.Sprintf("the tree of size %d does not extend the checkpoint of size %d: %v", size, t.CPSize.Int64, err)})
		}
	}
	msg, err := n.cfg.Key.Sign(Origin(app), tlog.Tree{N: size, Hash: root})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO audit_checkpoints (appspace_id, tree_size, root_hash, note, created_at)
		VALUES (?, ?, ?, ?, ?)`), app, size, root[:], string(msg), n.cfg.Now().UnixMilli()); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return tx.Commit()
}
