package eventstoredb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/referral-ledger/referral-ledger/domain"
)

// defaultLimit is ReadAll's batch when the options set none.
const defaultLimit = 1000

// maxResumes bounds how often one ReadAll reads on after a lost connection.
const maxResumes = 3

// recorded turns the client's event into the port's. An imported event's
// recorded time and metadata come out of its envelope (import.go).
func recorded(e *esdb.RecordedEvent) domain.RecordedEvent {
	if at, meta, ok := unwrap(e.UserMetadata); ok {
		r := recordedAsIs(e)
		r.RecordedAt, r.Metadata = at, meta
		return r
	}
	return recordedAsIs(e)
}

// recordedAsIs is the client's event as the server holds it.
func recordedAsIs(e *esdb.RecordedEvent) domain.RecordedEvent {
	return domain.RecordedEvent{
		Position:   e.Position.Commit,
		Stream:     e.StreamID,
		Version:    e.EventNumber + 1,
		ID:         e.EventID.String(),
		Type:       e.EventType,
		Data:       e.Data,
		Metadata:   e.UserMetadata,
		RecordedAt: e.CreatedDate,
	}
}

// cursor is the $all position that a domain.Position names (see the
// package comment): the event's commit and prepare positions are equal.
func cursor(p domain.Position) esdb.Position {
	return esdb.Position{Commit: p, Prepare: p}
}

// ours reports whether e belongs to the global log that ReadAll returns:
// not the server's own, not of an explicit transaction, and in a stream
// starting with prefix.
func ours(e *esdb.RecordedEvent, prefix string) bool {
	return !strings.HasPrefix(e.StreamID, "$") && !strings.HasPrefix(e.EventType, "$") &&
		e.Position.Commit == e.Position.Prepare && strings.HasPrefix(e.StreamID, prefix)
}

// collect reads every event that rs yields, calling f on each until f
// returns false. A missing stream is io.EOF at once. It closes rs.
func collect(rs *esdb.ReadStream, f func(*esdb.RecordedEvent) bool) (n int, err error) {
	defer rs.Close()
	for {
		re, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		if !f(re.OriginalEvent()) {
			return n, nil
		}
	}
}

// unknownPosition is the position a server reports for an event whose $all
// position it does not know.
const unknownPosition = math.MaxUint64

// errNoStreamPositions: servers before EventStoreDB 22.10 do not report the
// $all position of events read from a stream, which the port requires.
var errNoStreamPositions = errors.New("the server reports no $all positions on stream reads: use EventStoreDB 22.10 or later, or KurrentDB")

// readStream reads a stream with the client; a stream that does not exist
// reads as empty.
func (s *Store) readStream(ctx context.Context, stream string, opts esdb.ReadStreamOptions, count uint64) ([]domain.RecordedEvent, error) {
	var out []domain.RecordedEvent
	var unknown bool
	rs, err := s.client.ReadStream(ctx, stream, opts, count)
	if err == nil {
		_, err = collect(rs, func(e *esdb.RecordedEvent) bool {
			unknown = e.Position.Commit == unknownPosition
			out = append(out, recorded(e))
			return !unknown
		})
	}
	if err == nil && unknown {
		err = errNoStreamPositions
	}
	if hasCode(err, esdb.ErrorCodeResourceNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	return out, nil
}

// ReadStream returns up to limit events of a stream with revision >= from,
// oldest first; limit <= 0 means no limit. A missing stream reads as empty.
func (s *Store) ReadStream(ctx context.Context, stream string, from domain.Revision, limit int) ([]domain.RecordedEvent, error) {
	count := uint64(math.MaxInt64)
	if limit > 0 {
		count = uint64(limit)
	}
	start := esdb.StreamPosition(esdb.Start{})
	if from > 1 {
		start = esdb.Revision(from - 1)
	}
	return s.readStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Forwards, From: start}, count)
}

// ReadLast returns a stream's last event, or domain.ErrStreamNotFound.
func (s *Store) ReadLast(ctx context.Context, stream string) (domain.RecordedEvent, error) {
	evs, err := s.readStream(ctx, stream, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if err != nil {
		return domain.RecordedEvent{}, err
	}
	if len(evs) == 0 {
		return domain.RecordedEvent{}, fmt.Errorf("read last of %s: %w", stream, domain.ErrStreamNotFound)
	}
	return evs[0], nil
}

// ReadAll returns up to opts.Limit events of the global log after
// opts.After, in $all's order (commit order: no reader skips an event).
// The server's own events are left out, and so are other streams than
// opts.StreamPrefix's; the filter runs here, on pages of $all, since the
// client cannot filter a read on the server. opts.After must name an
// event of $all. A page that breaks off (the connection was lost, the
// node went away) is read again from the last event received, a few
// times: the events already received are kept, none is returned twice.
func (s *Store) ReadAll(ctx context.Context, opts domain.ReadAllOptions) ([]domain.RecordedEvent, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	page := uint64(min(max(limit+1, 64), 4096))
	var out []domain.RecordedEvent
	var from esdb.AllPosition = esdb.Start{}
	var last *esdb.Position // the last position read, which the next page starts at
	if opts.After > 0 {
		p := cursor(opts.After)
		from, last = p, &p
	}
	first := opts.After > 0
	resumes := 0
	for {
		rs, err := s.client.ReadAll(ctx, esdb.ReadAllOptions{Direction: esdb.Forwards, From: from}, page)
		if err != nil && hasCode(err, esdb.ErrorUnavailable) && resumes < maxResumes && ctx.Err() == nil {
			resumes++
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read all after %d: %w", opts.After, err)
		}
		var bad error
		n, err := collect(rs, func(e *esdb.RecordedEvent) bool {
			pos := e.Position
			if first {
				// A read from a position starts at the event there.
				first = false
				if pos != cursor(opts.After) {
					bad = fmt.Errorf("read all: position %d names no event (the next is at %d/%d): %w", opts.After, pos.Commit, pos.Prepare, domain.ErrUnknownPosition)
					return false
				}
			}
			if last != nil && !after(pos, *last) {
				return true // the event the page starts at, already seen
			}
			last = &pos
			if ours(e, opts.StreamPrefix) {
				out = append(out, recorded(e))
			}
			return len(out) < limit
		})
		switch {
		case err != nil && hasCode(err, esdb.ErrorUnavailable) && resumes < maxResumes && ctx.Err() == nil:
			// Resume after the last event received: the page's events
			// before it are in out already.
			resumes++
			if last != nil {
				from = *last
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("read all after %d: %w", opts.After, err)
		case bad != nil:
			return nil, bad
		case first && opts.After > 0:
			return nil, fmt.Errorf("read all: position %d names no event: %w", opts.After, domain.ErrPastEnd)
		case len(out) >= limit || uint64(n) < page:
			return out, nil
		}
		from = *last
	}
}

// after reports whether a comes after b in $all.
func after(a, b esdb.Position) bool {
	return a.Commit > b.Commit || (a.Commit == b.Commit && a.Prepare > b.Prepare)
}
