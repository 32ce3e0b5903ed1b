package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/referral-ledger/referral-ledger/domain"
)

// pollInterval is how often WaitForEvents looks again without a
// notification: a notified event may still be hidden behind an older
// transaction that is running (anywhere in the cluster), and a notification
// is lost while the listener reconnects.
const pollInterval = time.Second

// listenerPing is how often the listener's connection is checked.
const listenerPing = time.Minute

// listen starts the LISTEN connection and the goroutine that turns its
// notifications into broadcasts.
func (s *Store) listen(ctx context.Context, url string) error {
	s.listener = pq.NewListener(url, 100*time.Millisecond, 10*time.Second, nil)
	listening := make(chan error, 1)
	go func() { listening <- s.listener.Listen(s.channel) }()
	select {
	case err := <-listening:
		if err != nil {
			return errors.Join(fmt.Errorf("postgres: listen: %w", err), s.listener.Close())
		}
	case <-ctx.Done():
		return errors.Join(fmt.Errorf("postgres: listen: %w", ctx.Err()), s.listener.Close())
	}
	s.stopped.Add(2)
	go s.dispatch()
	go s.notifier()
	return nil
}

func (s *Store) dispatch() {
	defer s.stopped.Done()
	ping := time.NewTicker(listenerPing)
	defer ping.Stop()
	for {
		select {
		case <-s.stop:
			return
		case _, ok := <-s.listener.Notify:
			if !ok {
				return
			}
			// A nil notification means the listener reconnected and may
			// have missed some: wake the waiters either way.
			s.broadcast()
		case <-ping.C:
			// An error makes the listener reconnect; the poll covers the gap.
			_ = s.listener.Ping()
		}
	}
}

// appended is called after an append commits. It wakes this process's
// readers at once and asks the notifier to tell other processes.
//
// NOTIFY is sent after the commit, by one goroutine that merges the
// requests that arrive while it is busy, and not inside the append's
// transaction: PostgreSQL serialises the commits of transactions that
// NOTIFY, which would cost the appends their group commit (about half their
// throughput at 16 writers). A crash between commit and NOTIFY delays other
// processes' readers by at most the poll interval.
func (s *Store) appended() {
	s.broadcast()
	select {
	case s.poke <- struct{}{}:
	default: // a notification is already due
	}
}

// notifier sends one NOTIFY per batch of appends.
func (s *Store) notifier() {
	defer s.stopped.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.poke:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// A lost notification only delays other processes' readers
			// until their next poll.
			_, _ = s.db.ExecContext(ctx, `SELECT pg_notify($1, '')`, s.channel)
			cancel()
		}
	}
}

// broadcast wakes every WaitForEvents of this store.
func (s *Store) broadcast() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// subscribe returns a channel that the next broadcast closes.
func (s *Store) subscribe() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitForEvents blocks until ReadAll with opts would return an event, or
// ctx ends. Appends in any process notify the store's channel; a poll every
// second covers events that became readable without a notification (an
// older transaction ended) and notifications lost to a reconnect.
func (s *Store) WaitForEvents(ctx context.Context, opts domain.ReadAllOptions) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		changed := s.subscribe() // before looking, so no notification is missed in between
		evs, err := s.ReadAll(ctx, domain.ReadAllOptions{After: opts.After, StreamPrefix: opts.StreamPrefix, Limit: 1})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return fmt.Errorf("wait for events: %w", err)
		case len(evs) > 0:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick.C:
		}
	}
}
