package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Checker re-hashes whole sealed trees against the stored events (at
// serve's start-up and on `audit check`), and marks a tree that no longer
// matches them tampered, which stops its checkpoints.
type Checker struct {
	db     *sqlx.DB
	read   *sqlx.DB // the trees' reads: db, or a pool of readers of its file
	events domain.EventStore
	log    *slog.Logger
	now    func() time.Time
	// checked is each tree's size as CheckAll last found it untouched.
	mu      sync.Mutex
	checked map[string]int64
}

// NewChecker returns a checker of the trees in db (the read models'
// database) against events; logger (nil: none) receives an ERROR naming
// the first event that differs.
func NewChecker(db *sqlx.DB, events domain.EventStore, logger *slog.Logger) *Checker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Checker{db: db, read: db, events: events, log: logger, now: time.Now, checked: map[string]int64{}}
}

// Progress is told, after each chunk, how many leaves of all the trees a
// check has re-hashed so far (done) of how many (total).
type Progress func(done, total int64)

// CheckAll re-hashes every appspace's whole sealed tree from the events
// (see checkWhole) and marks those that differ tampered. Its error joins a
// *Tampered for each such tree, naming its first event that differs, and
// any other failure; progress (nil: none) follows it.
func (c *Checker) CheckAll(ctx context.Context, progress Progress) error {
	var trees []tree
	if err := c.db.SelectContext(ctx, &trees, `SELECT appspace_id, size FROM audit_trees ORDER BY appspace_id`); err != nil {
		return fmt.Errorf("read trees: %w", err)
	}
	var total, base int64
	for _, t := range trees {
		total += t.Size
	}
	if progress != nil {
		progress(0, total)
	}
	var errs []error
	for _, t := range trees {
		err := checkWhole(ctx, c.read, c.events, t.App, t.Size, func(n int64) {
			if progress != nil {
				progress(base+n, total)
			}
		})
		if err == nil {
			c.mu.Lock()
			c.checked[t.App] = t.Size
			c.mu.Unlock()
		}
		if err = c.report(ctx, t.App, err); err != nil {
			errs = append(errs, fmt.Errorf("appspace %s: %w", t.App, err))
		}
		base += t.Size
	}
	return errors.Join(errs...)
}

// checkedSize returns the size of app's tree that CheckAll last found
// untouched (0: never).
func (c *Checker) checkedSize(app string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked[app]
}

// OnlyTampered reports whether err (from CheckAll) holds differences
// found, and no other failure: the check itself went through.
func OnlyTampered(err error) bool {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return errors.As(err, new(*Tampered))
	}
	for _, e := range joined.Unwrap() {
		if !errors.As(e, new(*Tampered)) {
			return false
		}
	}
	return true
}

// report marks app's tree tampered if err says so, and logs it.
func (c *Checker) report(ctx context.Context, app string, err error) error {
	var t *Tampered
	if !errors.As(err, &t) {
		return err
	}
	c.log.ErrorContext(ctx, "audit: the stored events no longer hash to the sealed tree; checkpoints stop",
		"appspace", app, "leaf_index", t.LeafIndex, "event_id", t.EventID, "stream", t.Stream,
		"version", t.Version, "differs", t.What)
	if _, uErr := c.db.ExecContext(ctx, c.db.Rebind(`UPDATE audit_trees SET tampered = ?, tampered_at = ?
		WHERE appspace_id = ? AND tampered IS NULL`), t.Error(), c.now().UnixMilli(), app); uErr != nil {
		return errors.Join(err, uErr)
	}
	return err
}
