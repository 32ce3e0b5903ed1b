package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/referral-ledger/referral-ledger/domain"
)

// HoldAppend appends in a transaction and returns before committing it, so
// the conformance suite can commit writers out of order. It does not look
// for retries.
func (s *Store) HoldAppend(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (commit func() error, err error) {
	a := domain.StreamAppend{Stream: stream, Expected: expected, Events: events}
	if err := domain.ValidateAppends([]domain.StreamAppend{a}); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("hold append: begin: %w", err)
	}
	_, c, err := appendParts(ctx, tx, []domain.StreamAppend{a})
	if err == nil && c != nil {
		err = c.err
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("hold append %s: %w", stream, err), ignoreDone(tx.Rollback()))
	}
	return func() error {
		if err := tx.Commit(); err != nil {
			return err
		}
		s.notify.appended()
		return nil
	}, nil
}

// SetNotifyEvery sets the pause between NOTIFYs of the stores opened
// after it, until the test ends. Not for a parallel test: it sets a
// package variable that Open reads (the package's parallel tests run
// after every sequential one has ended).
func SetNotifyEvery(tb testing.TB, d time.Duration) {
	old := notifyEvery
	notifyEvery = d
	tb.Cleanup(func() { notifyEvery = old })
}

// NotifyCounts returns the NOTIFYs the store has sent, and those its
// listener received from itself and from other stores.
func (s *Store) NotifyCounts() (sent, own, others int64) {
	c := &s.notify.counts
	return c.sent.Load(), c.own.Load(), c.others.Load()
}
