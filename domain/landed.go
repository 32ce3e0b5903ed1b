package domain

import (
	"context"
	"errors"
	"time"
)

// appender appends a command's decisions to their streams.
type appender struct{ store EventStore }

// appendAll appends to several streams: atomically where the store can,
// otherwise one stream after another in the order given. Callers order the
// appends so that a crash part way is repaired by the next command.
func (ap appender) appendAll(ctx context.Context, appends []StreamAppend) error {
	if len(appends) == 0 {
		return nil
	}
	if m, ok := ap.store.(MultiAppender); ok && len(appends) > 1 {
		_, err := m.AppendMulti(ctx, appends)
		return ap.unlessLanded(ctx, err, appends...)
	}
	for _, sa := range appends {
		_, err := ap.store.Append(ctx, sa.Stream, sa.Expected, sa.Events...)
		if err := ap.unlessLanded(ctx, err, sa); err != nil {
			return err
		}
	}
	return nil
}

// landedTimeout bounds the reads that look for an append's events.
const landedTimeout = 5 * time.Second

// unlessLanded returns err, the error of appending appends, or nil when
// those appends are in the store all the same. A store can commit an
// append and still report an error: the connection breaks after the
// commit, a timeout fires while the acknowledgement is on its way. The
// command then took effect, and answering an error would have the client
// retry a command that is done; so the appender looks for its own events,
// whose IDs it chose. When it cannot tell, it returns err.
func (ap appender) unlessLanded(ctx context.Context, err error, appends ...StreamAppend) error {
	if err == nil || errors.Is(err, ErrConcurrency) || errors.Is(err, context.Canceled) {
		return err // a conflict wrote nothing; a cancelled client is not waiting
	}
	var de *Error
	if errors.As(err, &de) {
		return err // a refusal the store decided on: nothing was written
	}
	// The request's deadline may be what broke the append: look anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), landedTimeout)
	defer cancel()
	for _, a := range appends {
		if !ap.landed(ctx, a) {
			return err
		}
	}
	return nil
}

// landed reports whether a's events are in its stream. An append is
// atomic, so its last event stands for all of them.
func (ap appender) landed(ctx context.Context, a StreamAppend) bool {
	if len(a.Events) == 0 {
		return true
	}
	last := a.Events[len(a.Events)-1].ID
	if last == "" {
		return false
	}
	rev, known := a.Expected.Revision()
	if !known { // Any: only the stream's end can be checked
		rec, err := ap.store.ReadLast(ctx, a.Stream)
		return err == nil && rec.ID == last
	}
	evs, err := ap.store.ReadStream(ctx, a.Stream, rev+Revision(len(a.Events)), 1)
	return err == nil && len(evs) == 1 && evs[0].ID == last
}
