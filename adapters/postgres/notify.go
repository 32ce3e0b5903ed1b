package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
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

// notifyEvery is the least time between two NOTIFYs of one store: appends
// that commit meanwhile share the next. A NOTIFY is a transaction with a
// commit record to flush (its queue entry carries its transaction ID),
// PostgreSQL commits NOTIFYing transactions one at a time, and each wakes
// every listening process's readers. Without a pause the notifier sent
// one per three or four appends under bench's command load. Other
// processes' readers see an append up to this much later; this process's
// are woken at once. A variable for the tests.
var notifyEvery = 5 * time.Millisecond

// notifier wakes the store's readers when events are appended: those of
// this process at once, those of other processes through LISTEN/NOTIFY on
// the schema's channel.
type notifier struct {
	db       *sqlx.DB
	channel  string // NOTIFY channel of this schema's event log
	listener *pq.Listener
	stop     chan struct{}
	poke     chan struct{} // an append committed: NOTIFY other processes
	self     string        // payload of this store's NOTIFYs, so its listener can skip them
	every    time.Duration // notifyEvery
	stopped  sync.WaitGroup
	counts   notifyCounts

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each notification
}

// listen returns a notifier on channel, its LISTEN connection open and its
// goroutines started: one turns notifications into broadcasts, one sends
// the NOTIFYs.
func listen(ctx context.Context, db *sqlx.DB, url, channel string) (*notifier, error) {
	n := &notifier{db: db, channel: channel, stop: make(chan struct{}), poke: make(chan struct{}, 1),
		self: domain.NewID(), every: notifyEvery, changed: make(chan struct{})}
	n.listener = pq.NewListener(url, 100*time.Millisecond, 10*time.Second, nil)
	listening := make(chan error, 1)
	go func() { listening <- n.listener.Listen(n.channel) }()
	select {
	case err := <-listening:
		if err != nil {
			return nil, errors.Join(fmt.Errorf("postgres: listen: %w", err), n.listener.Close())
		}
	case <-ctx.Done():
		return nil, errors.Join(fmt.Errorf("postgres: listen: %w", ctx.Err()), n.listener.Close())
	}
	n.stopped.Add(2)
	go n.dispatch()
	go n.notify()
	return n, nil
}

// close stops the goroutines and the LISTEN connection.
func (n *notifier) close() error {
	close(n.stop)
	err := n.listener.Close()
	n.stopped.Wait()
	return err
}

// dispatch turns notifications into broadcasts.
func (n *notifier) dispatch() {
	defer n.stopped.Done()
	ping := time.NewTicker(listenerPing)
	defer ping.Stop()
	for {
		select {
		case <-n.stop:
			return
		case m, ok := <-n.listener.Notify:
			if !ok {
				return
			}
			// This store's own appends woke its readers when they
			// committed. A nil notification means the listener reconnected
			// and may have missed some: wake the waiters.
			if m != nil && m.Extra == n.self {
				n.counts.own.Add(1)
				continue
			}
			n.counts.others.Add(1)
			n.broadcast()
		case <-ping.C:
			// An error makes the listener reconnect; the poll covers the gap.
			_ = n.listener.Ping()
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
func (n *notifier) appended() {
	n.broadcast()
	select {
	case n.poke <- struct{}{}:
	default: // a notification is already due
	}
}

// notify sends one NOTIFY per batch of appends, at most one every
// notifyEvery.
func (n *notifier) notify() {
	defer n.stopped.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.poke:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// A lost notification only delays other processes' readers until
		// their next poll.
		_, _ = n.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, n.channel, n.self)
		cancel()
		n.counts.sent.Add(1)
		pause := time.NewTimer(n.every)
		select {
		case <-n.stop:
			pause.Stop()
			return
		case <-pause.C:
		}
	}
}

// notifyCounts counts a notifier's NOTIFYs: sent, and received from this
// store and from others.
type notifyCounts struct{ sent, own, others atomic.Int64 }

// broadcast wakes every WaitForEvents of this store.
func (n *notifier) broadcast() {
	n.mu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

// subscribe returns a channel that the next broadcast closes.
func (n *notifier) subscribe() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}

// lateRecheck is how long WaitForEvents waits before it looks again after
// a wake-up that found nothing, doubling each time up to pollInterval: the
// appended event may be hidden behind an older transaction (of any
// database of the cluster), whose end notifies nobody. At most seven extra
// reads per notification.
const lateRecheck = 10 * time.Millisecond

// WaitForEvents blocks until ReadAll with opts would return an event, or
// ctx ends. Appends in any process notify the store's channel; a poll every
// second covers events that became readable without a notification (an
// older transaction ended) and notifications lost to a reconnect. After a
// notification whose event is not readable yet, it looks again after
// lateRecheck, twice that, and so on, so an event held back by a short
// transaction waits for about as long as that transaction, not for the
// poll.
func (s *Store) WaitForEvents(ctx context.Context, opts domain.ReadAllOptions) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var recheck <-chan time.Time // set while a notified event may be hidden
	delay := lateRecheck
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		changed := s.notify.subscribe() // before looking, so no notification is missed in between
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
			delay = lateRecheck
			recheck = time.After(delay)
		case <-recheck:
			if delay *= 2; delay < pollInterval {
				recheck = time.After(delay)
			} else {
				recheck = nil
			}
		case <-tick.C:
		}
	}
}
