package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// maxBatch caps how many appends share one transaction.
const maxBatch = 64

// appendRequest is one AppendMulti waiting for the batcher.
type appendRequest struct {
	ctx     context.Context
	appends []domain.StreamAppend
	results []domain.AppendResult
	err     error
	done    chan struct{}
}

// batcher is the store's group commit. SQLite has one writer and, with
// synchronous=FULL, one fsync per transaction: appends that arrive while a
// transaction commits wait, then share the next transaction, each inside
// its own savepoint so that one append's conflict rolls back only that
// append. Every caller is answered after the commit that made its append
// durable.
func (s *Store) batcher() {
	defer close(s.batcherDone)
	for {
		var first *appendRequest
		select {
		case first = <-s.requests:
		case <-s.stop:
			return
		}
		batch := []*appendRequest{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-s.requests:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.commitBatch(batch)
		for _, r := range batch {
			close(r.done)
		}
		s.prepareWanted()
	}
}

// prepareWanted prepares on the writer pool the texts the last batch ran
// unprepared (storedSQL of a new event count), now that its transaction
// has ended; a failure only leaves them prepared per transaction.
func (s *Store) prepareWanted() {
	ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
	defer cancel()
	_ = s.writeStmts.PrepareWanted(ctx)
}

// Each request of a batch runs behind its own savepoint.
const (
	savepointSQL  = `SAVEPOINT append_request`
	rollbackToSQL = `ROLLBACK TO append_request`
	releaseSQL    = `RELEASE append_request`
)

// commitBatch writes a batch in one transaction and sets each request's
// results or error.
func (s *Store) commitBatch(batch []*appendRequest) {
	fail := func(err error) {
		for _, r := range batch {
			if r.err == nil {
				r.results, r.err = nil, err
			}
		}
	}
	// The batch outlives any one caller's context: a caller that gives up
	// is skipped below, but the others still commit.
	ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
	defer cancel()
	tx, err := s.write.BeginTxx(ctx, nil)
	if err != nil {
		fail(fmt.Errorf("append: begin: %w", err))
		return
	}
	// The timeout bounds BEGIN IMMEDIATE, the one step that waits for
	// another process's lock. Once the transaction holds the write lock its
	// statements wait for nothing, and a context that can end costs each
	// one a watcher goroutine in database/sql and in modernc.org/sqlite
	// (34 allocations and about 4% of a command's CPU in scripts/bench).
	ctx = context.WithoutCancel(ctx)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	wrote := false
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		if _, err := s.writeStmts.Exec(ctx, tx.Tx, savepointSQL); err != nil {
			r.err = fmt.Errorf("append: savepoint: %w", err)
			continue
		}
		results, w, err := s.appendParts(ctx, tx, r.appends, now)
		if err != nil {
			_, rbErr := s.writeStmts.Exec(ctx, tx.Tx, rollbackToSQL)
			r.err = errors.Join(err, rbErr)
		} else {
			r.results, wrote = results, wrote || w
		}
		if _, err := s.writeStmts.Exec(ctx, tx.Tx, releaseSQL); err != nil {
			fail(fmt.Errorf("append: release savepoint: %w", err))
			_ = tx.Rollback() // the batch failed; its error is reported
			return
		}
	}
	if err := tx.Commit(); err != nil {
		fail(fmt.Errorf("append: commit: %w", err))
		return
	}
	if wrote {
		s.wake.broadcast()
	}
}
