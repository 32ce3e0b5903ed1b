package eventstoredb

import (
	"context"
	"fmt"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/referral-ledger/referral-ledger/domain"
)

// Resubscription backoff after a dropped subscription.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// subscribeOptions returns the catch-up subscription that WaitForEvents
// holds: from opts.After, filtered on the server to opts.StreamPrefix's
// streams, or to events that are not the server's own.
func subscribeOptions(opts domain.ReadAllOptions) esdb.SubscribeToAllOptions {
	so := esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()}
	if opts.After > 0 {
		so.From = cursor(opts.After)
	}
	if opts.StreamPrefix != "" {
		so.Filter = &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{opts.StreamPrefix}}
	}
	return so
}

// WaitForEvents blocks until the global log holds an event after
// opts.After of a stream starting with opts.StreamPrefix, or ctx ends. It
// holds a catch-up subscription to $all from opts.After: the server sends
// what is already there, then what is appended. A subscription that drops
// (the connection broke, the server restarted) is made again from the same
// position after a pause; a refusal that no retry mends (access denied, an
// unsupported server) is returned.
func (s *Store) WaitForEvents(ctx context.Context, opts domain.ReadAllOptions) error {
	backoff := minBackoff
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.waitOnce(ctx, opts)
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		if permanent(err) {
			return fmt.Errorf("wait for events after %d: %w", opts.After, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// waitOnce subscribes once and returns nil when a matching event arrives,
// or the error that ended the subscription.
func (s *Store) waitOnce(ctx context.Context, opts domain.ReadAllOptions) error {
	sub, err := s.client.SubscribeToAll(ctx, subscribeOptions(opts))
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		ev := sub.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			return fmt.Errorf("subscription dropped: %w", ev.SubscriptionDropped.Error)
		case ev.EventAppeared != nil:
			e := ev.EventAppeared.OriginalEvent()
			// A subscription from a position may start at the event there.
			if ours(e, opts.StreamPrefix) && (opts.After == 0 || after(e.Position, cursor(opts.After))) {
				return nil
			}
		}
		// Checkpoints, caught-up and fell-behind notices: keep waiting.
	}
}

// permanent reports failures that resubscribing will not mend.
func permanent(err error) bool {
	for _, c := range []esdb.ErrorCode{esdb.ErrorCodeAccessDenied, esdb.ErrorCodeUnauthenticated, esdb.ErrorCodeUnsupportedFeature} {
		if hasCode(err, c) {
			return true
		}
	}
	return false
}
